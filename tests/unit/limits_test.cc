// The rules language's limits (docs/language.md, "Limits"): each is a located `limit` diagnostic
// at the first thing past it, never a crash, a hang or an error without a place. One row per
// limit: the rule set that crosses it and the first line of the diagnostic.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"

namespace lawful::dsl {
namespace {

// A one-file rule set: one purpose, one policy with `rules` (each an indented line), and the
// otherwise rule; `before` goes between the purpose and the policy.
std::string RuleSet(const std::string& rules, const std::string& before = "") {
  return absl::StrCat("purpose newsletter\n", before, "policy p for purposes {newsletter} {\n",
                      rules, "  otherwise deny last cite \"c\"\n}\n");
}

std::string Repeat(int n, const std::function<std::string(int)>& line) {
  std::string out;
  for (int i = 0; i < n; ++i) out += line(i);
  return out;
}

struct LimitCase {
  const char* name;
  std::function<std::vector<SourceFile>()> files;
  std::string want;  // the first line of the first `limit` diagnostic
};

class LimitTest : public testing::TestWithParam<LimitCase> {};

TEST_P(LimitTest, IsALocatedDiagnostic) {
  const std::vector<SourceFile> files = GetParam().files();
  CompileResult result = Compile(files);
  ASSERT_FALSE(result.ok());
  std::string got;
  for (const Diagnostic& d : result.diagnostics) {
    if (d.code == "limit") {
      got = FormatDiagnostic(d, files);
      break;
    }
  }
  ASSERT_FALSE(got.empty()) << FormatDiagnostics(result.diagnostics, files);
  EXPECT_EQ(got.substr(0, got.find('\n')), GetParam().want);
  EXPECT_THAT(got, testing::HasSubstr("^")) << "shown with its line and a caret";
}

INSTANTIATE_TEST_SUITE_P(
    Table, LimitTest,
    testing::Values(
        LimitCase{"file_size",
                  [] {
                    return std::vector<SourceFile>{{"t.lawful", std::string((1 << 20) + 1, '#')}};
                  },
                  "t.lawful:1:1: error: the file is 1048577 bytes; a rule file may be at most "
                  "1048576 bytes"},
        LimitCase{"name_length",
                  [] {
                    return std::vector<SourceFile>{
                        {"t.lawful",
                         RuleSet("", absl::StrCat("purpose ", std::string(129, 'a'), "\n"))}};
                  },
                  "t.lawful:2:9: error: a name may be at most 128 characters long"},
        LimitCase{"text_length",
                  [] {
                    return std::vector<SourceFile>{
                        {"t.lawful", RuleSet(absl::StrCat("  deny x when true cite \"",
                                                          std::string(4097, 'c'), "\"\n"))}};
                  },
                  "t.lawful:3:25: error: a text may be at most 4096 characters long"},
        LimitCase{
            "duration",
            [] {
              return std::vector<SourceFile>{{"t.lawful", RuleSet("", "const D = 100001 days\n")}};
            },
            "t.lawful:2:11: error: a duration may be at most 100000 days"},
        LimitCase{"grammar_nesting",
                  [] {
                    return std::vector<SourceFile>{
                        {"t.lawful", RuleSet("", absl::StrCat("const X = ", std::string(40, '('),
                                                              "1", std::string(40, ')'), "\n"))}};
                  },
                  "t.lawful:2:41: error: the expression is nested too deeply; split it into named "
                  "definitions (`def`)"},
        LimitCase{"files",
                  [] {
                    std::vector<SourceFile> files = {{"f0000.lawful", RuleSet("")}};
                    for (int i = 1; i <= 1024; ++i)
                      files.push_back({absl::StrCat("f", 10000 + i, ".lawful"), "# empty\n"});
                    return files;
                  },
                  "f11024.lawful:1:1: error: this file is one too many: a rule set may have at "
                  "most 1024 files"},
        LimitCase{"policies",
                  [] {
                    return std::vector<SourceFile>{
                        {"t.lawful",
                         absl::StrCat(
                             "purpose newsletter\n", Repeat(1025, [](int i) {
                               return absl::StrCat(
                                   "policy p", i,
                                   " for purposes {newsletter} { otherwise deny no cite \"c\" }\n");
                             }))}};
                  },
                  "t.lawful:1026:8: error: policy `p1024` is one too many: a rule set may have at "
                  "most 1024 policies"},
        LimitCase{"rules",
                  [] {
                    return std::vector<SourceFile>{{"t.lawful", RuleSet(Repeat(4096, [](int i) {
                                                      return absl::StrCat(
                                                          "  deny r", i, " when true cite \"c\"\n");
                                                    }))}};
                  },
                  "t.lawful:4099:18: error: rule `last` is one too many: a rule set may have at "
                  "most 4096 rules "
                  "(`otherwise` rules included)"},
        // Definitions are copied into each use: 2^19 copies of `a0` would take hours and gigabytes.
        LimitCase{"definition_chain",
                  [] {
                    std::string defs = "def a0 = contact.email == \"x\"\n";
                    for (int i = 1; i < 20; ++i)
                      absl::StrAppend(&defs, "def a", i, " = a", i - 1, " or a", i - 1, "\n");
                    return std::vector<SourceFile>{
                        {"t.lawful", RuleSet("  deny x when a19 cite \"c\"\n", defs)}};
                  },
                  "t.lawful:23:3: error: rule `x` takes the rule set past 262144 compiled "
                  "instructions: each use of "
                  "a definition copies its body, so a chain of definitions that each use the "
                  "previous twice doubles "
                  "at every step"},
        // Each `any` takes a local value; four per rule reach the 4097th in the 1025th rule.
        LimitCase{"local_values",
                  [] {
                    return std::vector<SourceFile>{
                        {"t.lawful", RuleSet(Repeat(1100, [](int i) {
                           return absl::StrCat(
                               "  deny r", i, " when ",
                               Repeat(4,
                                      [](int k) {
                                        return absl::StrCat(
                                            k > 0 ? " or " : "",
                                            "any c in contact.consents where c.channel == email");
                                      }),
                               " cite \"c\"\n");
                         }))}};
                  },
                  "t.lawful:1027:3: error: rule `r1024` takes the rule set past 4096 local values "
                  "(one per `any`, "
                  "`all`, `count` and `latest`, and per computed argument of a definition, counted "
                  "in every copy "
                  "of it)"}),
    [](const testing::TestParamInfo<LimitCase>& p) { return std::string(p.param.name); });

// Just under each count limit compiles: the limits are the documented numbers, not one less.
TEST(Limits, RuleSetsAtTheLimitsCompile) {
  const std::string rules =
      Repeat(4095, [](int i) { return absl::StrCat("  deny r", i, " when true cite \"c\"\n"); });
  CompileResult r = Compile({{"t.lawful", RuleSet(rules)}});
  EXPECT_TRUE(r.ok()) << (r.diagnostics.empty() ? "" : r.diagnostics.front().message);
}

}  // namespace
}  // namespace lawful::dsl
