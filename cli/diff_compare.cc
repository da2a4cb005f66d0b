// Decides contacts under both rule sets and counts what moved, by label and by rule.
#include "diff_compare.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lawful/decide.h"

namespace lawful::cli {
namespace {

// Per rule set: the label of each rule, and of an error decision (index rules.size()).
std::vector<int> RuleLabels(const Program& program, Labels& labels) {
  std::vector<int> out;
  out.reserve(program.rules.size() + 1);
  for (const Rule& rule : program.rules)
    out.push_back(labels.Intern({OutcomeName(rule.outcome), rule.reason}));
  out.push_back(labels.Intern({"error", ""}));
  return out;
}

// The decision's rule index, or rules.size() for an error.
size_t RuleIndex(const Program& program, const Decision& decision) {
  if (decision.rule == nullptr) return program.rules.size();
  return static_cast<size_t>(decision.rule - program.rules.data());
}

}  // namespace

Differ::Differ(const Side& before, const Side& after, int examples)
    : before_(before), after_(after), examples_(examples) {
  before_labels_ = RuleLabels(before.program(), labels_);
  after_labels_ = RuleLabels(after.program(), labels_);
}

void Differ::Add(Comparison comparison) {
  comparison.before_fired.assign(before_.program().rules.size() + 1, 0);
  comparison.after_fired.assign(after_.program().rules.size() + 1, 0);
  comparisons_.push_back(std::move(comparison));
}

void Differ::Decide(const ContactBatch& contacts, const std::vector<std::string_view>& bytes,
                    int64_t first_index) {
  for (Comparison& c : comparisons_) {
    decide::DecideContacts(pool_, c.before, bytes, before_out_);
    decide::DecideContacts(pool_, c.after, bytes, after_out_);
    for (size_t i = 0; i < bytes.size(); ++i) {
      const size_t b = RuleIndex(before_.program(), before_out_[i]);
      const size_t a = RuleIndex(after_.program(), after_out_[i]);
      ++c.before_fired[b];
      ++c.after_fired[a];
      const int from = before_labels_[b];
      const int to = after_labels_[a];
      if (from == to) continue;
      ++c.changed;
      Transition& t = c.transitions[{from, to}];
      ++t.count;
      if (static_cast<int>(t.examples.size()) < examples_) {
        const std::string& id = contacts.Get(static_cast<int>(i)).id();
        // A contact without an id is named by its 0-based position, like eval's `index`.
        t.examples.push_back(id.empty() ? absl::StrCat("#", first_index + static_cast<int64_t>(i))
                                        : id);
      }
    }
    c.contacts += static_cast<int64_t>(bytes.size());
  }
}

}  // namespace lawful::cli
