#include "harness.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "lawful/synth.h"

namespace lawful::fuzz {

absl::Time FixedAt() {
  return absl::FromCivil(absl::CivilSecond(2026, 9, 1, 9, 0, 0), absl::UTCTimeZone());
}

const std::vector<std::string>& SampleContacts() {
  static const std::vector<std::string>* contacts = [] {
    auto* out = new std::vector<std::string>;
    for (const lawful::v1::Contact& c : synth::Generate(/*seed=*/9, /*count=*/4, FixedAt())) {
      out->push_back(c.SerializeAsString());
    }
    return out;
  }();
  return *contacts;
}

void Exercise(const RuleSet& rule_set, const std::vector<std::string_view>& contacts,
              bool compiled) {
  static constexpr lawful::v1::Channel kChannels[] = {lawful::v1::CHANNEL_EMAIL,
                                                      lawful::v1::CHANNEL_PHONE};
  Evaluator evaluator;
  const std::vector<std::string>& purposes = rule_set.program().purposes;
  for (size_t i = 0; i < purposes.size() && i < 4; ++i) {
    for (lawful::v1::Channel channel : kChannels) {
      Outreach outreach;
      outreach.purpose = purposes[i];
      outreach.channel = channel;
      outreach.at = FixedAt();
      absl::StatusOr<PreparedOutreach> prepared = rule_set.Prepare(outreach);
      if (!prepared.ok()) continue;
      auto decide = [&](std::string_view bytes) {
        Decision d = evaluator.Decide(*prepared, bytes);
        lawful::v1::Decision proto;
        rule_set.ToProto(d, &proto, bytes);
        Require(d.outcome == Outcome::kError || d.rule != nullptr,
                "a decision other than an error names its rule");
        // Explain runs the same program through the traced loop, recomputing memoized values at
        // each rule: for compiled code, whose memoized definitions are pure, that is the same
        // decision. A hand-made program may keep other state in a memo flag.
        lawful::v1::Explanation explanation;
        rule_set.Explain(*prepared, bytes, &explanation);
        Require(!compiled || (explanation.decision().outcome() == proto.outcome() &&
                              explanation.decision().reason() == proto.reason()),
                absl::StrCat("Explain reaches the decision Decide gives: ",
                             explanation.decision().ShortDebugString(), " vs ",
                             proto.ShortDebugString()));
      };
      for (const std::string& c : SampleContacts()) decide(c);
      for (std::string_view c : contacts) decide(c);
    }
  }
}

void Require(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "broken promise: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace lawful::fuzz
