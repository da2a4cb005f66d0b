// The shipped rules, compiled and run by the VM, decide exactly as the hand-written reference
// implementation of the memo, on a generated campaign, for every purpose and channel.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/json_util.h"
#include "lawful/dsl.h"
#include "lawful/synth.h"

namespace lawful {
namespace {

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

TEST(Equivalence, ShippedRulesAgreeWithTheHandWrittenMemo) {
  auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RuleSet& rules = *loaded->rule_set;
  // Two instants: one in summer time, one on a month end (clamping in every window).
  for (const char* at_text : {"2026-08-31T21:30:00Z", "2027-03-31T10:00:00Z"}) {
    const absl::Time at = At(at_text);
    const std::vector<lawful::v1::Contact> contacts = synth::Generate(42, 4000, at);
    int mismatches = 0;
    for (const char* purpose : {"newsletter", "product_offer", "survey", "profiling", "service_notice"}) {
      for (lawful::v1::Channel channel : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS, lawful::v1::CHANNEL_POST,
                                          lawful::v1::CHANNEL_PHONE}) {
        for (lawful::v1::NoticeType notice : {lawful::v1::NOTICE_TYPE_UNSPECIFIED, lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION,
                                              lawful::v1::NOTICE_TYPE_VITAL_INTEREST, lawful::v1::NOTICE_TYPE_PUBLIC_TASK}) {
          if (notice != lawful::v1::NOTICE_TYPE_UNSPECIFIED && std::string(purpose) != "service_notice") continue;
          auto prepared = rules.Prepare(Outreach{purpose, channel, notice, at});
          ASSERT_TRUE(prepared.ok()) << prepared.status();
          Evaluator evaluator;
          for (const auto& contact : contacts) {
            const Decision vm = evaluator.Decide(*prepared, contact);
            const synth::ReferenceDecision by_hand = synth::DecideByHand(contact, purpose, channel, notice, at);
            const bool same = vm.outcome != Outcome::kError &&
                              static_cast<int>(vm.outcome) == static_cast<int>(by_hand.outcome) &&
                              vm.rule->reason == by_hand.reason && vm.evidence_index == by_hand.evidence_index;
            if (!same && ++mismatches <= 5) {
              std::string json;
              (void)google::protobuf::util::MessageToJsonString(contact, &json);
              ADD_FAILURE() << purpose << "/" << lawful::v1::Channel_Name(channel) << "/"
                            << lawful::v1::NoticeType_Name(notice) << " at " << at_text << ": vm says "
                            << (vm.rule ? vm.rule->reason : "error " + vm.error_path) << " (evidence "
                            << vm.evidence_index << "), by hand " << by_hand.reason << " (evidence "
                            << by_hand.evidence_index << ")\n" << json;
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
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  std::map<std::string, int> reasons;
  for (const char* purpose : {"newsletter", "product_offer", "profiling"}) {
    for (auto channel : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
      for (const auto& c : a) ++reasons[std::string(synth::DecideByHand(c, purpose, channel, {}, at).reason)];
    }
  }
  for (const char* reason : {"erasure_pending", "objection", "minor", "suppressed_internal", "suppressed_nix",
                             "suppressed_nix_addressed", "suppressed_spar", "retention_expired", "missing_address",
                             "address_unverified", "channel_opt_out", "consent_withdrawn", "consent", "soft_opt_in",
                             "legitimate_interest", "purpose_incompatible", "no_lawful_basis"}) {
    EXPECT_GT(reasons[reason], 0) << reason << " never decided on the generated set";
  }
}

}  // namespace
}  // namespace lawful
