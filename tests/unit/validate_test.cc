// The wire-level contact check (the raw DecideBatch path) against the message-based one (Decide,
// DecideStream): they must report the same problem for every contact, whatever its bytes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "lawful/synth.h"
#include "validate.h"

namespace lawful::server {
namespace {

using ::testing::Optional;

absl::Time At() { return absl::FromUnixSeconds(1788211800); }  // 2026-08-31T21:30:00Z

// Both checks on `bytes`; the parse must succeed for the comparison to mean anything.
void ExpectAgree(const std::string& bytes) {
  lawful::v1::Contact parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  const std::optional<ContactProblem> expected = ValidateContact(parsed);
  std::string_view id;
  std::optional<ContactProblem> problem;
  ASSERT_TRUE(ValidateContactBytes(bytes, &id, &problem));
  EXPECT_EQ(id, parsed.id());
  ASSERT_EQ(problem.has_value(), expected.has_value()) << parsed.ShortDebugString();
  if (expected.has_value()) {
    EXPECT_EQ(problem->field_path, expected->field_path);
    EXPECT_EQ(problem->message, expected->message);
  }
}

std::optional<std::string> PathOf(const std::string& bytes) {
  std::string_view id;
  std::optional<ContactProblem> problem;
  if (!ValidateContactBytes(bytes, &id, &problem) || !problem.has_value()) return std::nullopt;
  return problem->field_path;
}

// A field's tag byte for small field numbers.
char Tag(int number, int wire_type) { return static_cast<char>(number << 3 | wire_type); }

TEST(ValidateContactBytesTest, AgreesOnGeneratedContacts) {
  for (const lawful::v1::Contact& contact : synth::Generate(7, 2000, At())) {
    ExpectAgree(contact.SerializeAsString());
  }
}

TEST(ValidateContactBytesTest, AgreesOnGeneratedContactsWithRequiredFieldsRemoved) {
  uint64_t state = 12345;
  auto random = [&state] {  // splitmix64: the same cases on every machine
    uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  };
  int with_problem = 0;
  for (lawful::v1::Contact& contact : synth::Generate(8, 2000, At())) {
    for (lawful::v1::Consent& consent : *contact.mutable_consents()) {
      switch (random() % 8) {
        case 0:
          consent.clear_purpose();
          break;
        case 1:
          consent.clear_channel();
          break;
        case 2:
          consent.clear_granted_at();
          break;
        default:
          break;
      }
    }
    for (lawful::v1::Objection& objection : *contact.mutable_objections()) {
      switch (random() % 6) {
        case 0:
          objection.clear_scope();
          break;
        case 1:
          objection.clear_lodged_at();
          break;
        default:
          break;
      }
    }
    with_problem += ValidateContact(contact).has_value() ? 1 : 0;
    ExpectAgree(contact.SerializeAsString());
  }
  EXPECT_GT(with_problem, 100);  // the comparison covered plenty of invalid contacts
}

TEST(ValidateContactBytesTest, ReportsConsentsBeforeObjectionsWhateverTheWireOrder) {
  // Concatenated messages merge: the objection comes first on the wire, the consent second.
  lawful::v1::Contact objection_part;
  objection_part.add_objections();  // no scope
  lawful::v1::Contact consent_part;
  consent_part.add_consents()->set_purpose("newsletter");  // no channel
  const std::string bytes = objection_part.SerializeAsString() + consent_part.SerializeAsString();
  EXPECT_THAT(PathOf(bytes), Optional(std::string("consents[0].channel")));
  ExpectAgree(bytes);
}

TEST(ValidateContactBytesTest, LastOccurrenceOfAScalarWins) {
  lawful::v1::Contact contact;
  lawful::v1::Consent* consent = contact.add_consents();
  consent->set_purpose("newsletter");
  consent->set_channel(lawful::v1::CHANNEL_EMAIL);
  consent->mutable_granted_at()->set_seconds(1);
  std::string body = consent->SerializeAsString();
  body += std::string{Tag(2, 2), '\0'};  // purpose = "" again, after the real one
  body += std::string{Tag(3, 0), '\0'};  // channel = UNSPECIFIED again
  const std::string bytes = std::string{Tag(8, 2), static_cast<char>(body.size())} + body +
                            std::string{Tag(1, 2), 1, 'x'} + std::string{Tag(1, 2), 1, 'y'};
  EXPECT_THAT(PathOf(bytes), Optional(std::string("consents[0].purpose")));
  ExpectAgree(bytes);
}

TEST(ValidateContactBytesTest, AFieldWithAnUnexpectedWireTypeIsUnknown) {
  // channel sent as fixed32: a parse keeps it as an unknown field, so the channel is unset.
  std::string body = {Tag(2, 2), 1, 'n', Tag(3, 5), 1, 0, 0, 0, Tag(4, 2), 0};
  const std::string bytes = std::string{Tag(8, 2), static_cast<char>(body.size())} + body;
  EXPECT_THAT(PathOf(bytes), Optional(std::string("consents[0].channel")));
  ExpectAgree(bytes);
}

TEST(ValidateContactBytesTest, SecondRecordIsNamedByItsIndex) {
  lawful::v1::Contact contact;
  for (int i = 0; i < 3; ++i) {
    lawful::v1::Objection* objection = contact.add_objections();
    objection->set_scope(lawful::v1::OBJECTION_SCOPE_DIRECT_MARKETING);
    if (i != 1) objection->mutable_lodged_at()->set_seconds(1);
  }
  EXPECT_THAT(PathOf(contact.SerializeAsString()),
              Optional(std::string("objections[1].lodged_at")));
  ExpectAgree(contact.SerializeAsString());
}

TEST(ValidateContactBytesTest, RejectsMalformedBytes) {
  lawful::v1::Contact contact = synth::Generate(9, 1, At())[0];
  const std::string bytes = contact.SerializeAsString();
  std::string_view id;
  std::optional<ContactProblem> problem;
  EXPECT_FALSE(ValidateContactBytes(bytes.substr(0, bytes.size() - 1), &id, &problem));
  EXPECT_FALSE(ValidateContactBytes(std::string{Tag(8, 2), 5, Tag(2, 2)}, &id, &problem));
  EXPECT_FALSE(ValidateContactBytes(std::string{Tag(20, 7)}, &id, &problem));  // wire type 7
  EXPECT_FALSE(ValidateContactBytes(std::string{Tag(5, 4)}, &id, &problem));   // stray end-group
  // A consent whose body is itself truncated.
  EXPECT_FALSE(ValidateContactBytes(std::string{Tag(8, 2), 2, Tag(2, 2), 3}, &id, &problem));
  EXPECT_TRUE(ValidateContactBytes("", &id, &problem));
  EXPECT_FALSE(problem.has_value());
}

// The ids a decision echoes must be UTF-8: the raw path checks what a protobuf parse would.
TEST(ValidateContactBytesTest, IdsThatAreNotUtf8AreProblems) {
  struct Case {
    std::string id;
    bool valid;
  };
  const Case cases[] = {
      {"kund-\xc3\xa5\xc3\xa4\xc3\xb6", true},  // kund-åäö
      {"\xf0\x9f\x98\x80", true},              // an emoji, four bytes
      {"\xff", false},                            // not a UTF-8 byte
      {"\xc0\xaf", false},                        // overlong '/'
      {"\xed\xa0\x80", false},                    // a surrogate
      {"\xe2\x82", false},                        // truncated sequence
      {"\xf4\x90\x80\x80", false},                // above U+10FFFF
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::CEscape(c.id));
    lawful::v1::Contact contact;
    contact.set_id(c.id);
    // `id` is a view into the bytes, which must outlive it.
    const std::string bytes = contact.SerializeAsString();
    std::string_view id;
    std::optional<ContactProblem> problem;
    ASSERT_TRUE(ValidateContactBytes(bytes, &id, &problem));
    EXPECT_EQ(problem.has_value(), !c.valid);
    if (c.valid) {
      EXPECT_EQ(id, c.id);
    } else {
      EXPECT_EQ(problem->field_path, "id");
      EXPECT_TRUE(id.empty()) << "an invalid id is not echoed";
    }

    lawful::v1::Contact with_consent;
    auto* consent = with_consent.add_consents();
    consent->set_id(c.id);
    consent->set_purpose("newsletter");
    consent->set_channel(lawful::v1::CHANNEL_EMAIL);
    consent->mutable_granted_at()->set_seconds(1);
    const std::string consent_bytes = with_consent.SerializeAsString();
    ASSERT_TRUE(ValidateContactBytes(consent_bytes, &id, &problem));
    EXPECT_EQ(problem.has_value(), !c.valid);
    if (!c.valid) {
      EXPECT_EQ(problem->field_path, "consents[0].id");
    }
  }
}

}  // namespace
}  // namespace lawful::server
