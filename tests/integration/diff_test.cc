// End-to-end tests of `lawful diff`: the real CLI on rule sets in temporary directories and in a
// temporary git repository. No server is involved, so this target builds without gRPC.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::CommandResult;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::RunCommandIn;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

// The instant every comparison decides at.
constexpr char kAt[] = "2026-03-02T09:00:00Z";

// Rules with the retention choice as a constant, as in the shipped rules; `RetentionRules(36)`
// is the change a legal team would review. Only e-mail and SMS are covered, so that
// --all_purposes has outreaches to skip.
std::string RetentionRules(int months) {
  return absl::StrCat(R"rules(purpose newsletter, product_offer

const RETENTION = )rules",
                      months, R"rules( months

policy marketing for purposes {newsletter, product_offer} channels {email, sms} {
  deny erasure_pending when contact.erasure_requested_at <= at
    cite "GDPR Art. 17(1)"
  deny retention_expired when contact.last_activity_at is missing
      or contact.last_activity_at < at - RETENTION
    cite "GDPR Art. 5(1)(e)"
  allow consent when any c in contact.consents where c.purpose == purpose and c.channel == channel and c.granted_at <= at and not (c.withdrawn_at <= at)
    cite "GDPR Art. 6(1)(a)"
  otherwise deny no_lawful_basis
    cite "GDPR Art. 6(1)"
}
)rules");
}

// A contact last active at `last_activity` (empty: never), with or without a newsletter consent.
std::string DiffContact(const std::string& id, const std::string& last_activity, bool consent) {
  std::string json = absl::StrCat(R"({"id":")", id, R"(","email":")", id, R"(@example.com")");
  if (!last_activity.empty()) absl::StrAppend(&json, R"(,"lastActivityAt":")", last_activity, "\"");
  if (consent) {
    absl::StrAppend(&json, R"(,"consents":[{"id":"k-)", id,
                    R"(","purpose":"newsletter","channel":"CHANNEL_EMAIL",)",
                    R"("grantedAt":"2022-01-01T00:00:00Z"}])");
  }
  return json + "}";
}

// Both sides of both boundaries at kAt (2026-03-02T09:00:00Z): inactive exactly 24 months,
// 24 months and a second, exactly 36 months, 36 months and a second; plus contacts the change
// cannot touch.
std::string RetentionContacts() {
  return absl::StrCat(DiffContact("d-24", "2024-03-02T09:00:00Z", true), "\n",
                      DiffContact("d-24s", "2024-03-02T08:59:59Z", true), "\n",
                      DiffContact("d-36", "2023-03-02T09:00:00Z", true), "\n",
                      DiffContact("d-36s", "2023-03-02T08:59:59Z", true), "\n",
                      DiffContact("d-30-no-consent", "2023-09-02T09:00:00Z", false), "\n",
                      DiffContact("d-never-active", "", true), "\n",
                      DiffContact("d-recent-no-consent", "2026-01-01T00:00:00Z", false), "\n");
}

