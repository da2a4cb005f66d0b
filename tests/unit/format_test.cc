// `lawful fmt`: canonical, idempotent, comment-preserving, and meaning-preserving (formatting a
// rule set and recompiling it yields the same bytecode, source positions aside).
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"

namespace lawful::dsl {
namespace {

std::vector<SourceFile> Corpus() {
  std::vector<SourceFile> files;
  auto rules = ReadRuleFiles(LAWFUL_SOURCE_DIR "/rules");
  EXPECT_TRUE(rules.ok()) << rules.status();
  if (rules.ok()) files = *rules;
  auto golden = ReadRuleFiles(LAWFUL_SOURCE_DIR "/tests/golden");
  EXPECT_TRUE(golden.ok()) << golden.status();
  if (golden.ok()) files.insert(files.end(), golden->begin(), golden->end());
  return files;
}

std::vector<std::string> Comments(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t hash = line.find('#');
    if (hash != absl::string_view::npos)
      out.emplace_back(absl::StripTrailingAsciiWhitespace(line.substr(hash)));
  }
  return out;
}

TEST(Format, IsIdempotentAndKeepsEveryComment) {
  for (const SourceFile& file : Corpus()) {
    absl::StatusOr<std::string> once = FormatSource(file);
    ASSERT_TRUE(once.ok()) << file.path << ": " << once.status();
    absl::StatusOr<std::string> twice = FormatSource({file.path, *once});
    ASSERT_TRUE(twice.ok()) << twice.status();
    EXPECT_EQ(*once, *twice) << file.path;
    EXPECT_EQ(Comments(file.text), Comments(*once)) << file.path;
  }
}

// Everything but source positions.
void ExpectSameProgram(const Program& a, const Program& b) {
  ASSERT_EQ(a.code.size(), b.code.size());
  for (size_t i = 0; i < a.code.size(); ++i) {
    EXPECT_EQ(a.code[i].op, b.code[i].op) << i;
    EXPECT_EQ(a.code[i].a, b.code[i].a) << i;
    EXPECT_EQ(a.code[i].b, b.code[i].b) << i;
    EXPECT_EQ(a.code[i].c, b.code[i].c) << i;
  }
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.strings, b.strings);
  EXPECT_EQ(a.sets, b.sets);
  EXPECT_EQ(a.zones, b.zones);
  EXPECT_EQ(a.purposes, b.purposes);
  ASSERT_EQ(a.rules.size(), b.rules.size());
  for (size_t i = 0; i < a.rules.size(); ++i) {
    EXPECT_EQ(a.rules[i].name, b.rules[i].name);
    EXPECT_EQ(a.rules[i].citation, b.rules[i].citation);
    EXPECT_EQ(a.rules[i].obligations, b.rules[i].obligations);
  }
}

TEST(Format, FormattedRuleSetsCompileToTheSameBytecode) {
  for (const char* dir : {LAWFUL_SOURCE_DIR "/rules", LAWFUL_SOURCE_DIR "/tests/golden"}) {
    auto files = ReadRuleFiles(dir);
    ASSERT_TRUE(files.ok());
    std::vector<SourceFile> formatted;
    for (const SourceFile& f : *files) formatted.push_back({f.path, *FormatSource(f)});
    CompileResult a = Compile(*files), b = Compile(formatted);
    ASSERT_TRUE(a.ok() && b.ok()) << FormatDiagnostics(b.diagnostics, formatted);
    ExpectSameProgram(*a.program, *b.program);
  }
}

struct FormatCase {
  const char* name;
  const char* input;
  const char* want;
};

class FormatTableTest : public testing::TestWithParam<FormatCase> {};

TEST_P(FormatTableTest, Canonical) {
  absl::StatusOr<std::string> out = FormatSource({"t.lawful", GetParam().input});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FormatTableTest,
    testing::Values(
        FormatCase{
            "spacing",
            "\n\npurpose   a ,b\nconst X={a,b}   # the set\nconst   D = 24   months # a duration\n",
            "purpose a, b\nconst X = {a, b}     # the set\nconst D = 24 months  # a duration\n"},
        FormatCase{"policy_layout",
                   "purpose a\npolicy p for purposes a {\n\n deny   r when "
                   "contact.last_activity_at<at-2 days\n"
                   "cite \"X\"\n      otherwise deny d\n cite \"Y\"\n\n}\n",
                   "purpose a\npolicy p for purposes a {\n  deny r when contact.last_activity_at < "
                   "at - 2 days\n"
                   "    cite \"X\"\n  otherwise deny d\n    cite \"Y\"\n}\n"},
        FormatCase{"continuations_and_calls",
                   "def f( c:consent ,n:int )=\nc.granted_at<=at and\n            not(n> -1)\ndef "
                   "g = f ( x , 2 )\n",
                   "def f(c: consent, n: int) =\n  c.granted_at <= at and\n      not (n > -1)\ndef "
                   "g = f(x, 2)\n"},
        FormatCase{"comments_take_the_next_lines_indent",
                   "purpose a\npolicy p for purposes a {\n# gates\n    deny r when true\n  # why\n "
                   "cite \"X\"\n"
                   "otherwise deny d cite \"Y\"\n}\n\n\n",
                   "purpose a\npolicy p for purposes a {\n  # gates\n  deny r when true\n    # "
                   "why\n    cite \"X\"\n"
                   "  otherwise deny d cite \"Y\"\n}\n"},
        FormatCase{"dates_and_instants",
                   "policy p for purposes a effective from 2026-01-01 effective until "
                   "2027-01-01T00:00:00Z {\n otherwise deny d cite \"Y\"\n}\n",
                   "policy p for purposes a effective from 2026-01-01 effective until "
                   "2027-01-01T00:00:00Z {\n  otherwise deny d cite \"Y\"\n}\n"}),
    [](const testing::TestParamInfo<FormatCase>& p) { return std::string(p.param.name); });

TEST(Format, RefusesFilesThatDoNotParse) {
  absl::StatusOr<std::string> out = FormatSource({"t.lawful", "policy p for {\n"});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), testing::HasSubstr("t.lawful:1:"));
}

}  // namespace
}  // namespace lawful::dsl
