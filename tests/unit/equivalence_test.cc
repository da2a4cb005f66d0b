// The shipped rules, compiled and run by the VM, decide exactly as the hand-written reference
// implementation of the memo, on a generated campaign, for every purpose and channel.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful {
namespace {

using ::lawful::testkit::At;

TEST(Equivalence, ShippedRulesAgreeWithTheHandWrittenMemo) {
  auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RuleSet& rules = *loaded->rule_set;
  // Two instants: one in summer time, one on a month end (clamping in every window).
  for (const char* at_text : {"2026-08-31T21:30:00Z", "2027-03-31T10:00:00Z"}) {
    const absl::Time at = At(at_text);
    const std::vector<lawful::v1::Contact> contacts = synth::Generate(42, 4000, at);
    int mismatches = 0;
    for (const char* purpose :
         {"newsletter", "product_offer", "survey", "profiling", "service_notice"}) {
      for (lawful::v1::Channel channel : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS,
                                          lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
        for (lawful::v1::NoticeType notice :
             {lawful::v1::NOTICE_TYPE_UNSPECIFIED, lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION,
              lawful::v1::NOTICE_TYPE_VITAL_INTEREST, lawful::v1::NOTICE_TYPE_PUBLIC_TASK}) {
          if (notice != lawful::v1::NOTICE_TYPE_UNSPECIFIED &&
              std::string(purpose) != "service_notice")
            continue;
          auto prepared = rules.Prepare(Outreach{purpose, channel, notice, at});
          ASSERT_TRUE(prepared.ok()) << prepared.status();
          Evaluator evaluator;
          for (const auto& contact : contacts) {
            const Decision vm = evaluator.Decide(*prepared, contact);
            const synth::ReferenceDecision by_hand =
                synth::DecideByHand(contact, purpose, channel, notice, at);
            const bool same = vm.outcome != Outcome::kError &&
                              static_cast<int>(vm.outcome) == static_cast<int>(by_hand.outcome) &&
                              vm.rule->reason == by_hand.reason &&
                              vm.evidence_index == by_hand.evidence_index;
            if (!same && ++mismatches <= 5) {
              std::string json;
              (void)google::protobuf::util::MessageToJsonString(contact, &json);
              ADD_FAILURE() << purpose << "/" << lawful::v1::Channel_Name(channel) << "/"
                            << lawful::v1::NoticeType_Name(notice) << " at " << at_text
                            << ": vm says "
                            << (vm.rule ? vm.rule->reason : "error " + vm.error_path)
                            << " (evidence " << vm.evidence_index << "), by hand " << by_hand.reason
                            << " (evidence " << by_hand.evidence_index << ")\n"
                            << json;
            }
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << "at " << at_text;
  }
}

TEST(Equivalence, GeneratorIsDeterministicAndCoversEveryReason) {
  const absl::Time at = At("2026-08-31T21:30:00Z");
  auto a = synth::Generate(7, 3000, at), b = synth::Generate(7, 3000, at);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  std::map<std::string, int> reasons;
  for (const char* purpose : {"newsletter", "product_offer", "profiling"}) {
    for (auto channel :
         {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
      for (const auto& c : a)
        ++reasons[std::string(synth::DecideByHand(c, purpose, channel, {}, at).reason)];
    }
  }
  for (const char* reason :
       {"erasure_pending", "objection", "minor", "suppressed_internal", "suppressed_nix",
        "suppressed_nix_addressed", "suppressed_spar", "retention_expired", "missing_address",
        "address_unverified", "channel_opt_out", "consent_withdrawn", "consent", "soft_opt_in",
        "legitimate_interest", "purpose_incompatible", "no_lawful_basis"}) {
    EXPECT_GT(reasons[reason], 0) << reason << " never decided on the generated set";
  }
}

bool Same(const Decision& a, const Decision& b) {
  return a.outcome == b.outcome && a.rule == b.rule && a.evidence_index == b.evidence_index &&
         a.evidence_id == b.evidence_id && a.valid_until == b.valid_until &&
         a.error_path == b.error_path && a.error_message == b.error_message;
}

TEST(Batch, DecidesInInputOrderExactlyAsOneByOne) {
  auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const absl::Time at = At("2026-08-31T21:30:00Z");
  std::vector<std::string> bytes;
  for (const auto& c : synth::Generate(3, 5000, at)) bytes.push_back(c.SerializeAsString());
  bytes[17] = "\xff\xff";  // a malformed contact keeps its place and its error
  std::vector<std::string_view> views(bytes.begin(), bytes.end());
  auto prepared =
      loaded->rule_set->Prepare(Outreach{"newsletter", lawful::v1::CHANNEL_EMAIL, {}, at});
  ASSERT_TRUE(prepared.ok());

  Evaluator alone;
  std::vector<Decision> expected;
  for (std::string_view b : views) expected.push_back(alone.Decide(*prepared, b));
  EXPECT_EQ(expected[17].outcome, Outcome::kError);

  BatchEvaluator pool(3);
  // Several callers at once share the pool; each gets its own batch back in order.
  std::vector<std::vector<Decision>> results(4);
  std::vector<std::thread> callers;
  for (auto& r : results)
    callers.emplace_back([&, out = &r] { pool.Decide(*prepared, views, *out); });
  for (auto& t : callers) t.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), expected.size());
    for (size_t i = 0; i < r.size(); ++i) ASSERT_TRUE(Same(r[i], expected[i])) << i;
  }
  std::vector<Decision> small;
  pool.Decide(*prepared, {views[0]}, small);
  ASSERT_EQ(small.size(), 1u);
  EXPECT_TRUE(Same(small[0], expected[0]));
  pool.Decide(*prepared, {}, small);
  EXPECT_TRUE(small.empty());
}

// The pool lends its threads to other work of a batch (the audit log's formatting): every index
// is covered exactly once per caller, by more than the callers' own threads when there is enough
// work, while two callers share the pool.
TEST(Batch, ParallelForCoversEveryIndexOnceForTwoCallersAtOnce) {
  BatchEvaluator pool(3);
  struct Case {
    size_t n, grain;
  };
  for (const Case c :
       {Case{0, 1}, Case{1, 1}, Case{7, 3}, Case{1000, 1}, Case{10000, 512}, Case{5, 0}}) {
    std::vector<std::atomic<int>> covered(c.n);
    std::mutex mu;
    std::set<std::thread::id> threads;
    std::vector<std::thread> callers;
    for (int caller = 0; caller < 2; ++caller) {
      callers.emplace_back([&] {
        pool.ParallelFor(c.n, c.grain, [&](size_t begin, size_t end) {
          ASSERT_LE(begin, end);
          ASSERT_LE(end, c.n);
          for (size_t i = begin; i < end; ++i) covered[i].fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          threads.insert(std::this_thread::get_id());
          // Long enough that the workers take ranges too, not only the caller.
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        });
      });
    }
    for (std::thread& t : callers) t.join();
    for (size_t i = 0; i < c.n; ++i) ASSERT_EQ(covered[i].load(), 2) << "n=" << c.n << " i=" << i;
    if (c.n >= 1000) {
      EXPECT_GT(threads.size(), 2u) << "n=" << c.n;
    }
  }
}

TEST(Batch, PreDecodedFactsEvaluateLikeDecide) {
  auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok());
  const absl::Time at = At("2026-08-31T21:30:00Z");
  auto prepared =
      loaded->rule_set->Prepare(Outreach{"product_offer", lawful::v1::CHANNEL_SMS, {}, at});
  ASSERT_TRUE(prepared.ok());
  Evaluator evaluator;
  for (const auto& c : synth::Generate(5, 500, at)) {
    const std::string b = c.SerializeAsString();
    ContactFacts facts;
    Decision error;
    ASSERT_TRUE(loaded->rule_set->Decode(b, facts, error));
    const Decision from_facts = evaluator.Evaluate(*prepared, facts);
    EXPECT_TRUE(Same(from_facts, evaluator.Decide(*prepared, b)));
  }
}

}  // namespace
}  // namespace lawful