// The path of `git`, from PATH (posix_spawn does not search it).
std::string GitPath() {
  const char* path = getenv("PATH");
  for (const absl::string_view dir : absl::StrSplit(path == nullptr ? "" : path, ':')) {
    const fs::path candidate = fs::path(std::string(dir)) / "git";
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "git";
}

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    before_ = dir_.path() / "before";
    after_ = dir_.path() / "after";
    fs::create_directory(before_);
    fs::create_directory(after_);
    WriteFile(before_ / "rules.lawful", RetentionRules(24));
    WriteFile(after_ / "rules.lawful", RetentionRules(36));
    contacts_ = dir_.path() / "contacts.jsonl";
    WriteFile(contacts_, RetentionContacts());
  }

  std::vector<std::string> DiffArgs(const std::string& before, const std::string& after,
                                    const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {LAWFUL_CLI_PATH, "diff", "--before=" + before,
                                     "--after=" + after, absl::StrCat("--at=", kAt)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(contacts_.string());
    return argv;
  }
  CommandResult Diff(const std::string& before, const std::string& after,
                     const std::vector<std::string>& flags = {"--purpose=newsletter",
                                                              "--channel=email"}) {
    return RunCommand(DiffArgs(before, after, flags));
  }

  // Runs git in `repo`, failing the test when it fails.
  void Git(const fs::path& repo, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {GitPath(),
                                     "-c",
                                     "user.name=Lawful Test",
                                     "-c",
                                     "user.email=test@example.com",
                                     "-c",
                                     "commit.gpgsign=false"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult result = RunCommandIn(repo.string(), argv);
    ASSERT_EQ(result.exit_code, 0) << absl::StrJoin(args, " ") << ": " << result.err;
  }

  TempDir dir_;
  fs::path before_;
  fs::path after_;
  fs::path contacts_;
};

// The exact transitions of RETENTION 24 -> 36 months over RetentionContacts(): the contacts
// inactive for more than 24 and at most 36 months leave retention_expired, nothing else moves.
void ExpectRetentionTable(const CommandResult& result) {
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("contacts: 7\n"));
  EXPECT_THAT(result.out, HasSubstr("newsletter by email: 3 of 7 decisions changed (42.86%)"));
  const std::regex to_consent(
      R"(\n  deny/retention_expired +allow/consent +2 +28\.57% +d-24s, d-36\n)");
  const std::regex to_no_basis(
      R"(\n  deny/retention_expired +deny/no_lawful_basis +1 +14\.29% +d-30-no-consent\n)");
  std::smatch consent_row, no_basis_row;
  ASSERT_TRUE(std::regex_search(result.out, consent_row, to_consent)) << result.out;
  ASSERT_TRUE(std::regex_search(result.out, no_basis_row, to_no_basis)) << result.out;
  EXPECT_LT(consent_row.position(0), no_basis_row.position(0)) << "sorted by count";
  // Exactly two transitions: the table is its header and those two rows.
  const size_t table = result.out.find("\n  from ");
  ASSERT_NE(table, std::string::npos) << result.out;
  const size_t table_end = result.out.find("\n\n", table);
  EXPECT_EQ(std::count(result.out.begin() + table + 1, result.out.begin() + table_end, '\n'), 2)
      << result.out;
  EXPECT_TRUE(
      std::regex_search(result.out, std::regex(R"(\n  marketing\.retention_expired +5 +2 +-3\n)")))
      << result.out;
  EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(\n  marketing\.consent +1 +3 +\+2\n)")))
      << result.out;
  EXPECT_TRUE(
      std::regex_search(result.out, std::regex(R"(\n  marketing\.no_lawful_basis +1 +2 +\+1\n)")))
      << result.out;
  EXPECT_THAT(result.out, Not(HasSubstr("erasure_pending")));
}

TEST_F(DiffTest, RetentionChangeBetweenDirectoriesMovesExactlyTheContactsInTheNewWindow) {
  ExpectRetentionTable(Diff(before_.string(), after_.string()));
}

TEST_F(DiffTest, IdenticalRuleSetsChangeNoDecision) {
  const CommandResult result = Diff(before_.string(), before_.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("newsletter by email: no decision changed (7 contacts)"));
  EXPECT_THAT(result.out, Not(HasSubstr("from")));
  EXPECT_THAT(result.out, Not(HasSubstr("delta")));
}

