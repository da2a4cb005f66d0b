// Invariants in the rules language: their syntax and checking (located errors like every other
// declaration), and their files kept out of the rule set (its version does not move).
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/testkit.h"

namespace lawful::dsl {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;

constexpr char kRules[] =
    "purpose newsletter, service_notice\n"
    "def objects = any o in contact.objections where o.lodged_at <= at\n"
    "policy marketing for purposes newsletter {\n"
    "  deny objection when objects cite \"GDPR Art. 21(3)\"\n"
    "  allow consent when any c in contact.consents where c.granted_at <= at cite \"6(1)(a)\"\n"
    "  otherwise deny no_lawful_basis cite \"6(1)\"\n"
    "}\n";

// The errors of checking kRules with `invariants` as the file `path`, as `file:line:col: msg`.
std::vector<std::string> Errors(const std::string& invariants,
                                const std::string& path = "invariants.lawful") {
  std::vector<SourceFile> files = {{"rules.lawful", kRules}, {path, invariants}};
  std::vector<std::string> out;
  for (const Diagnostic& d : CheckRuleSet(files).diagnostics) {
    if (d.severity == Severity::kError)
      out.push_back(absl::StrCat(d.file, ":", d.line, ":", d.column, ": ", d.message));
  }
  return out;
}

TEST(Invariants, BothFormsCheck) {
  std::vector<SourceFile> files = {
      {"rules.lawful", kRules},
      {"invariants.lawful",
       "# objections stop newsletters\n"
       "invariant objection_denies for purposes newsletter channels {email, sms}\n"
       "  when objects then deny\n"
       "invariant consent_only for purposes {newsletter} then allow only by consent\n"
       "invariant nothing_but_notices when purpose != service_notice then deny\n"}};
  CheckResult result = CheckRuleSet(files);
  ASSERT_TRUE(result.ok()) << FormatDiagnostics(result.diagnostics, files);
  ASSERT_EQ(result.rules->invariants.size(), 3u);
  const InvariantDecl& first = *result.rules->invariants[0];
  EXPECT_EQ(first.name, "objection_denies");
  EXPECT_TRUE(first.deny);
  EXPECT_THAT(first.purpose_ids, ElementsAre(0));
  EXPECT_EQ(first.channel_mask, (1u << 1) | (1u << 2));  // email, sms
  EXPECT_EQ(first.when_text, "objects");
  const InvariantDecl& second = *result.rules->invariants[1];
  EXPECT_FALSE(second.deny);
  ASSERT_EQ(second.allowed_by.size(), 1u);
  EXPECT_EQ(second.allowed_by[0].name, "consent");
  EXPECT_EQ(second.when, nullptr);
  // Without `for purposes`, every purpose; without `channels`, every channel.
  EXPECT_THAT(result.rules->invariants[2]->purpose_ids, ElementsAre(0, 1));
}

struct ErrorCase {
  const char* name;
  std::string invariants;
  std::string error;  // the first error
  std::string path = "invariants.lawful";
};

class InvariantErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(InvariantErrors, AreLocated) {
  std::vector<std::string> errors = Errors(GetParam().invariants, GetParam().path);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0], GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvariantErrors,
    testing::Values(
        ErrorCase{"no_then", "invariant x when objects deny\n",
                  "invariants.lawful:1:26: expected `then`"},
        ErrorCase{"no_verdict", "invariant x when objects then allow\n",
                  "invariants.lawful:2:1: expected `only by` and the rules that may allow, e.g. "
                  "`allow only by consent`"},
        ErrorCase{"neither_deny_nor_allow", "invariant x when objects then forbid\n",
                  "invariants.lawful:1:31: expected what must hold: `deny`, or `allow only by "
                  "RULE, RULE`"},
        ErrorCase{"unknown_name", "invariant x when objectz then deny\n",
                  "invariants.lawful:1:18: unknown name `objectz`; did you mean `objects`?"},
        ErrorCase{"not_a_condition", "invariant x when at then deny\n",
                  "invariants.lawful:1:18: an invariant's `when` condition must be a condition "
                  "(true or false), not an instant"},
        ErrorCase{"unknown_rule", "invariant x then allow only by consnt\n",
                  "invariants.lawful:1:32: no `allow` rule is named `consnt`; did you mean "
                  "`consent`?"},
        ErrorCase{"a_deny_rule_cannot_allow", "invariant x then allow only by objection\n",
                  "invariants.lawful:1:32: no `allow` rule is named `objection`"},
        ErrorCase{
            "unknown_purpose", "invariant x for purposes newsleter then deny\n",
            "invariants.lawful:1:26: `newsleter` is not a purpose; did you mean `newsletter`? "
            "(purpose values: newsletter, service_notice)"},
        ErrorCase{"duplicate", "invariant x then deny\ninvariant x then deny\n",
                  "invariants.lawful:2:11: invariant `x` is declared twice"},
        ErrorCase{"a_def_among_invariants", "def y = true\ninvariant x then deny\n",
                  "invariants.lawful:1:5: an invariants file holds only invariants; move this "
                  "def to a rule file"},
        ErrorCase{"an_invariant_among_rules", "invariant x then deny\n",
                  "extra.lawful:1:11: invariant `x` must stand in a file whose name ends in "
                  "`invariants.lawful`, apart from the rules",
                  "extra.lawful"}),
    [](const testing::TestParamInfo<ErrorCase>& row) { return row.param.name; });

