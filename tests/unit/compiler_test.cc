// The compiler end to end: example policies using every construct decide as written, the shipped
// rules decide memo cases, and the disassembly of the example is a reviewed golden file.
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/testkit.h"

namespace lawful::dsl {
namespace {

using ::lawful::testkit::At;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

lawful::v1::Contact ContactFromJson(const std::string& json) {
  lawful::v1::Contact c;
  auto status = google::protobuf::util::JsonStringToMessage(json, &c);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return c;
}

class ExampleTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string path = LAWFUL_SOURCE_DIR "/tests/golden/every_construct.lawful";
    sources_ = {{"every_construct.lawful", ReadFile(path)}};
    CompileResult r = Compile(sources_);
    ASSERT_TRUE(r.ok()) << FormatDiagnostics(r.diagnostics, sources_);
    auto rs = RuleSet::Create(std::move(*r.program), "test");
    ASSERT_TRUE(rs.ok()) << rs.status();
    rule_set_ = *rs;
  }

  // "reason@rule" of the decision, or the error.
  std::string Decide(const std::string& contact_json, const char* purpose = "product_offer",
                     lawful::v1::Channel channel = lawful::v1::CHANNEL_EMAIL,
                     const char* at = "2026-06-01T12:00:00Z",
                     lawful::v1::NoticeType notice = lawful::v1::NOTICE_TYPE_UNSPECIFIED) {
    auto prepared = rule_set_->Prepare(Outreach{purpose, channel, notice, At(at)});
    if (!prepared.ok()) return std::string(prepared.status().message());
    Evaluator evaluator;
    Decision d = evaluator.Decide(*prepared, ContactFromJson(contact_json));
    if (d.outcome == Outcome::kError) return "error:" + d.error_path;
    return d.rule->reason + "@" + d.rule->name;
  }

  std::vector<SourceFile> sources_;
  std::shared_ptr<const RuleSet> rule_set_;
};

const char* const kBase =
    R"("country": "SE", "birth_date": "1990-05-10", "collection_purposes": ["product_offer"])";

std::string Contact(const std::string& extra = "") {
  // StrCat rather than a chain of `+`: GCC 12 at -O3 (the Release build) warns falsely
  // (-Wrestrict) about the temporaries' memcpy.
  return absl::StrCat("{", kBase, extra.empty() ? "" : ", ", extra, "}");
}

TEST_F(ExampleTest, GatesInOrder) {
  EXPECT_EQ(
      Decide(Contact(
          R"("erasure_requested_at": "2026-06-01T12:00:00Z", "suppressions": ["SUPPRESSION_INTERNAL"])")),
      "gone@gone");  // erasure at exactly `at` counts, and wins over the later gate
  // An erasure request one second after `at` has not happened yet.
  EXPECT_EQ(Decide(Contact(R"("erasure_requested_at": "2026-06-01T12:00:01Z")")),
            "no_lawful_basis@no_lawful_basis");
  EXPECT_EQ(
      Decide(
          R"({"country": "SE", "birth_date": "2008-06-02", "collection_purposes": ["product_offer"]})"),
      "too_young@too_young");  // 18th birthday is tomorrow
  // 18 today, and product_offer was not declared at collection.
  EXPECT_EQ(Decide(R"({"country": "SE", "birth_date": "2008-06-01"})"),
            "not_declared@not_declared");
  EXPECT_EQ(Decide(Contact(R"("suppressions": ["SUPPRESSION_INTERNAL"])")), "blocked@blocked");
  EXPECT_EQ(Decide(R"({"country": "NO"})"), "blocked@blocked");
}

TEST_F(ExampleTest, AllAndCountQuantifiers) {
  // Every consent withdrawn (and at least one exists): the `reason` clause renames the rule's code.
  EXPECT_EQ(Decide(Contact(R"("consents": [{"purpose": "product_offer", "channel": "CHANNEL_EMAIL",
      "granted_at": "2026-01-01T00:00:00Z", "withdrawn_at": "2026-02-01T00:00:00Z"}])")),
            "consent_withdrawn@stale_consents");
  // `all` over no records holds, but the count guard stops the rule.
  EXPECT_EQ(Decide(Contact()), "no_lawful_basis@no_lawful_basis");
}