TEST_F(DiffTest, GitRevisionsReadTheRulesDirectoryAtEachCommit) {
  const fs::path repo = dir_.path() / "repo";
  fs::create_directories(repo / "rules");
  WriteFile(repo / "rules" / "rules.lawful", RetentionRules(24));
  Git(repo, {"init", "-q"});
  Git(repo, {"add", "rules"});
  Git(repo, {"commit", "-q", "-m", "rules: 24 months"});
  WriteFile(repo / "rules" / "rules.lawful", RetentionRules(36));
  Git(repo, {"commit", "-q", "-a", "-m", "rules: 36 months"});
  // The working tree now differs from both commits: the revisions must be read from git.
  WriteFile(repo / "rules" / "rules.lawful", RetentionRules(12));

  const CommandResult result = RunCommandIn(
      repo.string(), DiffArgs("HEAD~1", "HEAD", {"--purpose=newsletter", "--channel=email"}));
  ExpectRetentionTable(result);
  EXPECT_THAT(result.out, HasSubstr("before:   rules/ at HEAD~1 ("));

  // A revision's rules get the version the same files get from a directory.
  const CommandResult mixed = RunCommandIn(
      repo.string(),
      DiffArgs("HEAD~1", before_.string(), {"--purpose=newsletter", "--channel=email"}));
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_THAT(mixed.out, HasSubstr("no decision changed (7 contacts)"));
  const std::regex versions(R"(before: .*version ([0-9a-f]+)\nafter: .*version ([0-9a-f]+)\n)");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(mixed.out, match, versions)) << mixed.out;
  EXPECT_EQ(match[1].str(), match[2].str());

  const CommandResult unknown =
      RunCommandIn(repo.string(),
                   DiffArgs("no-such-branch", "HEAD", {"--purpose=newsletter", "--channel=email"}));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err,
              HasSubstr("--before=no-such-branch: neither a directory nor a git revision"));
}

