// `lawful sql`'s compiler without a database: every outreach of the shipped rules compiles, and
// what the dialect cannot express is a located diagnostic, never a different query.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/sql.h"
#include "lawful/testkit.h"

namespace lawful {
namespace {

sql::CompiledQuery Compile(const std::string& rules, const std::string& purpose,
                           lawful::v1::Channel channel) {
  const dsl::CheckResult checked = dsl::CheckRuleSet({{"rules.lawful", rules}});
  EXPECT_TRUE(checked.ok());
  return sql::CompileQuery(*checked.rules, {purpose, channel, lawful::v1::NOTICE_TYPE_UNSPECIFIED},
                           "v1");
}

TEST(SqlCompile, EveryShippedOutreachCompiles) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded =
      dsl::LoadRuleSet(std::string(LAWFUL_SOURCE_DIR) + "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const dsl::CheckResult checked = dsl::CheckRuleSet(loaded->sources);
  ASSERT_TRUE(checked.ok());
  for (const std::string& purpose : checked.rules->purposes) {
    for (auto channel : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS,
                         lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
      const sql::CompiledQuery q = sql::CompileQuery(
          *checked.rules, {purpose, channel, lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION},
          loaded->rule_set->version());
      EXPECT_TRUE(q.ok()) << purpose << " " << channel << ": "
                          << dsl::FormatDiagnostics(q.diagnostics, loaded->sources);
      EXPECT_NE(q.text.find("CAST($1 AS timestamptz)"), std::string::npos);
      EXPECT_NE(q.text.find(loaded->rule_set->version()), std::string::npos);
    }
  }
}

constexpr char kHeader[] =
    "purpose newsletter, survey\n"
    "policy p for purposes {newsletter} channels {email} {\n";

struct Unsupported {
  const char* rule;     // the rule's line, the policy's second
  uint32_t column;      // where the diagnostic points
  const char* message;  // part of it
};

TEST(SqlCompile, WhatTheDialectCannotExpressIsALocatedError) {
  const std::vector<Unsupported> cases = {
      // Undeclared purposes read from the facts are all one value to the engine.
      {"  deny same when any a in contact.consents where any b in contact.consents where "
       "a.purpose == b.purpose\n",
       84, "comparing two purposes"},
      // PostgreSQL holds instants to the microsecond.
      {"  deny old when contact.last_activity_at < 2026-01-01T00:00:00.000000001Z\n", 44,
       "nanoseconds"},
  };
  for (const Unsupported& c : cases) {
    SCOPED_TRACE(c.rule);
    const std::string rules = absl::StrCat(kHeader, c.rule,
                                           "    cite \"x\"\n"
                                           "  otherwise deny no\n"
                                           "    cite \"y\"\n"
                                           "}\n");
    const sql::CompiledQuery q = Compile(rules, "newsletter", lawful::v1::CHANNEL_EMAIL);
    EXPECT_FALSE(q.ok());
    ASSERT_EQ(q.diagnostics.size(), 1u);
    EXPECT_EQ(q.diagnostics[0].file, "rules.lawful");
    EXPECT_EQ(q.diagnostics[0].line, 3u);
    EXPECT_EQ(q.diagnostics[0].column, c.column);
    EXPECT_NE(q.diagnostics[0].message.find(c.message), std::string::npos)
        << q.diagnostics[0].message;
  }
}

TEST(SqlCompile, AnOutreachNoPolicyCoversIsRefused) {
  const std::string rules = absl::StrCat(kHeader,
                                         "  otherwise deny no\n"
                                         "    cite \"y\"\n"
                                         "}\n");
  EXPECT_FALSE(Compile(rules, "survey", lawful::v1::CHANNEL_EMAIL).ok());
  EXPECT_FALSE(Compile(rules, "newsletter", lawful::v1::CHANNEL_SMS).ok());
  const sql::CompiledQuery undeclared = Compile(rules, "newsletters", lawful::v1::CHANNEL_EMAIL);
  ASSERT_EQ(undeclared.diagnostics.size(), 1u);
  EXPECT_EQ(undeclared.diagnostics[0].message,
            "`newsletters` is not a purpose declared by the rule set");
  EXPECT_TRUE(Compile(rules, "newsletter", lawful::v1::CHANNEL_EMAIL).ok());
}

TEST(SqlCompile, TheCommandLine) {
  const testkit::CommandResult schema = testkit::RunCommand({LAWFUL_CLI, "sql", "--schema"});
  EXPECT_EQ(schema.exit_code, 0);
  EXPECT_NE(schema.out.find("CREATE TABLE contacts (contact_id text PRIMARY KEY"),
            std::string::npos);
  const std::string rules = "--rules=" + std::string(LAWFUL_SOURCE_DIR) + "/rules";
  EXPECT_EQ(testkit::RunCommand({LAWFUL_CLI, "sql", rules, "--purpose=survey", "--channel=sms"})
                .exit_code,
            0);
  EXPECT_EQ(testkit::RunCommand(
                {LAWFUL_CLI, "sql", rules, "--purpose=survey", "--channel=sms", "--dialect=mysql"})
                .exit_code,
            2);
  const testkit::CommandResult undeclared =
      testkit::RunCommand({LAWFUL_CLI, "sql", rules, "--purpose=surveys", "--channel=sms"});
  EXPECT_EQ(undeclared.exit_code, 2);
  EXPECT_NE(undeclared.err.find("`surveys` is not a purpose"), std::string::npos);
}

}  // namespace
}  // namespace lawful