TEST_F(ExampleTest, LatestIfAndArithmetic) {
  const char* consents = R"("relationship": {"is_customer": true}, "consents": [
      {"id": "a", "purpose": "product_offer", "channel": "CHANNEL_EMAIL", "granted_at": "2026-01-01T00:00:00Z"},
      {"id": "b", "purpose": "product_offer", "channel": "CHANNEL_EMAIL", "granted_at": "2026-03-01T00:00:00Z"},
      {"id": "c", "purpose": "product_offer", "channel": "CHANNEL_EMAIL", "granted_at": "2026-07-01T00:00:00Z"}])";
  EXPECT_EQ(Decide(Contact(consents)), "gold_customer@gold_customer");
  auto prepared = rule_set_->Prepare(
      Outreach{"product_offer", lawful::v1::CHANNEL_EMAIL, {}, At("2026-06-01T12:00:00Z")});
  ASSERT_TRUE(prepared.ok());
  Evaluator evaluator;
  Decision d = evaluator.Decide(*prepared, ContactFromJson(Contact(consents)));
  // The latest consent granted at or before `at` is "b" (index 1); "c" does not exist yet.
  EXPECT_EQ(d.evidence_index, 1);
  EXPECT_EQ(d.evidence_id, "b");
  EXPECT_EQ(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(d.valid_until),
                             absl::UTCTimeZone()),
            "2027-09-01T00:00:00Z");  // + 1 year 6 months
  lawful::v1::Decision proto;
  rule_set_->ToProto(d, &proto);
  EXPECT_EQ(proto.rule().file(), "every_construct.lawful");
  EXPECT_EQ(proto.rule().line(), 44u);
  EXPECT_EQ(proto.evidence().field(), "consents");
}

TEST_F(ExampleTest, RuleEffectiveDatesAndObligations) {
  const char* consent =
      R"("consents": [{"purpose": "product_offer", "channel": "CHANNEL_EMAIL", "granted_at": "2026-01-01T00:00:00Z"}])";
  EXPECT_EQ(Decide(Contact(consent)), "launch_offer@launch_offer");
  // The launch offer rule ended on 2027-01-01; the general consent rule decides after it.
  EXPECT_EQ(
      Decide(Contact(consent), "product_offer", lawful::v1::CHANNEL_EMAIL, "2027-01-01T00:00:00Z"),
      "by_consent@by_consent");
  // Before LAUNCH + GRACE (2026-01-15) the launch rule does not apply.
  EXPECT_EQ(
      Decide(Contact(consent), "product_offer", lawful::v1::CHANNEL_EMAIL, "2026-01-14T00:00:00Z"),
      "by_consent@by_consent");
  // Consent for e-mail does not cover SMS.
  EXPECT_EQ(Decide(Contact(consent), "product_offer", lawful::v1::CHANNEL_SMS),
            "no_lawful_basis@no_lawful_basis");
}

TEST_F(ExampleTest, PolicySelectionByPurposeChannelAndDate) {
  EXPECT_THAT(Decide(Contact(), "product_offer", lawful::v1::CHANNEL_POST),
              testing::HasSubstr(
                  "no policy of the rule set covers purpose `product_offer` on channel `post`"));
  EXPECT_THAT(Decide(Contact(), "product_offer", lawful::v1::CHANNEL_EMAIL, "2024-12-31T23:59:59Z"),
              testing::HasSubstr("no policy"));
  EXPECT_EQ(Decide(Contact(R"("relationship": {"customer_since": "2020-01-01T00:00:00Z"})"),
                   "service_notice", lawful::v1::CHANNEL_POST, "2026-06-01T12:00:00Z",
                   lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION),
            "notice@notice");
  EXPECT_EQ(Decide(Contact(R"("relationship": {"customer_since": "2020-01-01T00:00:00Z"})"),
                   "service_notice", lawful::v1::CHANNEL_POST, "2026-06-01T12:00:00Z",
                   lawful::v1::NOTICE_TYPE_VITAL_INTEREST),
            "no_lawful_basis@no_lawful_basis");
  EXPECT_THAT(Decide(Contact(), "profiling"),
              testing::HasSubstr("`profiling` is not a purpose declared"));
}

