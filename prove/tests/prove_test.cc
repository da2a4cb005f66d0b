// The prover on the shipped rules: their invariants are proven; edits a legal team might make are
// caught (or not) as the table says, each violation with a counterexample the engine confirms.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/fixtures.h"
#include "lawful/prove.h"

namespace lawful::prove {
namespace {

using testing::HasSubstr;

const std::string kRulesDir = std::string(LAWFUL_SOURCE_DIR) + "/rules";

std::vector<dsl::SourceFile> ShippedRules() {
  absl::StatusOr<std::vector<dsl::SourceFile>> files = dsl::ReadRuleFiles(kRulesDir);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<dsl::SourceFile>{};
}

std::vector<dsl::SourceFile> ShippedInvariants() {
  absl::StatusOr<std::vector<dsl::SourceFile>> files = dsl::ReadInvariantFiles(kRulesDir);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<dsl::SourceFile>{};
}

const InvariantResult* Find(const Report& report, const std::string& name) {
  for (const InvariantResult& r : report.invariants) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TEST(Prove, ShippedInvariantsHoldOnTheShippedRules) {
  absl::StatusOr<Report> report = ProveDirectory(kRulesDir, Options{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->exit_code(), 0) << FormatReport(*report);
  EXPECT_EQ(report->invariants.size(), 7u);
  for (const InvariantResult& r : report->invariants)
    EXPECT_EQ(r.verdict, Verdict::kProven) << r.name << ": " << r.detail;
  EXPECT_TRUE(report->unreachable.empty()) << FormatReport(*report);
  EXPECT_THAT(report->scope, HasSubstr("every contact with at most 3 entries in each of "
                                       "collection_purposes, consents, objections"));
  EXPECT_THAT(FormatReport(*report), HasSubstr("7 proven, 0 violated, 0 unknown"));
}

// One edit of a shipped rule file and what the prover must say about one invariant.
struct Mutation {
  const char* name;
  const char* file;
  std::string from;  // must occur in the file
  std::string to;
  const char* invariant;
  Verdict verdict;
};

class Mutations : public testing::TestWithParam<Mutation> {};

TEST_P(Mutations, AreCaughtOrProvenHarmless) {
  const Mutation& m = GetParam();
  std::vector<dsl::SourceFile> rules = ShippedRules();
  bool edited = false;
  for (dsl::SourceFile& f : rules) {
    if (f.path != m.file) continue;
    const size_t at = f.text.find(m.from);
    ASSERT_NE(at, std::string::npos) << "the edit does not apply: " << m.from;
    f.text.replace(at, m.from.size(), m.to);
    edited = true;
  }
  ASSERT_TRUE(edited) << m.file;
  Options options;
  options.find_unreachable = false;  // the invariants are the point here
  absl::StatusOr<Report> report = ProveRuleSet(rules, ShippedInvariants(), options);
  ASSERT_TRUE(report.ok()) << report.status();
  const InvariantResult* result = Find(*report, m.invariant);
  ASSERT_NE(result, nullptr) << m.invariant;
  EXPECT_EQ(result->verdict, m.verdict) << FormatReport(*report);
  if (m.verdict == Verdict::kProven) {
    EXPECT_EQ(report->exit_code(), 0) << FormatReport(*report);
    return;
  }
  EXPECT_EQ(report->exit_code(), 1);
  // The counterexample, as printed, read back as a fixture and decided by the mutated rules:
  // the engine allows what the invariant forbids.
  ASSERT_TRUE(result->counterexample.has_value());
  const std::string yaml = fixtures::FormatFixture(*result->counterexample);
  absl::StatusOr<std::vector<fixtures::Fixture>> cases = fixtures::ParseFixtures("cx.yaml", yaml);
  ASSERT_TRUE(cases.ok()) << cases.status() << "\n" << yaml;
  absl::StatusOr<dsl::LoadedRuleSet> mutated = dsl::LoadRuleSetFromFiles(rules);
  ASSERT_TRUE(mutated.ok()) << mutated.status();
  const fixtures::TestRun run = fixtures::RunFixtures(*mutated->rule_set, *cases);
  EXPECT_EQ(run.cases[0].actual.outcome, Outcome::kAllow) << yaml;
  EXPECT_EQ(absl::StrCat(run.cases[0].actual.policy, "/", run.cases[0].actual.rule),
            result->decided_by);
  // It expects what the mutated rules decide, so it passes on them as printed.
  EXPECT_TRUE(run.cases[0].passed()) << yaml;
}

const char kConsentRule[] =
    "  allow consent when consent_state(purpose, channel) == active\n"
    "    cite \"GDPR Art. 6(1)(a)\"\n"
    "    evidence latest_consent(purpose, channel)\n"
    "    valid until retention_deadline\n"
    "    obligations include_opt_out_link\n";
const char kErasureGate[] = "  deny erasure_pending when erasure_requested\n";

INSTANTIATE_TEST_SUITE_P(
    Table, Mutations,
    testing::Values(
        Mutation{"objection_gate_removed", "marketing.lawful",
                 "  deny objection when objects_to(purpose)\n    cite \"GDPR Art. 21(3)\"\n", "",
                 "direct_marketing_objection_blocks_marketing", Verdict::kViolated},
        Mutation{"objection_gate_removed_profiling", "marketing.lawful",
                 "  deny objection when objects_to(purpose)\n    cite \"GDPR Art. 21(3)\"\n", "",
                 "profiling_objection_blocks_profiling", Verdict::kViolated},
        Mutation{"consent_above_the_erasure_gate", "marketing.lawful", kErasureGate,
                 std::string(kConsentRule) + kErasureGate, "erasure_blocks_outreach",
                 Verdict::kViolated},
        Mutation{"nix_freshness_6_months", "common.lawful",
                 "const NIX_CONSENT_FRESHNESS = 3 months", "const NIX_CONSENT_FRESHNESS = 6 months",
                 "nix_phone_needs_fresh_consent", Verdict::kViolated},
        // The gate lets a minor through on any consent for the purpose and channel, not only on
        // an active one (which, under 13, only a guardian can give).
        Mutation{"minor_gate_without_the_guardian_condition", "marketing.lawful",
                 "deny minor when is_minor and consent_state(purpose, channel) != active",
                 "deny minor when is_minor\n      and not (any c in contact.consents where "
                 "consent_for(c, purpose, channel))",
                 "minor_needs_guardian_consent", Verdict::kViolated},
        Mutation{"a_consent_counts_whoever_gave_it", "common.lawful",
                 "c.source == guardian or contact.birth_date is missing or age_at(c.granted_at) "
                 ">= AGE_OF_CONSENT",
                 "true", "minor_needs_guardian_consent", Verdict::kViolated},
        Mutation{"soft_opt_in_by_post_too", "marketing.lawful",
                 "allow soft_opt_in when purpose == product_offer and channel in {email, sms}",
                 "allow soft_opt_in when purpose == product_offer and channel in {email, sms, "
                 "post}",
                 "electronic_marketing_needs_consent_or_soft_opt_in", Verdict::kProven},
        Mutation{"a_gate_renamed", "marketing.lawful", "deny suppressed_internal when",
                 "deny internal_suppression when", "marketing_allowed_only_on_a_lawful_basis",
                 Verdict::kProven},
        // suppressed_nix applies by phone only, suppressed_nix_addressed by post only.
        Mutation{
            "two_exclusive_gates_swapped", "marketing.lawful",
            "  deny suppressed_nix when channel == phone and nix_phone in contact.suppressions\n"
            "      and not (consent_state(purpose, phone) == active\n"
            "          and latest_consent(purpose, phone).granted_at >= at - "
            "NIX_CONSENT_FRESHNESS)\n"
            "    cite \"MFL 21 §\"\n"
            "    note \"The NIX rules' customer exception is not used (policy choice).\"\n\n"
            "  deny suppressed_nix_addressed when channel == post and nix_addressed in "
            "contact.suppressions\n"
            "      and consent_state(purpose, post) != active\n"
            "    cite \"MFL 21 §\"\n",
            "  deny suppressed_nix_addressed when channel == post and nix_addressed in "
            "contact.suppressions\n"
            "      and consent_state(purpose, post) != active\n"
            "    cite \"MFL 21 §\"\n\n"
            "  deny suppressed_nix when channel == phone and nix_phone in contact.suppressions\n"
            "      and not (consent_state(purpose, phone) == active\n"
            "          and latest_consent(purpose, phone).granted_at >= at - "
            "NIX_CONSENT_FRESHNESS)\n"
            "    cite \"MFL 21 §\"\n"
            "    note \"The NIX rules' customer exception is not used (policy choice).\"\n",
            "nix_phone_needs_fresh_consent", Verdict::kProven}),
    [](const testing::TestParamInfo<Mutation>& row) { return row.param.name; });

// A rule that no request reaches is reported, with the proof's scope.
TEST(Prove, ReportsARuleNoRequestReaches) {
  std::vector<dsl::SourceFile> rules = ShippedRules();
  for (dsl::SourceFile& f : rules) {
    if (f.path != "marketing.lawful") continue;
    const std::string gate = "  deny objection when objects_to(purpose)\n";
    f.text.replace(f.text.find(gate), 0,
                   "  deny erased_twice when erasure_requested\n    cite \"GDPR Art. 17(1)\"\n\n");
  }
  absl::StatusOr<Report> report = ProveRuleSet(rules, ShippedInvariants(), Options{});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->unreachable.size(), 1u) << FormatReport(*report);
  EXPECT_EQ(report->unreachable[0].rule, "erased_twice");
  EXPECT_EQ(report->unreachable[0].policy, "marketing");
  EXPECT_THAT(FormatReport(*report),
              HasSubstr("warning: marketing.lawful:11: rule `erased_twice` of policy `marketing` "
                        "never decides: proven for every contact with at most 3 entries"));
}

// The solver reads a local date with any of the zone's offsets; a counterexample that needs the
// wrong one (summer time in January) is not confirmed by the engine, so it is unknown.
TEST(Prove, AnUnconfirmedCounterexampleIsUnknown) {
  std::vector<dsl::SourceFile> invariants = {
      {"invariants.lawful",
       "invariant winter_evening for purposes MARKETING\n"
       "  when local_date(at, \"Europe/Stockholm\") == 2026-01-02 and at < 2026-01-01T23:00:00Z\n"
       "  then deny\n"}};
  absl::StatusOr<Report> report = ProveRuleSet(ShippedRules(), invariants, Options{});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->invariants.size(), 1u);
  EXPECT_EQ(report->invariants[0].verdict, Verdict::kUnknown) << FormatReport(*report);
  EXPECT_FALSE(report->invariants[0].counterexample.has_value());
  EXPECT_THAT(report->invariants[0].detail, HasSubstr("the engine does not confirm"));
  EXPECT_EQ(report->exit_code(), 3);
}

TEST(Prove, TheBoundIsAFlagAndIsReported) {
  Options options;
  options.max_records = 1;
  options.find_unreachable = false;
  absl::StatusOr<Report> report = ProveDirectory(kRulesDir, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->scope, HasSubstr("at most 1 entries"));
  EXPECT_EQ(report->exit_code(), 0);
}

TEST(Prove, RefusesFilesThatDoNotCheck) {
  absl::StatusOr<Report> report = ProveRuleSet(
      ShippedRules(), {{"invariants.lawful", "invariant x when at then deny\n"}}, Options{});
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("invariants.lawful:1:18: error:"));
  Options unbounded;
  unbounded.max_records = 0;
  absl::StatusOr<Report> no_records = ProveRuleSet(ShippedRules(), ShippedInvariants(), unbounded);
  ASSERT_FALSE(no_records.ok());
  EXPECT_THAT(no_records.status().message(), HasSubstr("between 1 and 16, not 0"));
  absl::StatusOr<Report> none = ProveRuleSet(ShippedRules(), {}, Options{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lawful::prove
