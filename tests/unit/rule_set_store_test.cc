// The rule set lawfuld serves (server/rule_set_store.h): a reload swaps in a whole new snapshot or
// nothing, a failed reload keeps the old rules serving, a snapshot taken before a swap keeps
// deciding with its own rules, archived versions replay. The race tests run under ThreadSanitizer
// in scripts/test.sh: readers decide with Current() while reloads swap snapshots underneath.
#include "rule_set_store.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"

namespace lawful::server {
namespace {

using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::HasSubstr;

// Generation `n` of a one-rule policy: even generations allow, odd ones deny, and the rule is
// named after its generation, so every decision says which rules made it.
std::string Rules(int generation) {
  return absl::StrCat("purpose newsletter\n\npolicy mail for purposes newsletter {\n  otherwise ",
                      generation % 2 == 0 ? "allow" : "deny", " generation_", generation,
                      "\n    cite \"test\"\n}\n");
}

constexpr const char* kBroken =
    "purpose newsletter\n\npolicy mail for purposes newsletter {\n  otherwise\n}\n";

// Replaces the rule file whole (rename), as an editor or a deployment does, so a reload never
// reads half a file.
void Install(const std::filesystem::path& dir, const std::string& text) {
  const std::filesystem::path staged = dir.parent_path() / (dir.filename().string() + ".staged");
  WriteFile(staged, text);
  std::filesystem::rename(staged, dir / "rules.lawful");
}

struct Fixture {
  TempDir root;
  std::filesystem::path rules = root.path() / "rules";
  std::filesystem::path archive = root.path() / "archive";
  Fixture() { std::filesystem::create_directories(rules); }
};

// Decides the one contact every test uses with `snapshot`'s rules.
Decision DecideWith(const Snapshot& snapshot, Evaluator& evaluator) {
  absl::StatusOr<PreparedOutreach> prepared = snapshot.rule_set->Prepare(
      Outreach{"newsletter", lawful::v1::CHANNEL_EMAIL, lawful::v1::NOTICE_TYPE_UNSPECIFIED,
               absl::FromUnixSeconds(1800000000)});
  EXPECT_TRUE(prepared.ok()) << prepared.status();
  lawful::v1::Contact contact;
  contact.set_id("c-1");
  return evaluator.Decide(*prepared, contact);
}

// The snapshot is internally consistent: the rule that decided is the one its GetRuleSet answer
// lists, under the same version. Returns the generation that decided.
int CheckedGeneration(const Snapshot& snapshot, Evaluator& evaluator) {
  const Decision decision = DecideWith(snapshot, evaluator);
  if (decision.rule == nullptr) {
    ADD_FAILURE() << "no rule decided: " << decision.error_message;
    return -1;
  }
  const int generation = std::stoi(decision.rule->name.substr(std::string("generation_").size()));
  EXPECT_EQ(decision.outcome, generation % 2 == 0 ? Outcome::kAllow : Outcome::kDeny);
  EXPECT_EQ(snapshot.info.version(), snapshot.rule_set->version());
  EXPECT_EQ(snapshot.info.policies(0).rules(0).rule().name(), decision.rule->name);
  return generation;
}

TEST(RuleSetStore, ServesNothingUntilTheFirstReloadSucceeds) {
  Fixture f;
  RuleSetStore store(f.rules.string());
  EXPECT_EQ(store.Current(), nullptr);
  Install(f.rules, kBroken);
  EXPECT_FALSE(store.Reload().ok());
  EXPECT_EQ(store.Current(), nullptr);
  EXPECT_THAT(store.last_reload_error(),
              HasSubstr("rules.lawful:5:1: error: expected `deny` or `allow` after `otherwise`"));
  Install(f.rules, Rules(0));
  ASSERT_TRUE(store.Reload().ok());
  ASSERT_NE(store.Current(), nullptr);
  EXPECT_EQ(store.last_reload_error(), "");
}

// A rule file a reload must refuse, and the start of the located error it is refused with.
struct BrokenRules {
  const char* name;
  std::string text;
  std::string error;
};

class FailedReloadTest : public ::testing::TestWithParam<BrokenRules> {};

TEST_P(FailedReloadTest, KeepsTheOldRulesServingAndSaysWhy) {
  Fixture f;
  RuleSetStore store(f.rules.string());
  Install(f.rules, Rules(0));
  ASSERT_TRUE(store.Reload().ok());
  const std::shared_ptr<const Snapshot> served = store.Current();

  Install(f.rules, GetParam().text);
  const absl::Status failed = store.Reload();
  EXPECT_EQ(failed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Current(), served);
  EXPECT_THAT(store.last_reload_error(), HasSubstr(GetParam().error));

  Install(f.rules, Rules(1));
  ASSERT_TRUE(store.Reload().ok());
  EXPECT_NE(store.Current(), served);
  EXPECT_EQ(store.last_reload_error(), "");
}

INSTANTIATE_TEST_SUITE_P(
    RuleSetStore, FailedReloadTest,
    ::testing::Values(
        BrokenRules{"syntax_error", kBroken,
                    "rules.lawful:5:1: error: expected `deny` or `allow` after `otherwise`"},
        // Folding B divided INT64_MIN by -1 and killed lawfuld (SIGFPE); A is refused instead.
        BrokenRules{
            "const_overflow",
            "purpose newsletter\n\nconst A = 0 - 9223372036854775807 - 1\nconst B = A / (0 - 1)\n\n"
            "policy mail for purposes newsletter {\n  deny big when B > 0\n    cite \"test\"\n"
            "  otherwise allow ok\n    cite \"test\"\n}\n",
            "rules.lawful:3:35: error: `-` overflows: -9223372036854775807 - 1 is outside the "
            "numbers rules "
            "can hold (-9223372036854775807 to 9223372036854775807)\n"
            "  const A = 0 - 9223372036854775807 - 1\n"
            "                                    ^\n"}),
    [](const ::testing::TestParamInfo<BrokenRules>& p) { return std::string(p.param.name); });

TEST(RuleSetStore, ASnapshotTakenBeforeAReloadKeepsDecidingWithItsOwnRules) {
  Fixture f;
  RuleSetStore store(f.rules.string());
  Evaluator evaluator;
  Install(f.rules, Rules(0));
  ASSERT_TRUE(store.Reload().ok());
  const std::shared_ptr<const Snapshot> before = store.Current();
  Install(f.rules, Rules(1));
  ASSERT_TRUE(store.Reload().ok());
  EXPECT_EQ(CheckedGeneration(*before, evaluator), 0);
  EXPECT_EQ(CheckedGeneration(*store.Current(), evaluator), 1);
}

TEST(RuleSetStore, VersionFindsTheServedRulesThenTheArchiveElseNotFound) {
  Fixture f;
  RuleSetStore store(f.rules.string(), f.archive.string());
  Evaluator evaluator;
  Install(f.rules, Rules(0));
  ASSERT_TRUE(store.Reload().ok());
  const std::string first = store.Current()->rule_set->version();
  Install(f.rules, Rules(1));
  ASSERT_TRUE(store.Reload().ok());
  const std::string second = store.Current()->rule_set->version();

  absl::StatusOr<std::shared_ptr<const Snapshot>> served = store.Version(second);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(*served, store.Current());
  absl::StatusOr<std::shared_ptr<const Snapshot>> archived = store.Version(first);
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_EQ(CheckedGeneration(**archived, evaluator), 0);
  // Loaded once, then kept.
  EXPECT_EQ(*store.Version(first), *archived);

  const absl::Status unknown = store.Version(std::string(64, 'a')).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("rule_set_version: "));

