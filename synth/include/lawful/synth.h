// Deterministic synthetic contacts for tests and benchmarks: the same seed gives the same
// contacts on every machine, and every gate and lawful basis of the shipped Swedish rules fires
// at a realistic rate. Also the hand-written reference implementation of the legal memo that
// the benchmarks measure the VM against and the equivalence tests compare it with.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::synth {

// A stream of contacts as a CRM would send them for an outreach at `at`.
class ContactGenerator {
 public:
  ContactGenerator(uint64_t seed, absl::Time at);

  // The next contact; its id is "c-<seed>-<n>".
  void Next(lawful::v1::Contact& contact);
  lawful::v1::Contact Next();

 private:
  uint64_t Random();  // splitmix64: identical on every platform
  bool Chance(double probability);
  int64_t Uniform(int64_t lo, int64_t hi);  // inclusive
  absl::Time Around(absl::Time center, absl::Duration spread);

  uint64_t state_;
  uint64_t seed_;
  uint64_t count_ = 0;
  absl::Time at_;
};

std::vector<lawful::v1::Contact> Generate(uint64_t seed, size_t count, absl::Time at);

// The memo's decision for one contact, written by hand in C++ (no rules language): the oracle
// for equivalence tests and the baseline the VM benchmarks are measured against.
struct ReferenceDecision {
  lawful::v1::Outcome outcome = lawful::v1::OUTCOME_UNSPECIFIED;
  std::string_view reason;
  int evidence_index = -1;  // the consent relied on
};

// The memo for one outreach, with its cut-offs (at - 24 months, ...) computed once, as a careful
// engineer would write it by hand.
class HandWrittenPolicy {
 public:
  // `purpose` one of newsletter, product_offer, survey, profiling, service_notice.
  HandWrittenPolicy(std::string_view purpose, lawful::v1::Channel channel,
                    lawful::v1::NoticeType notice_type, absl::Time at);
  ReferenceDecision Decide(const lawful::v1::Contact& contact) const;

 private:
  std::string_view purpose_;
  lawful::v1::Channel channel_;
  lawful::v1::NoticeType notice_type_;
  absl::Time at_;
  absl::Time retention_cutoff_;    // at - 24 months
  absl::Time purchase_cutoff_;     // at - 12 months
  absl::Time nix_consent_cutoff_;  // at - 3 months
  absl::Time address_cutoff_;      // at - 12 months
  absl::CivilDay today_;           // the Stockholm date of `at`
};

// HandWrittenPolicy for a single contact.
ReferenceDecision DecideByHand(const lawful::v1::Contact& contact, std::string_view purpose,
                               lawful::v1::Channel channel, lawful::v1::NoticeType notice_type,
                               absl::Time at);

}  // namespace lawful::synth
