// The parser: what it accepts, and for what it refuses, the exact message and position.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"

namespace lawful::dsl {
namespace {

const char* const kValid = R"lawful(purpose newsletter, survey
const MARKETING = {newsletter, survey}
policy marketing for purposes MARKETING {
  deny erasure_pending when contact.erasure_requested_at <= at
    cite "GDPR Art. 17(1)"
  otherwise deny no_lawful_basis
    cite "GDPR Art. 6(1)"
}
)lawful";

struct ErrorCase {
  const char* name;
  std::string source;
  std::string want;  // the first diagnostic's first line
};

std::string FirstError(const std::string& source) {
  std::vector<SourceFile> files = {{"t.lawful", source}};
  CompileResult r = Compile(files);
  for (const Diagnostic& d : r.diagnostics) {
    if (d.severity == Severity::kError) {
      std::string text = FormatDiagnostic(d, files);
      return text.substr(0, text.find('\n'));
    }
  }
  return "";
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

class ParserErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParserErrorTest, SaysWhatWasExpectedWhere) {
  EXPECT_EQ(FirstError(GetParam().source), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParserErrorTest,
    testing::Values(
        ErrorCase{"missing_closing_brace",
                  std::string(kValid).substr(0, std::string(kValid).size() - 2),
                  "t.lawful:8:1: error: expected `}` to close the policy (nothing may follow its "
                  "`otherwise` rule)"},
        ErrorCase{"missing_when", Replace(kValid, "when contact", "contact"),
                  "t.lawful:4:24: error: expected `when` followed by the rule's condition"},
        ErrorCase{"single_equals", Replace(kValid, "<= at", "= at"),
                  "t.lawful:4:58: error: use `==` to compare two values (a single `=` only appears "
                  "in `const` and `def`)"},
        ErrorCase{"unterminated_text", Replace(kValid, "17(1)\"", "17(1)"),
                  "t.lawful:5:26: error: expected `\"` to end the text (a text cannot span lines)"},
        ErrorCase{
            "missing_otherwise",
            Replace(kValid, "  otherwise deny no_lawful_basis\n    cite \"GDPR Art. 6(1)\"\n", ""),
            "t.lawful:6:1: error: expected a clause (`cite`, `evidence`, `valid until`, "
            "`obligations`, `note`, "
            "`reason`), another rule (`deny ...` or `allow ...`), or the policy's closing "
            "`otherwise` rule"},
        ErrorCase{"misspelt_clause",
                  Replace(kValid, "cite \"GDPR Art. 17(1)\"", "cte \"GDPR Art. 17(1)\""),
                  "t.lawful:5:5: error: expected a clause (`cite`, `evidence`, `valid until`, "
                  "`obligations`, `note`, "
                  "`reason`), another rule (`deny ...` or `allow ...`), or the policy's closing "
                  "`otherwise` rule"},
        ErrorCase{"cite_without_text", Replace(kValid, "cite \"GDPR Art. 17(1)\"", "cite GDPR"),
                  "t.lawful:5:10: error: expected the citation as a quoted text, e.g. cite \"GDPR "
                  "Art. 6(1)(a)\""},
        ErrorCase{"garbage_at_top", std::string(kValid) + "polcy x\n",
                  "t.lawful:9:1: error: expected a declaration: `purpose`, `const`, `def`, `enum`, "
                  "`policy` or `invariant`"},
        ErrorCase{"missing_expression", Replace(kValid, "<= at", "<="),
                  "t.lawful:5:5: error: expected a value to compare with"},
        ErrorCase{"unclosed_paren",
                  Replace(kValid, "contact.erasure_requested_at <= at",
                          "(contact.erasure_requested_at <= at"),
                  "t.lawful:5:5: error: expected `)`"},
        ErrorCase{
            "reserved_word_as_name", Replace(kValid, "deny erasure_pending", "deny when"),
            "t.lawful:4:8: error: expected a name (letters, digits and `_`, not a reserved word)"},
        ErrorCase{"for_purposes", Replace(kValid, "for purposes", "purposes"),
                  "t.lawful:3:18: error: expected `for purposes ...` after the policy's name"},
        ErrorCase{"unknown_escape", Replace(kValid, "17(1)", "17\\(1)"),
                  "t.lawful:5:24: error: unknown escape in a text: write `\\\\` for a backslash, "
                  "`\\\"` for a quote, `\\n` for a new line"},
        ErrorCase{"decimal_number", Replace(kValid, "<= at", "<= 2.5"),
                  "t.lawful:4:62: error: numbers are whole numbers; decimals such as 2.5 are not "
                  "supported"},
        ErrorCase{"chained_comparison", Replace(kValid, "<= at", "<= at < at"),
                  "t.lawful:4:63: error: comparisons cannot be chained: write `a < b and b < c`"},
        ErrorCase{"duplicate_clause",
                  Replace(kValid, "cite \"GDPR Art. 17(1)\"", "cite \"A\" cite \"B\""),
                  "t.lawful:5:14: error: rule `erasure_pending` already has a `cite` clause; give "
                  "each clause once"},
        ErrorCase{"bad_date",
                  Replace(kValid, "policy marketing for purposes MARKETING {",
                          "policy marketing for purposes MARKETING effective from 2026-02-30 {"),
                  "t.lawful:3:56: error: `2026-02-30` is not a real calendar date"}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return std::string(p.param.name); });

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep =
      std::string("const X = ") + std::string(100000, '(') + "1" + std::string(100000, ')') + "\n";
  std::string error = FirstError(deep);
  EXPECT_THAT(error, testing::HasSubstr("nested too deeply"));
}

TEST(Parser, AcceptsTheValidExample) {
  CompileResult r = Compile({{"t.lawful", kValid}});
  EXPECT_TRUE(r.ok()) << FormatDiagnostics(r.diagnostics, {{"t.lawful", kValid}});
}

TEST(Parser, CaretPointsAtTheSpan) {
  std::vector<SourceFile> files = {{"t.lawful", Replace(kValid, "when contact", "contact")}};
  CompileResult r = Compile(files);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(FormatDiagnostic(r.diagnostics[0], files),
            "t.lawful:4:24: error: expected `when` followed by the rule's condition\n"
            "    deny erasure_pending contact.erasure_requested_at <= at\n"
            "                         ^\n");
}

TEST(Parser, OversizedFileIsRefused) {
  std::string big(2 << 20, '#');
  EXPECT_THAT(FirstError(big), testing::HasSubstr("a rule file may be at most 1048576 bytes"));
}

}  // namespace
}  // namespace lawful::dsl