  RuleSetStore without_archive(f.rules.string());
  ASSERT_TRUE(without_archive.Reload().ok());
  const absl::Status no_archive = without_archive.Version(first).status();
  EXPECT_EQ(no_archive.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_archive.message(), HasSubstr("--archive_dir"));
}

TEST(RuleSetStore, AnUnarchivableRuleSetIsNotServed) {
  Fixture f;
  WriteFile(f.archive, "a file where the archive directory should be");
  RuleSetStore store(f.rules.string(), f.archive.string());
  Install(f.rules, Rules(0));
  EXPECT_FALSE(store.Reload().ok());
  EXPECT_EQ(store.Current(), nullptr);
  EXPECT_NE(store.last_reload_error(), "");
}

// Readers decide with Current() while two threads reload, good rules and broken ones in turn, and
// a third replays archived versions. Every snapshot a reader gets is whole (its decision, rule
// and GetRuleSet answer agree), and a reader never sees the rules go back a generation.
TEST(RuleSetStoreRace, ReadersDecideWithWholeSnapshotsWhileReloadsSwapThem) {
  Fixture f;
  RuleSetStore store(f.rules.string(), f.archive.string());
  Install(f.rules, Rules(0));
  ASSERT_TRUE(store.Reload().ok());
  const std::string first_version = store.Current()->rule_set->version();

  constexpr int kGenerations = 40;
  std::atomic<bool> done{false};
  std::atomic<int64_t> decided{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      Evaluator evaluator;
      int last = 0;
      while (!done.load(std::memory_order_acquire)) {
        const std::shared_ptr<const Snapshot> snapshot = store.Current();
        const int generation = CheckedGeneration(*snapshot, evaluator);
        EXPECT_GE(generation, last) << "the served rules went back a generation";
        last = generation;
        (void)store.last_reload_error();
        decided.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::thread replayer([&] {
    Evaluator evaluator;
    while (!done.load(std::memory_order_acquire)) {
      absl::StatusOr<std::shared_ptr<const Snapshot>> archived = store.Version(first_version);
      ASSERT_TRUE(archived.ok()) << archived.status();
      EXPECT_EQ(CheckedGeneration(**archived, evaluator), 0);
    }
  });
  // A second reloader reloads whatever is installed, racing the first one's reloads.
  std::thread second_reloader([&] {
    while (!done.load(std::memory_order_acquire)) (void)store.Reload();
  });
  for (int generation = 1; generation <= kGenerations; ++generation) {
    Install(f.rules, kBroken);
    (void)store.Reload();
    Install(f.rules, Rules(generation));
    ASSERT_TRUE(store.Reload().ok()) << generation;
  }
  done.store(true, std::memory_order_release);
  for (std::thread& reader : readers) reader.join();
  replayer.join();
  second_reloader.join();

  Evaluator evaluator;
  EXPECT_EQ(CheckedGeneration(*store.Current(), evaluator), kGenerations);
  EXPECT_EQ(store.last_reload_error(), "");
  EXPECT_GT(decided.load(), 0);
}

}  // namespace
}  // namespace lawful::server