TEST_F(ExampleTest, DisassemblyMatchesTheGoldenFile) {
  std::vector<std::string> texts;
  for (const SourceFile& s : sources_) texts.push_back(s.text);
  std::string actual = Disassemble(rule_set_->program(), texts);
  const std::string golden_path = LAWFUL_SOURCE_DIR "/tests/golden/every_construct.disasm";
  if (std::getenv("LAWFUL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden_path) << actual;
  }
  EXPECT_EQ(actual, ReadFile(golden_path))
      << "run with LAWFUL_UPDATE_GOLDEN=1 to accept the new disassembly";
}

TEST(ShippedRules, DecideMemoCases) {
  auto loaded = LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto decide = [&](const std::string& json, const char* purpose, lawful::v1::Channel channel) {
    auto prepared =
        loaded->rule_set->Prepare(Outreach{purpose, channel, {}, At("2026-11-29T10:00:00Z")});
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    Evaluator evaluator;
    Decision d = evaluator.Decide(*prepared, ContactFromJson(json));
    return d.outcome == Outcome::kError ? "error:" + d.error_path : d.rule->reason;
  };
  const std::string active =
      R"({"id": "c1", "email": "a@example.com", "last_activity_at": "2026-10-01T00:00:00Z",
      "consents": [{"id": "k1", "purpose": "newsletter", "channel": "CHANNEL_EMAIL", "granted_at": "2026-01-01T00:00:00Z",
                    "source": "CONSENT_SOURCE_WEB_FORM"}]})";
  EXPECT_EQ(decide(active, "newsletter", lawful::v1::CHANNEL_EMAIL), "consent");
  EXPECT_EQ(decide(active, "newsletter", lawful::v1::CHANNEL_SMS), "missing_address");
  EXPECT_EQ(decide(active, "survey", lawful::v1::CHANNEL_EMAIL), "purpose_incompatible");
  const std::string withdrawn_at_at =
      R"({"email": "a@example.com", "last_activity_at": "2026-10-01T00:00:00Z",
      "consents": [{"purpose": "newsletter", "channel": "CHANNEL_EMAIL", "granted_at": "2026-01-01T00:00:00Z",
                    "withdrawn_at": "2026-11-29T10:00:00Z"}]})";
  EXPECT_EQ(decide(withdrawn_at_at, "newsletter", lawful::v1::CHANNEL_EMAIL), "consent_withdrawn");
  const std::string inactive =
      R"({"email": "a@example.com", "last_activity_at": "2024-11-28T10:00:00Z"})";
  EXPECT_EQ(decide(inactive, "newsletter", lawful::v1::CHANNEL_EMAIL), "retention_expired");
  const std::string exactly_24_months =
      R"({"email": "a@example.com", "last_activity_at": "2024-11-29T10:00:00Z"})";
  EXPECT_EQ(decide(exactly_24_months, "newsletter", lawful::v1::CHANNEL_EMAIL),
            "purpose_incompatible");
}

// The rule that decides an empty contact (purpose `n`, e-mail) under the one-file rule set
// `source`; its errors when it does not compile.
std::string DecideEmptyContact(const std::string& source,
                               std::vector<Diagnostic>* errors = nullptr) {
  const std::vector<SourceFile> files = {{"t.lawful", source}};
  CompileResult r = Compile(files);
  if (!r.ok()) {
    for (const Diagnostic& d : r.diagnostics) {
      if (errors != nullptr && d.severity == Severity::kError) errors->push_back(d);
    }
    return "does not compile: " + FormatDiagnostics(r.diagnostics, files);
  }
  auto rule_set = RuleSet::Create(std::move(*r.program), "test");
  if (!rule_set.ok()) return rule_set.status().ToString();
  auto prepared = (*rule_set)->Prepare(
      Outreach{"n", lawful::v1::CHANNEL_EMAIL, {}, At("2026-01-01T00:00:00Z")});
  if (!prepared.ok()) return prepared.status().ToString();
  Evaluator evaluator;
  Decision d = evaluator.Decide(*prepared, lawful::v1::Contact());
  return d.rule != nullptr ? d.rule->name : "error: " + d.error_message;
}

