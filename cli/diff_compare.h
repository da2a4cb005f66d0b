// How `lawful diff` tallies the decisions of two rule sets on the same contacts, per outreach.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "input.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"

namespace lawful::cli {

struct Side {
  std::string label;  // as shown: the directory, or "rules/ at REV (commit)"
  dsl::LoadedRuleSet loaded;
  const Program& program() const { return loaded.rule_set->program(); }
};

// What a decision says, as compared: outcome and reason. Two rules with the same reason code
// (e.g. no_lawful_basis_electronic and no_lawful_basis) say the same thing to the caller.
struct Label {
  std::string outcome;  // allow, deny, error
  std::string reason;   // empty for error
  std::string Text() const { return reason.empty() ? outcome : absl::StrCat(outcome, "/", reason); }
};

// Interns the labels of both rule sets, so that the per-contact comparison is one int compare.
class Labels {
 public:
  int Intern(Label label) {
    const std::string key = label.Text();
    auto [it, inserted] = ids_.try_emplace(key, static_cast<int>(labels_.size()));
    if (inserted) labels_.push_back(std::move(label));
    return it->second;
  }
  const Label& operator[](int id) const { return labels_[id]; }

 private:
  absl::flat_hash_map<std::string, int> ids_;
  std::vector<Label> labels_;
};

struct Transition {
  int64_t count = 0;
  std::vector<std::string> examples;
};

// One outreach compared under both rule sets.
struct Comparison {
  std::string purpose;
  lawful::v1::Channel channel = lawful::v1::CHANNEL_UNSPECIFIED;
  PreparedOutreach before;
  PreparedOutreach after;
  int64_t contacts = 0;
  int64_t changed = 0;
  std::vector<int64_t> before_fired;  // per rule index; the last counts errors
  std::vector<int64_t> after_fired;
  absl::flat_hash_map<std::pair<int, int>, Transition> transitions;  // (from, to) label ids
};

struct Skipped {
  std::string purpose;
  lawful::v1::Channel channel;
  std::string reason;
};

// Decides chunks of contacts under both rule sets and tallies every comparison.
class Differ {
 public:
  Differ(const Side& before, const Side& after, int examples);

  void Add(Comparison comparison);

  // `bytes[i]` is the serialized contacts[i].
  void Decide(const ContactBatch& contacts, const std::vector<std::string_view>& bytes,
              int64_t first_index);

  const std::vector<Comparison>& comparisons() const { return comparisons_; }
  const Labels& labels() const { return labels_; }

 private:
  const Side& before_;
  const Side& after_;
  const int examples_;
  Labels labels_;
  std::vector<int> before_labels_;
  std::vector<int> after_labels_;
  std::vector<Comparison> comparisons_;
  BatchEvaluator pool_;
  std::vector<Decision> before_out_;
  std::vector<Decision> after_out_;
};

}  // namespace lawful::cli
