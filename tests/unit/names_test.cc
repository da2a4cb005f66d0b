// The short names of the API's enum values come from the proto's descriptors: every value is
// named, and the names read back.
#include "lawful/v1/names.h"
#include "gtest/gtest.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::v1 {
namespace {

TEST(EnumNames, AreTheValueNamesWithoutTheirTypesPrefixInLowerCase) {
  struct Row {
    std::string_view name;
    std::string_view expected;
  };
  const Row rows[] = {
      {ShortName(CHANNEL_EMAIL), "email"},
      {ShortName(CHANNEL_PHONE), "phone"},
      {ShortName(OUTCOME_ALLOW), "allow"},
      {ShortName(OUTCOME_ERROR), "error"},
      {ShortName(NOTICE_TYPE_LEGAL_OBLIGATION), "legal_obligation"},
      {ShortName(CONSENT_SOURCE_WEB_FORM), "web_form"},
      {ShortName(SUPPRESSION_SPAR_DIRECT_MARKETING), "spar_direct_marketing"},
      {ShortName(OBJECTION_SCOPE_DIRECT_MARKETING), "direct_marketing"},
      {ShortName(static_cast<Channel>(77)), ""},
  };
  for (const Row& row : rows) EXPECT_EQ(row.name, row.expected);
}

TEST(EnumNames, ReadBackEveryDeclaredValue) {
  for (const google::protobuf::EnumDescriptor* type :
       {Channel_descriptor(), Outcome_descriptor(), NoticeType_descriptor(),
        ConsentSource_descriptor(), Suppression_descriptor(), ObjectionScope_descriptor()}) {
    for (int i = 0; i < type->value_count(); ++i) {
      const int number = type->value(i)->number();
      EXPECT_EQ(FromShortName(type, ShortName(type, number)), number) << type->full_name();
    }
    EXPECT_EQ(FromShortName(type, "no_such_value"), std::nullopt);
  }
  EXPECT_EQ(ShortNames(Channel_descriptor()),
            (std::vector<std::string_view>{"email", "sms", "post", "phone"}));
}

}  // namespace
}  // namespace lawful::v1
