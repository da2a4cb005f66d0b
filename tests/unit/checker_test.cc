// The checker: located, one-sentence errors for unknown names and fields, type mistakes and
// missing citations; warnings for unreachable and same-named rules; no cascades.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"

namespace lawful::dsl {
namespace {

using testing::HasSubstr;

// A rule set whose only interesting part is one rule's condition (line 5) and `extra` (line 1).
std::string WithCondition(const std::string& condition, const std::string& extra = "") {
  return extra + "\npurpose newsletter, profiling\n" +
         "policy p for purposes {newsletter, profiling} {\n"
         "  # the rule under test\n"
         "  deny r when " +
         condition +
         "\n"
         "    cite \"X\"\n"
         "  otherwise deny d cite \"Y\"\n"
         "}\n";
}

std::vector<Diagnostic> Diagnose(const std::string& source) {
  return Compile({{"t.lawful", source}}).diagnostics;
}

std::vector<std::string> Errors(const std::string& source) {
  std::vector<std::string> out;
  for (const Diagnostic& d : Diagnose(source)) {
    if (d.severity == Severity::kError)
      out.push_back(absl::StrCat(d.line, ":", d.column, ": ", d.message));
  }
  return out;
}

struct CheckCase {
  const char* name;
  std::string source;
  std::string want;  // "line:col: message" of the only error
};

class CheckerErrorTest : public testing::TestWithParam<CheckCase> {};

TEST_P(CheckerErrorTest, ReportsOneLocatedError) {
  EXPECT_THAT(Errors(GetParam().source), testing::ElementsAre(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(
    Table, CheckerErrorTest,
    testing::Values(
        CheckCase{"unknown_field", WithCondition("contact.last_activty_at < at"),
                  "5:23: contact has no field `last_activty_at`; did you mean `last_activity_at`?"},
        CheckCase{"unknown_name", WithCondition("cnotact.email == \"\""),
                  "5:15: unknown name `cnotact`; did you mean `contact`?"},
        CheckCase{"unknown_enum_value", WithCondition("channel == emial"),
                  "5:26: `emial` is not a channel; did you mean `email`? (channel values: email, "
                  "sms, post, phone)"},
        CheckCase{"text_is_not_ordered", WithCondition("contact.email < at"),
                  "5:23: only numbers, instants and dates can be ordered, not a text"},
        CheckCase{"instant_vs_number", WithCondition("contact.last_activity_at < 3"),
                  "5:42: cannot compare an instant with a number"},
        CheckCase{
            "condition_not_bool", WithCondition("contact.email"),
            "5:23: a rule's `when` condition must be a condition (true or false), not a text"},
        CheckCase{"missing_citation",
                  "purpose n\npolicy p for purposes n {\n  deny r when true\n  otherwise deny d "
                  "cite \"Y\"\n}\n",
                  "3:8: rule `r` has no citation; every rule must cite its legal ground, e.g. cite "
                  "\"GDPR Art. 6(1)(a)\""},
        CheckCase{"recursive_definition", WithCondition("a", "def a = b\ndef b = a"),
                  "2:9: `a` refers to itself; definitions may not be recursive"},
        CheckCase{
            "const_not_constant", WithCondition("true", "const C = contact.email"),
            "1:19: `C` is a `const`, so its value must be known when the rules are compiled "
            "(literals, sets, "
            "durations and other consts); use `def` for values that depend on the contact or `at`"},
        CheckCase{"wrong_enum_in_set", WithCondition("channel in {email, newsletter}"),
                  "5:34: `newsletter` is not a channel (channel values: email, sms, post, phone)"},
        CheckCase{"arity", WithCondition("f()", "def f(x: int) = x > 1"),
                  "5:15: `f` takes 1 argument(s), not 0"},
        CheckCase{"missing_applies_to_single_values", WithCondition("contact.consents is missing"),
                  "5:23: `is missing` applies to single values, not to a list of consent records"},
        CheckCase{"def_in_policy_header",
                  "purpose a, b\ndef OFFERS = {b}\npolicy p for purposes OFFERS {\n  otherwise "
                  "deny d cite \"Y\"\n}\n",
                  "3:23: the policy's purposes must be written out (e.g. `{newsletter, survey}`) "
                  "or named by a `const`"},
        CheckCase{"rule_effective_order",
                  "purpose a\npolicy p for purposes a {\n  deny r when true cite \"X\" effective "
                  "from 2027-01-01 effective until 2026-01-01\n"
                  "  otherwise deny d cite \"Y\"\n}\n",
                  "3:3: rule `r`: its `effective until` is not after its `effective from`"},
        CheckCase{"set_of_wrong_kind", WithCondition("purpose in {1}"),
                  "5:27: this set must hold purposes, not a number"},
        CheckCase{"instant_minus_instant", WithCondition("at - contact.last_activity_at < at"),
                  "5:28: an instant or date can only be moved by a duration such as `12 months`, "
                  "not by an instant"},
        CheckCase{"undeclared_policy_purpose",
                  "purpose newsletter\npolicy p for purposes {newsleter} {\n  otherwise deny d "
                  "cite \"Y\"\n}\n",
                  "2:24: `newsleter` is not a purpose; did you mean `newsletter`? (purpose values: "
                  "newsletter)"},
        CheckCase{
            "unknown_zone", WithCondition("local_date(at, \"Mars/Base\") == 2026-01-01"),
            "5:30: unknown time zone `Mars/Base` (use an IANA name such as \"Europe/Stockholm\")"},
        // A zone is a file of the tz database: a path must never be opened (this one would block).
        CheckCase{
            "zone_that_is_a_path", WithCondition("local_date(at, \"/dev/stdin\") == 2026-01-01"),
            "5:30: unknown time zone `/dev/stdin` (use an IANA name such as \"Europe/Stockholm\")"},
        CheckCase{"zone_outside_the_tz_database",
                  WithCondition("local_date(at, \"../../etc/localtime\") == 2026-01-01"),
                  "5:30: unknown time zone `../../etc/localtime` (use an IANA name such as "
                  "\"Europe/Stockholm\")"},
        CheckCase{"group_is_not_a_value", WithCondition("contact.relationship == 1"),
                  "5:23: cannot compare a relationship record with `==`"},
        CheckCase{"ambiguous_value", WithCondition("true", "const X = phone"),
                  "1:11: `phone` is ambiguous: it is a value of channel and of consent_source; "
                  "compare it with a value of the type you mean"},
        CheckCase{"unknown_type", WithCondition("true", "def f(c: consnt) = true"),
                  "1:10: unknown type `consnt`; did you mean `consent`?"},
        CheckCase{"duplicate_definition", WithCondition("true", "def f = true\ndef f = false"),
                  "2:5: `f` is already defined at t.lawful:1"}),
    [](const testing::TestParamInfo<CheckCase>& p) { return std::string(p.param.name); });

// Constant arithmetic is folded with the VM's checked arithmetic (lawful/engine.h): a value the VM
// would find missing (overflow, the missing marker INT64_MIN, division by zero) is an error in a
// constant, shown at its operator with the values that overflowed. It once crashed the compiler
// (`lawful check`, and lawfuld on reload) with SIGFPE: INT64_MIN / -1.
struct ArithmeticCase {
  const char* name;
  std::string consts;     // the rule set's first lines
  std::string condition;  // the rule's condition, on the line after `consts`
  std::string want;       // the errors as `lawful check` prints them, file:line:col, line, caret
};

std::string ArithmeticSource(const ArithmeticCase& c) {
  return absl::StrCat(c.consts, "\npurpose n\npolicy p for purposes n {\n  deny r when ",
                      c.condition, " cite \"X\"\n  otherwise deny d cite \"Y\"\n}\n");
}

// `name` repeated `n` times, joined by ` + `.
std::string Sum(const std::string& name, int n) {
  std::string out = name;
  for (int i = 1; i < n; ++i) absl::StrAppend(&out, " + ", name);
  return out;
}

// 100000 years (the longest literal) times 512: 614,400,000 months; four of them do not fit.
const std::string kLongDurations =
    absl::StrCat("const Y = 100000 years\nconst Y8 = ", Sum("Y", 8), "\nconst Y64 = ", Sum("Y8", 8),
                 "\nconst Y512 = ", Sum("Y64", 8));

class ConstantArithmeticTest : public testing::TestWithParam<ArithmeticCase> {};

TEST_P(ConstantArithmeticTest, IsALocatedError) {
  const std::vector<SourceFile> files = {{"t.lawful", ArithmeticSource(GetParam())}};
  std::vector<Diagnostic> errors;
  for (const Diagnostic& d : Compile(files).diagnostics) {
    if (d.severity == Severity::kError) errors.push_back(d);
  }
  EXPECT_EQ(FormatDiagnostics(errors, files), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConstantArithmeticTest,
    testing::Values(
        // The file that crashed: A is the missing marker, so it is refused, and B (A / -1, which
        // trapped) is not reported again.
        ArithmeticCase{"min_divided_by_minus_one",
                       "const A = 0 - 9223372036854775807 - 1\nconst B = A / (0 - 1)", "B > 0",
                       "t.lawful:1:35: error: `-` overflows: -9223372036854775807 - 1 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const A = 0 - 9223372036854775807 - 1\n"
                       "                                    ^\n"},
        ArithmeticCase{"add_overflows", "const C = 9223372036854775807 + 1", "C > 0",
                       "t.lawful:1:31: error: `+` overflows: 9223372036854775807 + 1 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = 9223372036854775807 + 1\n"
                       "                                ^\n"},
        ArithmeticCase{"add_overflows_through_consts",
                       "const A = 9223372036854775807\nconst B = A + A", "B > 0",
                       "t.lawful:2:13: error: `+` overflows: 9223372036854775807 + "
                       "9223372036854775807 is outside the "
                       "numbers rules can hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const B = A + A\n"
                       "              ^\n"},
        ArithmeticCase{"sub_overflows", "const C = -9223372036854775807 - 2", "C > 0",
                       "t.lawful:1:32: error: `-` overflows: -9223372036854775807 - 2 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = -9223372036854775807 - 2\n"
                       "                                 ^\n"},
        ArithmeticCase{"sub_of_a_negative_overflows", "const C = 9223372036854775807 - -1", "C > 0",
                       "t.lawful:1:31: error: `-` overflows: 9223372036854775807 - (-1) is outside "
                       "the numbers rules "
                       "can hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = 9223372036854775807 - -1\n"
                       "                                ^\n"},
        ArithmeticCase{"mul_overflows", "const C = 4611686018427387904 * 2", "C > 0",
                       "t.lawful:1:31: error: `*` overflows: 4611686018427387904 * 2 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = 4611686018427387904 * 2\n"
                       "                                ^\n"},
        ArithmeticCase{"mul_reaches_the_missing_marker", "const C = -4611686018427387904 * 2",
                       "C > 0",
                       "t.lawful:1:32: error: `*` overflows: -4611686018427387904 * 2 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = -4611686018427387904 * 2\n"
                       "                                 ^\n"},
        ArithmeticCase{"mul_of_signs_overflows", "const C = -3037000500 * 3037000500", "C > 0",
                       "t.lawful:1:23: error: `*` overflows: -3037000500 * 3037000500 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = -3037000500 * 3037000500\n"
                       "                        ^\n"},
        ArithmeticCase{"div_by_zero", "const C = 5 / 0", "C > 0",
                       "t.lawful:1:13: error: `/` divides by zero: 5 / 0 has no value\n"
                       "  const C = 5 / 0\n"
                       "              ^\n"},
        ArithmeticCase{"div_by_a_const_zero", "const Z = 0\nconst C = 5 / Z", "C > 0",
                       "t.lawful:2:13: error: `/` divides by zero: 5 / 0 has no value\n"
                       "  const C = 5 / Z\n"
                       "              ^\n"},
        ArithmeticCase{"div_by_a_difference_that_is_zero", "const C = 5 / (3 - 3)", "C > 0",
                       "t.lawful:1:13: error: `/` divides by zero: 5 / 0 has no value\n"
                       "  const C = 5 / (3 - 3)\n"
                       "              ^\n"},
        // -INT64_MIN does not fit either; INT64_MIN itself is refused where it is made.
        ArithmeticCase{"negated_missing_marker", "const C = -(0 - 9223372036854775807 - 1)",
                       "C > 0",
                       "t.lawful:1:37: error: `-` overflows: -9223372036854775807 - 1 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "  const C = -(0 - 9223372036854775807 - 1)\n"
                       "                                      ^\n"},
        ArithmeticCase{"literal_below_the_least_number", "const C = -9223372036854775808", "C > 0",
                       "t.lawful:1:12: error: the number `9223372036854775808` is too large\n"
                       "  const C = -9223372036854775808\n"
                       "             ^~~~~~~~~~~~~~~~~~~\n"},
        // There is no remainder operator.
        ArithmeticCase{"no_modulo", "const C = 5 % 2", "true",
                       "t.lawful:1:13: error: expected a declaration: `purpose`, `const`, `def`, "
                       "`enum`, `policy` or `invariant`\n"
                       "  const C = 5 % 2\n"
                       "              ^\n"},
        // Durations are folded wherever they are written: months and days are 32-bit.
        ArithmeticCase{"duration_months_overflow",
                       kLongDurations + "\nconst Y2048 = " + Sum("Y512", 4), "true",
                       "t.lawful:5:34: error: `+` overflows: 1843200000 months + 614400000 months "
                       "is outside what a "
                       "duration can hold (-2147483648 to 2147483647 months)\n"
                       "  const Y2048 = Y512 + Y512 + Y512 + Y512\n"
                       "                                   ^\n"},
        ArithmeticCase{"duration_overflow_in_a_rule", kLongDurations,
                       "at > at - (" + Sum("Y512", 4) + ")",
                       "t.lawful:7:45: error: `+` overflows: 1843200000 months + 614400000 months "
                       "is outside what a "
                       "duration can hold (-2147483648 to 2147483647 months)\n"
                       "    deny r when at > at - (Y512 + Y512 + Y512 + Y512) cite \"X\"\n"
                       "                                              ^\n"},
        ArithmeticCase{
            "duration_days_underflow",
            absl::StrCat("const D = 100000 days\nconst D8 = ", Sum("D", 8),
                         "\nconst D64 = ", Sum("D8", 8), "\nconst D512 = ", Sum("D64", 8),
                         "\nconst D4096 = ", Sum("D512", 8),
                         "\nconst E = 0 days - D4096 - D4096 - D4096 - D4096 - D4096 - D4096"),
            "true",
            "t.lawful:6:58: error: `-` overflows: -2048000000 days - 409600000 days is outside "
            "what a "
            "duration can hold (-2147483648 to 2147483647 days)\n"
            "  const E = 0 days - D4096 - D4096 - D4096 - D4096 - D4096 - D4096\n"
            "                                                           ^\n"},
        // A set's values are folded too; they used to compile as 0 unless written as plain
        // literals.
        ArithmeticCase{"set_value_overflows", "",
                       "(count c in contact.consents where true) in {1, 9223372036854775807 + 1}",
                       "t.lawful:4:83: error: `+` overflows: 9223372036854775807 + 1 is outside "
                       "the numbers rules can "
                       "hold (-9223372036854775807 to 9223372036854775807)\n"
                       "    deny r when (count c in contact.consents where true) in {1, "
                       "9223372036854775807 + 1} cite "
                       "\"X\"\n"
                       "                                                                           "
                       "         ^\n"},
        ArithmeticCase{"set_value_from_the_request", "", "channel in {email, channel}",
                       "t.lawful:4:34: error: the values of a set must be known when the rules are "
                       "compiled (value "
                       "names, numbers, consts); compare a value that depends on the contact or "
                       "the request with `==`\n"
                       "    deny r when channel in {email, channel} cite \"X\"\n"
                       "                                   ^~~~~~~\n"},
        ArithmeticCase{"set_value_from_the_contact", "",
                       "1 in {count c in contact.consents where true}",
                       "t.lawful:4:21: error: the values of a set must be known when the rules are "
                       "compiled (value "
                       "names, numbers, consts); compare a value that depends on the contact or "
                       "the request with `==`\n"
                       "    deny r when 1 in {count c in contact.consents where true} cite \"X\"\n"
                       "                      ^~~~~\n"}),
    [](const testing::TestParamInfo<ArithmeticCase>& p) { return std::string(p.param.name); });

TEST(Checker, ReportsEveryIndependentErrorWithoutCascades) {
  // Two mistakes, two errors: the bad field does not also produce a type error for `<`.
  std::vector<std::string> errors =
      Errors(WithCondition("contact.last_activty_at < at or channel == emial"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], HasSubstr("last_activty_at"));
  EXPECT_THAT(errors[1], HasSubstr("emial"));
}

TEST(Checker, ErrorInADefinitionIsReportedOnce) {
  std::vector<std::string> errors =
      Errors(WithCondition("f and f and f", "def f = contact.nope == 1"));
  EXPECT_EQ(errors.size(), 1u);
}

TEST(Checker, WarnsAboutUnreachableAndSameNamedRules) {
  std::string source =
      "purpose n\npolicy p for purposes n {\n"
      "  deny a when true cite \"X\"\n"
      "  deny b when channel == email cite \"X\"\n"
      "  deny b when channel == sms cite \"X\"\n"
      "  otherwise deny d cite \"Y\"\n}\n";
  CompileResult r = Compile({{"t.lawful", source}});
  ASSERT_TRUE(r.ok());
  std::vector<std::string> warnings;
  for (const Diagnostic& d : r.diagnostics) {
    EXPECT_EQ(d.severity, Severity::kWarning);
    warnings.push_back(absl::StrCat(d.line, ":", d.column, ": ", d.message));
  }
  EXPECT_THAT(warnings, testing::ElementsAre(
                            "4:3: rule `b` is never reached: rule `a` on line 3 always applies",
                            "5:8: policy `p` already has a rule named `b` on line 4; decisions "
                            "will not tell them apart"));
}

TEST(Checker, ValueNamesTakeTheirKindFromContext) {
  // `phone` is both a channel and a consent source: the list, the other branch or the set says
  // which.
  for (const char* condition :
       {"phone in contact.relationship.opted_out_channels",
        "(if at > at then phone else email) == channel",
        "channel == (if at > at then phone else email)", "channel in {phone, post}"}) {
    EXPECT_THAT(Errors(WithCondition(condition)), testing::IsEmpty()) << condition;
  }
  EXPECT_THAT(
      Errors(WithCondition("x == active",
                           "enum s { active, none }\ndef x = if at > at then active else none")),
      testing::IsEmpty());
}

TEST(Checker, WarnsAboutAPolicyThatIsNeverChosen) {
  CompileResult r =
      Compile({{"t.lawful",
                "purpose a, b\npolicy p for purposes {a, b} {\n  otherwise deny d cite \"Y\"\n}\n"
                "policy q for purposes a channels {email} {\n  otherwise deny d cite \"Y\"\n}\n"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].message,
            "policy `q` is never chosen: policy `p` comes first and covers all its purposes and "
            "channels");
}

TEST(Checker, ShippedRulesCheckCleanly) {
  auto files = ReadRuleFiles(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(files.ok()) << files.status();
  CompileResult r = Compile(*files);
  EXPECT_TRUE(r.ok()) << FormatDiagnostics(r.diagnostics, *files);
  EXPECT_TRUE(r.diagnostics.empty()) << FormatDiagnostics(r.diagnostics, *files);
}

}  // namespace
}  // namespace lawful::dsl

namespace lawful::dsl {
namespace {

// CheckRuleSet hands tools (prover, SQL compiler, language server) the tree the compiler reads.
TEST(CheckRuleSetTest, GivesTheResolvedTypedTree) {
  CheckResult result = CheckRuleSet({{"t.lawful", WithCondition("contact.email == \"\"")}});
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.rules->policies.size(), 1u);
  const RuleDecl& rule = result.rules->policies[0]->rules[0];
  EXPECT_EQ(rule.name, "r");
  EXPECT_EQ(rule.name_span.line, 5u);
  ASSERT_NE(rule.when, nullptr);
  EXPECT_EQ(rule.when->type.kind, TypeKind::kBool);
  EXPECT_EQ(rule.when->kids[0]->kind, ExprKind::kField);
  EXPECT_EQ(rule.when->kids[0]->type.kind, TypeKind::kString);
  EXPECT_EQ(result.rules->purposes, (std::vector<std::string>{"newsletter", "profiling"}));
}

TEST(CheckRuleSetTest, KeepsTheTreeWhenCheckingFails) {
  CheckResult result = CheckRuleSet({{"t.lawful", WithCondition("contact.no_such_field")}});
  EXPECT_FALSE(result.ok());
  ASSERT_NE(result.rules, nullptr);
  EXPECT_EQ(result.rules->policies[0]->rules[0].when->type.kind, TypeKind::kError);
  EXPECT_THAT(result.diagnostics, testing::Not(testing::IsEmpty()));
}

TEST(CheckRuleSetTest, HasNoTreeWhenAFileDoesNotParse) {
  CheckResult result = CheckRuleSet({{"t.lawful", "policy {"}});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.rules, nullptr);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].code, "syntax");
}

}  // namespace
}  // namespace lawful::dsl
