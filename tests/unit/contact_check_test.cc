// Fail closed, as one rule on every path: each row is a contact a caller might send (built on the
// wire, where the malformations live) and the answer it must get, for a newsletter by e-mail
// under the shipped rules. Every row is answered alike by deciding the contact alone (Decide,
// `lawful eval`), by the batch loop (DecideBatch, DecideStream) and by Explain.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"

namespace lawful::decide {
namespace {

// --- The wire format, written by hand: the point is bytes protobuf would never write. ----------

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Tag(uint32_t number, uint32_t type) { return Varint(uint64_t{number} << 3 | type); }
std::string Int(uint32_t number, uint64_t v) { return Tag(number, 0) + Varint(v); }
std::string Len(uint32_t number, const std::string& body) {
  return Tag(number, 2) + Varint(body.size()) + body;
}
std::string Ts(int64_t seconds, int32_t nanos = 0) {
  return Int(1, static_cast<uint64_t>(seconds)) +
         (nanos != 0 ? Int(2, static_cast<uint64_t>(static_cast<int64_t>(nanos))) : "");
}

constexpr int64_t k2025 = 1735689600;         // 2025-01-01T00:00:00Z
constexpr int64_t k2026Feb = 1769904000;      // 2026-02-01T00:00:00Z
constexpr int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z
constexpr int64_t kYearMinus1 = -62135596801;

// The consent of rules/fixtures/bases.yaml's first case, with `extra` fields after its own.
std::string Consent(const std::string& extra = "") {
  return Len(1, "k1") + Len(2, "newsletter") + Int(3, 1) + Len(4, Ts(k2025)) + Int(6, 1) + extra;
}
// A contact allowed the newsletter on that consent; `extra` fields follow.
std::string Contact(const std::string& consent_extra = "", const std::string& extra = "") {
  return Len(1, "c-1") + Len(4, "anna@example.com") + Len(13, Ts(k2026Feb)) +
         Len(14, "newsletter") + Len(8, Consent(consent_extra)) + extra;
}

struct Row {
  const char* name;
  std::string contact;
  Outcome outcome;
  const char* field_path;  // of an ERROR
  const char* message;     // a part of the ERROR's message
};

std::vector<Row> Rows() {
  const std::string lodged = Len(3, Ts(k2025));
  return {
      {"the well-formed contact is allowed", Contact(), Outcome::kAllow, "", ""},
      {"an unknown field number is skipped", Contact("", Int(99, 5) + Len(98, "\xff")),
       Outcome::kAllow, "", ""},
      // Timestamps outside 0001-01-01..9999-12-31.
      {"withdrawn_at in year 10000", Contact(Len(5, Ts(kYear10000))), Outcome::kError,
       "consents[0].withdrawn_at", "outside 0001-01-01"},
      {"granted_at in year -1", Contact(Len(4, Ts(kYearMinus1))), Outcome::kError,
       "consents[0].granted_at", "outside 0001-01-01"},
      {"erasure_requested_at in year 10000", Contact("", Len(11, Ts(kYear10000))), Outcome::kError,
       "erasure_requested_at", "outside 0001-01-01"},
      {"an objection lodged at seconds INT64_MAX",
       Contact("", Len(9, Int(2, 1) + Len(3, Ts(std::numeric_limits<int64_t>::max())))),
       Outcome::kError, "objections[0].lodged_at", "outside 0001-01-01"},
      {"nanos of a second or more", Contact(Len(5, Ts(k2025, 1'000'000'000))), Outcome::kError,
       "consents[0].withdrawn_at", "nanos"},
      {"negative nanos", Contact("", Len(11, Ts(k2025, -1))), Outcome::kError,
       "erasure_requested_at", "nanos"},
      {"a timestamp's seconds given as a string", Contact("", Len(11, Len(1, "x"))),
       Outcome::kError, "erasure_requested_at", "must be integers"},
      {"a later occurrence brings a singular timestamp back into range",
       Contact("", Len(11, Ts(kYear10000)) + Len(11, Ts(k2025))), Outcome::kError,
       "erasure_requested_at", ""},  // in range again, so the erasure request stands: not allowed
      // Enum numbers the proto does not declare, in fields the rules read.
      {"an objection with scope 77", Contact("", Len(9, Int(2, 77) + lodged)), Outcome::kError,
       "objections[0].scope", "`77` is not a value of lawful.v1.ObjectionScope"},
      {"suppressions: [77]", Contact("", Int(10, 77)), Outcome::kError, "suppressions[0]",
       "`77` is not a value of lawful.v1.Suppression"},
      {"packed suppressions: [1, 77]", Contact("", Len(10, Varint(1) + Varint(77))),
       Outcome::kError, "suppressions[1]", "`77`"},
      {"opted_out_channels: [77]", Contact("", Len(12, Int(4, 77))), Outcome::kError,
       "relationship.opted_out_channels[0]", "`77` is not a value of lawful.v1.Channel"},
      {"a consent with source 77", Contact(Int(6, 77)), Outcome::kError, "consents[0].source",
       "`77` is not a value of lawful.v1.ConsentSource"},
      // Invalid UTF-8 in any string, read by the rules or not.
      {"invalid UTF-8 in email", Contact("", Len(4, "anna\xff")), Outcome::kError, "email",
       "not valid UTF-8"},
      {"invalid UTF-8 in collection_purposes", Contact("", Len(14, "news\xc3")), Outcome::kError,
       "collection_purposes[1]", "not valid UTF-8"},
      {"invalid UTF-8 in an objection's lodged_via",
       Contact("", Len(9, Int(2, 1) + lodged + Len(5, "\xed\xa0\x80"))), Outcome::kError,
       "objections[0].lodged_via", "not valid UTF-8"},
      {"an id given twice, first not UTF-8", Len(1, "\xff") + Contact(), Outcome::kError, "id",
       "not valid UTF-8"},
      // Malformed fields and wrong wire types.
      {"field number 0", Contact("", Tag(0, 0) + Varint(1)), Outcome::kError, "", "malformed"},
      {"wire type 7", Contact("", Tag(20, 7)), Outcome::kError, "", "malformed"},
      {"a truncated string", Contact("", Tag(5, 2) + Varint(10) + "+46"), Outcome::kError, "phone",
       "malformed"},
      {"email as an integer", Contact("", Int(4, 1)), Outcome::kError, "email", "wrong wire type"},
      {"a consent's channel as a string", Contact(Len(3, "email")), Outcome::kError,
       "consents[0].channel", "wrong wire type"},
      {"a malformed record", Contact("", Len(8, Tag(2, 2) + Varint(50))), Outcome::kError,
       "consents[1].purpose", "malformed"},
      {"a record cut inside a tag", Contact("", Len(8, "\x80")), Outcome::kError, "consents[1]",
       "malformed"},
      // Required fields (the `required` option in contact.proto).
      {"a consent without its purpose", Contact("", Len(8, Int(3, 1) + Len(4, Ts(k2025)))),
       Outcome::kError, "consents[1].purpose", "a consent must name the purpose consented to"},
      {"an objection without lodged_at", Contact("", Len(9, Int(2, 1))), Outcome::kError,
       "objections[0].lodged_at", "an objection must say when it was lodged"},
      // The first problem in field-number order, whatever the wire order.
      {"two problems: the lower field number is reported",
       Contact("", Len(11, Ts(kYear10000)) + Len(4, "\xff")), Outcome::kError, "email",
       "not valid UTF-8"},
  };
}

class FailClosed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    rules_ = new dsl::LoadedRuleSet(*std::move(loaded));
    Request request;
    request.has_outreach = true;
    request.outreach.set_purpose("newsletter");
    request.outreach.set_channel(lawful::v1::CHANNEL_EMAIL);
    request.outreach.mutable_at()->set_seconds(1772359200);  // 2026-03-01T10:00:00Z
    auto resolved = ResolveOutreach(*rules_->rule_set, request, absl::UnixEpoch());
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    outreach_ = new ResolvedOutreach(*std::move(resolved));
  }
  static dsl::LoadedRuleSet* rules_;
  static ResolvedOutreach* outreach_;
};
dsl::LoadedRuleSet* FailClosed::rules_ = nullptr;
ResolvedOutreach* FailClosed::outreach_ = nullptr;

std::string Canonical(lawful::v1::Decision decision) {
  decision.clear_index();
  decision.clear_rule_set_version();  // Explain's decision names it; the others carry it apart
  return decision.SerializeAsString();
}

TEST_F(FailClosed, EveryMalformationIsThatContactsErrorWithItsFieldOnEveryPath) {
  const std::vector<Row> rows = Rows();
  std::vector<std::string_view> contacts;
  for (const Row& row : rows) contacts.push_back(row.contact);
  BatchEvaluator pool(1);
  BatchAnswers answers;
  ASSERT_TRUE(DecideBatch(pool, outreach_->prepared, contacts, 0, &answers, nullptr, [](size_t) {
                return absl::OkStatus();
              }).ok());
  lawful::v1::DecideBatchResponse response;
  ASSERT_TRUE(response.ParseFromString(answers.Joined()));
  const auto& batch = response.decisions();
  ASSERT_EQ(batch.size(), static_cast<int>(rows.size()));
  Evaluator evaluator;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    SCOPED_TRACE(row.name);
    std::string_view id;
    const Decision decision = DecideContact(evaluator, outreach_->prepared, row.contact, &id);
    lawful::v1::Decision alone;
    ToMessage(*rules_->rule_set, decision, row.contact, id, static_cast<uint32_t>(i), &alone);
    if (std::string(row.name).find("back into range") != std::string::npos) {
      EXPECT_NE(decision.outcome, Outcome::kError);
      EXPECT_NE(decision.outcome, Outcome::kAllow);
    } else {
      EXPECT_EQ(decision.outcome, row.outcome) << alone.ShortDebugString();
      EXPECT_EQ(alone.error().field_path(), row.field_path);
      EXPECT_THAT(alone.error().message(), ::testing::HasSubstr(row.message));
    }
    EXPECT_EQ(alone.SerializeAsString(), batch.Get(static_cast<int>(i)).SerializeAsString());
    lawful::v1::Explanation explanation;
    Explain(*outreach_, row.contact, &explanation);
    EXPECT_EQ(Canonical(explanation.decision()), Canonical(alone));
    // The evidence a decision quotes, and its answer as a whole, stay printable as proto JSON.
    EXPECT_TRUE(IsValidUtf8(alone.contact_id()));
  }
}

TEST(ContactCheck, AnIdThatIsNotUtf8IsNeverEchoed) {
  const std::string bytes = Len(1, "c-\xff");
  std::string_view id;
  const auto problem = CheckContact(bytes, &id);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->field_path, "id");
  EXPECT_TRUE(id.empty());
}

TEST(ContactCheck, TheIdIsTheLastOccurrenceAsAParseKeepsIt) {
  const std::string bytes = Len(1, "first") + Len(1, "second");  // `id` is a view into it
  std::string_view id;
  EXPECT_FALSE(CheckContact(bytes, &id).has_value());
  EXPECT_EQ(id, "second");
}

TEST(ContactCheck, AnEmptyContactHasNoProblem) {
  std::string_view id;
  EXPECT_FALSE(CheckContact("", &id).has_value());
}

TEST(Requests, AMalformedEnvelopeIsRefusedNamingTheField) {
  Request request;
  EXPECT_THAT(ReadBatchRequest(Tag(2, 2) + Varint(100), &request).message(),
              ::testing::HasSubstr("contacts"));
  EXPECT_THAT(ReadBatchRequest(Len(1, Len(1, "\xff")), &request).message(),
              ::testing::HasSubstr("outreach"));
  EXPECT_EQ(ReadBatchRequest(Tag(0, 0), &request).code(), absl::StatusCode::kInvalidArgument);
  // A malformed contact inside a well-formed envelope is that contact's own ERROR, not this.
  EXPECT_TRUE(ReadBatchRequest(Len(2, Tag(0, 0)), &request).ok());
  EXPECT_EQ(request.contacts.size(), 1u);
}

TEST(Requests, ASingularContactGivenTwiceIsMerged) {
  Request request;
  ASSERT_TRUE(
      ReadSingleRequest(Len(2, Len(1, "a")) + Len(2, Len(4, "x@example.se")), &request).ok());
  ASSERT_EQ(request.contacts.size(), 1u);
  EXPECT_EQ(request.contacts[0], Len(1, "a") + Len(4, "x@example.se"));
}

TEST(Requests, AStreamRequestIsAStartOrAChunk) {
  Request request;
  auto part = ReadStreamRequest(Len(1, Len(1, Len(1, "newsletter"))), &request);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part, StreamPart::kStart);
  EXPECT_EQ(request.outreach.purpose(), "newsletter");
  part = ReadStreamRequest(Len(2, Len(1, Len(1, "c-1")) + Len(1, Len(1, "c-2"))), &request);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part, StreamPart::kContacts);
  EXPECT_EQ(request.contacts.size(), 2u);
}

}  // namespace
}  // namespace lawful::decide