TEST_F(DiffTest, JsonHasTheSameCounts) {
  const CommandResult result =
      Diff(before_.string(), after_.string(),
           {"--purpose=newsletter", "--channel=email", "--json", "--examples=1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  google::protobuf::Struct doc;
  const auto status = google::protobuf::util::JsonStringToMessage(result.out, &doc);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << result.out;
  const auto& fields = doc.fields();
  EXPECT_EQ(fields.at("contacts").number_value(), 7);
  EXPECT_EQ(fields.at("malformed_lines").number_value(), 0);
  ASSERT_EQ(fields.at("outreaches").list_value().values_size(), 1);
  const auto& outreach = fields.at("outreaches").list_value().values(0).struct_value().fields();
  EXPECT_EQ(outreach.at("purpose").string_value(), "newsletter");
  EXPECT_EQ(outreach.at("channel").string_value(), "email");
  EXPECT_EQ(outreach.at("changed").number_value(), 3);
  std::vector<std::string> transitions;
  for (const auto& value : outreach.at("transitions").list_value().values()) {
    const auto& t = value.struct_value().fields();
    std::vector<std::string> examples;
    for (const auto& e : t.at("examples").list_value().values())
      examples.push_back(e.string_value());
    transitions.push_back(
        absl::StrCat(t.at("from").struct_value().fields().at("reason").string_value(), " -> ",
                     t.at("to").struct_value().fields().at("outcome").string_value(), "/",
                     t.at("to").struct_value().fields().at("reason").string_value(), " ",
                     t.at("count").number_value(), " ", absl::StrJoin(examples, ",")));
  }
  EXPECT_THAT(transitions,
              ElementsAre("retention_expired -> allow/consent 2 d-24s",
                          "retention_expired -> deny/no_lawful_basis 1 d-30-no-consent"));
  std::vector<std::string> rules;
  for (const auto& value : outreach.at("rules").list_value().values()) {
    const auto& r = value.struct_value().fields();
    rules.push_back(absl::StrCat(r.at("rule").string_value(), " ", r.at("before").number_value(),
                                 " ", r.at("after").number_value(), " ",
                                 r.at("delta").number_value()));
  }
  EXPECT_THAT(rules, ElementsAre("marketing.retention_expired 5 2 -3", "marketing.consent 1 3 2",
                                 "marketing.no_lawful_basis 1 2 1"));

  const CommandResult same = Diff(before_.string(), before_.string(),
                                  {"--purpose=newsletter", "--channel=email", "--json"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  google::protobuf::Struct same_doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(same.out, &same_doc).ok()) << same.out;
  const auto& same_outreach =
      same_doc.fields().at("outreaches").list_value().values(0).struct_value().fields();
  EXPECT_EQ(same_outreach.at("changed").number_value(), 0);
  EXPECT_EQ(same_outreach.at("transitions").list_value().values_size(), 0);
  EXPECT_EQ(same_outreach.at("rules").list_value().values_size(), 0);
}

TEST_F(DiffTest, AllPurposesComparesEveryCoveredOutreachAndNamesTheOthers) {
  const CommandResult result = Diff(before_.string(), after_.string(), {"--all_purposes"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Only newsletter consents exist, but retention applies to every purpose and covered channel.
  EXPECT_THAT(result.out, HasSubstr("newsletter by email: 3 of 7 decisions changed"));
  EXPECT_THAT(result.out, HasSubstr("newsletter by sms: 3 of 7 decisions changed"));
  EXPECT_THAT(result.out, HasSubstr("product_offer by email: 3 of 7 decisions changed"));
  EXPECT_THAT(result.out, HasSubstr("product_offer by sms: 3 of 7 decisions changed"));
  for (const char* skipped :
       {"newsletter by post: skipped: ", "newsletter by phone: skipped: ",
        "product_offer by post: skipped: ", "product_offer by phone: skipped: "}) {
    EXPECT_THAT(result.out, HasSubstr(skipped));
  }
}

TEST_F(DiffTest, MalformedLinesAreReportedAndExitOne) {
  WriteFile(contacts_, absl::StrCat(RetentionContacts(), R"({"id": "broken", )", "\n",
                                    R"({"id":"x","favouriteColour":"blue"})", "\n"));
  const CommandResult result = Diff(before_.string(), after_.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("contacts.jsonl:8:"));
  EXPECT_THAT(result.err, HasSubstr("contacts.jsonl:9:"));
  // The other lines are still compared.
  EXPECT_THAT(result.out, HasSubstr("malformed lines (not decided): 2"));
  EXPECT_THAT(result.out, HasSubstr("3 of 7 decisions changed"));
}

TEST_F(DiffTest, BadFlagsAndRulesExitTwo) {
  const CommandResult no_purpose = Diff(before_.string(), after_.string(), {"--channel=email"});
  EXPECT_EQ(no_purpose.exit_code, 2);
  EXPECT_THAT(no_purpose.err, HasSubstr("--purpose"));
  const CommandResult uncovered =
      Diff(before_.string(), after_.string(), {"--purpose=newsletter", "--channel=post"});
  EXPECT_EQ(uncovered.exit_code, 2);
  EXPECT_THAT(uncovered.err, HasSubstr("newsletter by post cannot be decided"));
  std::string typo = RetentionRules(36);
  typo.replace(typo.find("erasure_requested_at"), 20, "erasure_requsted_at");
  WriteFile(after_ / "rules.lawful", typo);
  const CommandResult broken = Diff(before_.string(), after_.string());
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_THAT(broken.err, HasSubstr("rules.lawful:6:"));
  EXPECT_THAT(broken.err, HasSubstr("erasure_requsted_at"));
}

TEST_F(DiffTest, GenerateComparesSyntheticContacts) {
  const CommandResult result =
      RunCommand({LAWFUL_CLI_PATH, "diff", "--before=" + before_.string(),
                  "--after=" + after_.string(), "--purpose=newsletter", "--channel=email",
                  absl::StrCat("--at=", kAt), "--generate=2000", "--seed=7"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("contacts: 2000\n"));
  // Synthetic ids name the seed.
  EXPECT_THAT(result.out, HasSubstr("c-7-"));
}

}  // namespace
}  // namespace lawful::testing
