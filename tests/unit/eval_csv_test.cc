// `lawful eval`'s CSV input against its JSON: records split as RFC 4180 says, header and cell
// errors name their column, and each row gives the same contact as the JSON line of that contact.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "decision_lines.h"
#include "decision_output.h"
#include "eval_io_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful::cli {
namespace {

namespace pb = google::protobuf;
using ::testing::HasSubstr;

TEST(CsvTest, SplitsRecordsAsRfc4180Says) {
  std::vector<std::string_view> cells;
  std::string scratch, error;
  ASSERT_TRUE(SplitCsvRecord(R"(a,"b,c","say ""hi""",,"multi
line")",
                             ',', &cells, &scratch, &error));
  EXPECT_THAT(cells, ::testing::ElementsAre("a", "b,c", "say \"hi\"", "", "multi\nline"));
  ASSERT_TRUE(SplitCsvRecord("x;y;", ';', &cells, &scratch, &error));
  EXPECT_THAT(cells, ::testing::ElementsAre("x", "y", ""));
  ASSERT_TRUE(SplitCsvRecord("", ',', &cells, &scratch, &error));
  EXPECT_THAT(cells, ::testing::ElementsAre(""));
  EXPECT_FALSE(SplitCsvRecord(R"(a,"open)", ',', &cells, &scratch, &error));
  EXPECT_THAT(error, HasSubstr("not closed"));
  EXPECT_FALSE(SplitCsvRecord(R"("a"b,c)", ',', &cells, &scratch, &error));
  EXPECT_EQ(DetectCsvDelimiter("id;email;\"a,b\""), ';');
  EXPECT_EQ(DetectCsvDelimiter("\"x;y\",email"), ',');
  EXPECT_EQ(DetectCsvDelimiter("id\temail"), '\t');
  EXPECT_EQ(DetectCsvDelimiter("id"), ',');
}

absl::StatusOr<std::shared_ptr<const CsvContactMapping>> Mapping(
    const std::vector<std::string>& header, const std::vector<std::string>& ignored = {}) {
  return CsvContactMapping::Create(header, ignored, v1::Contact::descriptor());
}

TEST(CsvTest, HeaderErrorsNameTheColumn) {
  EXPECT_TRUE(Mapping({"id", "email", "consents.0.purpose", "consents.2.granted_at",
                       "relationship.is_customer", "lastActivityAt", "", "suppressions"})
                  .ok());
  const struct {
    std::vector<std::string> header;
    const char* error;
  } cases[] = {
      {{"id", "first_name"}, "column 2 `first_name`: lawful.v1.Contact has no field `first_name`"},
      {{"id", "id"}, "column 2 `id`: given twice (also column 1)"},
      {{"consents.0.purpse"}, "lawful.v1.Consent has no field `purpse`"},
      {{"consents.purpose"}, "`consents` holds records"},
      {{"consents.0"}, "`consents` holds records"},
      {{"consents", "consents.0.purpose"}, "is also given whole, by column `consents`"},
      {{"consents.0.purpose", "consents"}, "`consents` is also given by other columns"},
      {{"email.domain"}, "`email` has no fields"},
      {{"birthDate", "birth_date"}, "`birth_date` is also given by other columns"},
  };
  for (const auto& c : cases) {
    const auto mapping = Mapping(c.header);
    ASSERT_FALSE(mapping.ok()) << absl::StrJoin(c.header, ",");
    EXPECT_THAT(std::string(mapping.status().message()), HasSubstr(c.error));
  }
  EXPECT_TRUE(Mapping({"id", "first_name", "last_name"}, {"first_name", "last_name"}).ok());
}

// The same contact, as a CSV row: scalar columns, indexed records, `|` lists.
class CsvContacts {
 public:
  explicit CsvContacts(const std::vector<v1::Contact>& contacts) {
    for (const v1::Contact& c : contacts) {
      consents_ = std::max(consents_, c.consents_size());
      objections_ = std::max(objections_, c.objections_size());
    }
    header_ = {"id",
               "birth_date",
               "country",
               "email",
               "phone",
               "postal_address",
               "postal_address_verified_at",
               "erasure_requested_at",
               "last_activity_at",
               "relationship.is_customer",
               "relationship.customer_since",
               "relationship.last_purchase_at",
               "relationship.opted_out_channels",
               "relationship.soft_opt_in_notice_given",
               "suppressions",
               "collection_purposes"};
    for (int i = 0; i < consents_; ++i) {
      for (const char* f : {"id", "purpose", "channel", "granted_at", "withdrawn_at", "source"}) {
        header_.push_back(absl::StrCat("consents.", i, ".", f));
      }
    }
    for (int i = 0; i < objections_; ++i) {
      for (const char* f : {"id", "scope", "lodged_at", "withdrawn_at", "lodged_via"}) {
        header_.push_back(absl::StrCat("objections.", i, ".", f));
      }
    }
  }
  const std::vector<std::string>& header() const { return header_; }

  std::string Row(const v1::Contact& c) const {
    std::vector<std::string> cells;
    auto time = [](bool has, const pb::Timestamp& t) {
      return has ? pb::util::TimeUtil::ToString(t) : std::string();
    };
    cells = {c.id(),
             c.birth_date(),
             c.country(),
             c.email(),
             c.phone(),
             c.postal_address(),
             time(c.has_postal_address_verified_at(), c.postal_address_verified_at()),
             time(c.has_erasure_requested_at(), c.erasure_requested_at()),
             time(c.has_last_activity_at(), c.last_activity_at())};
    if (c.has_relationship()) {
      const v1::Relationship& r = c.relationship();
      std::vector<std::string> channels;
      for (const int ch : r.opted_out_channels()) {
        // Short names, in several cases, as a CRM might export them.
        std::string name = v1::Channel_Name(static_cast<v1::Channel>(ch)).substr(8);
        if (channels.size() % 2 == 0) name = absl::AsciiStrToLower(name);
        channels.push_back(name);
      }
      cells.insert(
          cells.end(),
          {r.is_customer() ? "yes" : "false", time(r.has_customer_since(), r.customer_since()),
           time(r.has_last_purchase_at(), r.last_purchase_at()), absl::StrJoin(channels, "|"),
           r.soft_opt_in_notice_given() ? "TRUE" : "0"});
    } else {
      cells.insert(cells.end(), 5, "");
    }
    std::vector<std::string> suppressions;
    for (const int s : c.suppressions()) {
      suppressions.push_back(v1::Suppression_Name(static_cast<v1::Suppression>(s)));
    }
    cells.push_back(absl::StrJoin(suppressions, " | "));
    cells.push_back(absl::StrJoin(c.collection_purposes(), "|"));
    for (int i = 0; i < consents_; ++i) {
      if (i >= c.consents_size()) {
        cells.insert(cells.end(), 6, "");
        continue;
      }
      const v1::Consent& k = c.consents(i);
      cells.insert(
          cells.end(),
          {k.id(), k.purpose(), k.channel() == 0 ? "" : v1::Channel_Name(k.channel()),
           time(k.has_granted_at(), k.granted_at()), time(k.has_withdrawn_at(), k.withdrawn_at()),
           k.source() == 0 ? "" : absl::StrCat(static_cast<int>(k.source()))});
    }
    for (int i = 0; i < objections_; ++i) {
      if (i >= c.objections_size()) {
        cells.insert(cells.end(), 5, "");
        continue;
      }
      const v1::Objection& o = c.objections(i);
      cells.insert(cells.end(), {o.id(), o.scope() == 0 ? "" : v1::ObjectionScope_Name(o.scope()),
                                 time(o.has_lodged_at(), o.lodged_at()),
                                 time(o.has_withdrawn_at(), o.withdrawn_at()), o.lodged_via()});
    }
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) row.push_back(',');
      AppendCsvCell(cells[i], &row);
    }
    return row;
  }

 private:
  int consents_ = 0;
  int objections_ = 0;
  std::vector<std::string> header_;
};

TEST(CsvTest, RowsGiveTheSameContactsAsTheirJsonLines) {
  const std::vector<v1::Contact> contacts = Contacts(3000);
  const CsvContacts csv(contacts);
  const auto mapping = Mapping(csv.header());
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  CsvRowConverter converter(*mapping, ',');
  JsonTranscoder transcoder(v1::Contact::descriptor());
  FieldError error;
  std::string json;
  for (const v1::Contact& contact : contacts) {
    const std::string row = csv.Row(contact);
    ASSERT_TRUE(converter.ToJson(row, &json, &error)) << row << "\n"
                                                      << error.column << ": " << error.message;
    const Transcoded ours = Transcode(transcoder, json);
    ASSERT_TRUE(ours.ok) << json << "\n" << ours.error.path << ": " << ours.error.message;
    ASSERT_EQ(ours.bytes, contact.SerializeAsString()) << row << "\n" << json;
  }
}

TEST(CsvTest, CellErrorsNameTheColumnAndTheField) {
  const auto mapping =
      Mapping({"id", "consents.0.purpose", "consents.3.granted_at", "consents.3.channel",
               "relationship.is_customer", "suppressions", "objections", "first_name"},
              {"first_name"});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  CsvRowConverter converter(*mapping, ',');
  JsonTranscoder transcoder(v1::Contact::descriptor());
  struct Case {
    const char* row;
    const char* column;
    const char* path;
    const char* message;
  };
  const Case cases[] = {
      // The first record is empty, so consents.3 is consents[0] in the contact.
      {"c-1,,yesterday,email,,,,Ada", "consents.3.granted_at", "consents[0].granted_at",
       "not an RFC 3339 timestamp such as 2026-03-02T09:00:00Z"},
      {"c-1,newsletter,yesterday,email,,,,Ada", "consents.3.granted_at", "consents[1].granted_at",
       "not an RFC 3339 timestamp"},
      {"c-1,,,fax,,,,Ada", "consents.3.channel", "",
       "`fax` is not a lawful.v1.Channel: expected email, sms, post or phone"},
      {"c-1,,,,maybe,,,Ada", "relationship.is_customer", "", "`maybe` is not a boolean"},
      {"c-1,,,,,nix_phone|bogus,,Ada", "suppressions", "",
       "`bogus` is not a lawful.v1.Suppression"},
      {R"(c-1,,,,,,"[{""scope"":""OBJECTION_SCOPE_PROFILING"",""lodgedAt"":""x""}]",Ada)",
       "objections", "objections[0].lodged_at", "not an RFC 3339 timestamp"},
      {R"(c-1,,,,,,"[], ""erasureRequestedAt"": ""2020-01-01T00:00:00Z""",Ada)", "objections", "",
       "not valid JSON"},
      {R"(c-1,,,,,,"{}",Ada)", "objections", "", "expected a JSON array"},
      {"c-1,,,,,,", "", "", "7 cells, but the header has 8 columns"},
      {"c-\xE9,,,,,,,Ada", "id", "", "not UTF-8 text"},
  };
  for (const Case& c : cases) {
    FieldError error;
    std::string json;
    bool ok = converter.ToJson(c.row, &json, &error);
    if (ok) {
      const Transcoded ours = Transcode(transcoder, json);
      ok = ours.ok;
      error = ours.error;
      converter.NameColumn(&error);
    }
    ASSERT_FALSE(ok) << c.row << " -> " << json;
    EXPECT_EQ(error.column, c.column) << c.row;
    EXPECT_EQ(error.path, c.path) << c.row;
    EXPECT_THAT(error.message, HasSubstr(c.message)) << c.row;
  }

  // Short and full enum names, numbers, yes/no, `|` lists and a JSON cell all read.
  FieldError error;
  std::string json;
  ASSERT_TRUE(converter.ToJson(
      R"(c-2,survey,2025-01-01T00:00:00Z,SMS,Yes,INTERNAL| nix_phone |3,"[{""scope"":""OBJECTION_SCOPE_PROFILING""}]",Ada)",
      &json, &error))
      << error.message;
  const Transcoded ours = Transcode(transcoder, json);
  ASSERT_TRUE(ours.ok) << json;
  v1::Contact contact;
  ASSERT_TRUE(contact.ParseFromString(ours.bytes));
  EXPECT_EQ(contact.ShortDebugString(),
            "id: \"c-2\" consents { purpose: \"survey\" } consents { channel: CHANNEL_SMS "
            "granted_at { seconds: 1735689600 } } objections { scope: "
            "OBJECTION_SCOPE_PROFILING } suppressions: SUPPRESSION_INTERNAL suppressions: "
            "SUPPRESSION_NIX_PHONE suppressions: SUPPRESSION_NIX_ADDRESSED relationship { "
            "is_customer: true }");
}

}  // namespace
}  // namespace lawful::cli