// Constant folding and the VM compute alike, edge for edge, judged by exact arithmetic: a result
// within -INT64_MAX..INT64_MAX (INT64_MIN is the missing marker) of a division by anything but 0
// is what a `const` folds to and what the VM computes at run time; any other result is a located
// error in a `const` and missing at run time.
TEST(Arithmetic, ConstantsFoldToWhatTheVmComputes) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const std::vector<int64_t> edges = {0,          1,           -1,          2,   -2,  7,
                                      3037000500, -3037000500, max / 2 + 1, max, -max};
  for (int64_t a : edges) {
    for (int64_t b : edges) {
      for (const char op : {'+', '-', '*', '/'}) {
        __int128 exact = 0;
        bool defined = true;
        switch (op) {
          case '+':
            exact = static_cast<__int128>(a) + b;
            break;
          case '-':
            exact = static_cast<__int128>(a) - b;
            break;
          case '*':
            exact = static_cast<__int128>(a) * b;
            break;
          default:
            defined = b != 0;
            exact = defined ? static_cast<__int128>(a) / b : 0;
        }
        defined = defined && exact >= -max && exact <= max;
        const std::string operands =
            absl::StrCat("purpose n\nconst A = ", a, "\nconst B = ", b, "\n");
        const std::string policy = "policy p for purposes n {\n  deny yes when ";
        const std::string rest = " cite \"X\"\n  otherwise allow no cite \"Y\"\n}\n";
        const std::string expected = absl::StrCat(static_cast<int64_t>(exact));
        SCOPED_TRACE(absl::StrCat(a, " ", std::string(1, op), " ", b));

        // Folded: line 4 is the const.
        const std::string folded =
            absl::StrCat(operands, "const C = A ", std::string(1, op), " B\n", policy,
                         defined ? "C == " + expected : "true", rest);
        std::vector<Diagnostic> errors;
        const std::string decided = DecideEmptyContact(folded, &errors);
        if (defined) {
          EXPECT_EQ(decided, "yes");
        } else {
          ASSERT_FALSE(errors.empty()) << decided;
          EXPECT_EQ(errors[0].code, op == '/' && b == 0 ? "division-by-zero" : "overflow")
              << decided;
          EXPECT_EQ(errors[0].line, 4u) << decided;
        }

        // Computed by the VM: a `def` is not folded.
        const std::string computed =
            absl::StrCat(operands, "def V = A ", std::string(1, op), " B\n", policy,
                         defined ? "V == " + expected : "V is missing", rest);
        EXPECT_EQ(DecideEmptyContact(computed), "yes");
      }
    }
  }
}

// A set's values are folded like a const: they used to compile as 0 unless written as plain
// literals, so `0 in {1 + 2}` held.
TEST(Arithmetic, SetValuesAreFolded) {
  for (const auto& [condition, decided] :
       std::vector<std::pair<std::string, std::string>>{{"3 in {1 + 2}", "yes"},
                                                        {"0 in {1 + 2, - - 7, 0 - 5}", "no"},
                                                        {"7 in {- - 7}", "yes"},
                                                        {"-5 in {0 - 5}", "yes"},
                                                        {"-4 in {A - 5}", "yes"}}) {
    EXPECT_EQ(DecideEmptyContact(absl::StrCat(
                  "purpose n\nconst A = 1\npolicy p for purposes n {\n  deny yes when ", condition,
                  " cite \"X\"\n  otherwise allow no cite \"Y\"\n}\n")),
              decided)
        << condition;
  }
}

// What the rules cannot write (INT64_MIN is refused where it would be made) the engine's checked
// arithmetic refuses all the same: the VM's operands come from facts too.
TEST(Arithmetic, CheckedArithmeticRefusesResultsWithoutAValue) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  int64_t r = 0;
  EXPECT_FALSE(CheckedDiv(kMissing, -1, &r));  // traps on x86 when divided
  EXPECT_FALSE(CheckedDiv(kMissing, 1, &r));   // the missing marker is no result
  EXPECT_FALSE(CheckedDiv(5, 0, &r));
  EXPECT_TRUE(CheckedDiv(-max, -1, &r));
  EXPECT_EQ(r, max);
  EXPECT_FALSE(CheckedNeg(kMissing, &r));
  EXPECT_TRUE(CheckedNeg(-max, &r));
  EXPECT_EQ(r, max);
  EXPECT_FALSE(CheckedSub(-max, 1, &r));
  EXPECT_FALSE(CheckedAdd(max, 1, &r));
  EXPECT_FALSE(CheckedMul(-(max / 2 + 1), 2, &r));
  EXPECT_TRUE(CheckedMul(-(max / 2), 2, &r));
  EXPECT_EQ(r, -max + 1);
}

}  // namespace
}  // namespace lawful::dsl