// An invariants file is not a rule file: reading a rule set skips it, so adding or editing one
// leaves the rule set's version alone.
TEST(Invariants, StayOutOfTheRuleSetVersion) {
  const std::string shipped = std::string(LAWFUL_SOURCE_DIR) + "/rules";
  absl::StatusOr<std::vector<SourceFile>> invariants = ReadInvariantFiles(shipped);
  ASSERT_TRUE(invariants.ok()) << invariants.status();
  ASSERT_EQ(invariants->size(), 1u);
  EXPECT_EQ((*invariants)[0].path, "invariants.lawful");
  absl::StatusOr<std::vector<SourceFile>> rules = ReadRuleFiles(shipped);
  ASSERT_TRUE(rules.ok()) << rules.status();
  for (const SourceFile& f : *rules) EXPECT_FALSE(IsInvariantFile(f.path)) << f.path;

  testkit::TempDir without;
  for (const SourceFile& f : *rules) testkit::WriteFile(without.path() / f.path, f.text);
  absl::StatusOr<LoadedRuleSet> with_invariants = LoadRuleSet(shipped);
  absl::StatusOr<LoadedRuleSet> without_invariants = LoadRuleSet(without.path().string());
  ASSERT_TRUE(with_invariants.ok()) << with_invariants.status();
  ASSERT_TRUE(without_invariants.ok()) << without_invariants.status();
  EXPECT_EQ(with_invariants->rule_set->version(), without_invariants->rule_set->version());

  // Another invariants file, even a broken one, changes nothing either.
  testkit::WriteFile(without.path() / "more_invariants.lawful", "invariant broken then\n");
  absl::StatusOr<LoadedRuleSet> again = LoadRuleSet(without.path().string());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->rule_set->version(), with_invariants->rule_set->version());
}

// `lawful check` and the language server report an invariant file's own diagnostics, beside the
// rule files' (which Compile reports).
TEST(Invariants, CheckInvariantFilesReportsTheirOwnDiagnostics) {
  const std::vector<SourceFile> broken_rules = {
      {"rules.lawful", std::string(kRules) + "def unused = nosuch\n"}};
  const std::vector<Diagnostic> ds = CheckInvariantFiles(
      broken_rules, {{"invariants.lawful",
                      "invariant x for purposes newsletter\n  then allow only by consnt\n"}});
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].file, "invariants.lawful");
  EXPECT_EQ(ds[0].line, 2u);
  EXPECT_NE(ds[0].message.find("`consnt`"), std::string::npos) << ds[0].message;
  EXPECT_TRUE(CheckInvariantFiles({{"rules.lawful", kRules}},
                                  {{"invariants.lawful", "invariant x when objects then deny\n"}})
                  .empty());
}

TEST(Invariants, FormatKeepsThem) {
  const std::string text =
      "invariant x for purposes newsletter\n"
      "    when objects\n"
      "  then deny\n";
  absl::StatusOr<std::string> formatted = FormatSource({"invariants.lawful", text});
  ASSERT_TRUE(formatted.ok()) << formatted.status();
  EXPECT_EQ(*formatted,
            "invariant x for purposes newsletter\n"
            "      when objects\n"
            "  then deny\n");
}

}  // namespace
}  // namespace lawful::dsl
