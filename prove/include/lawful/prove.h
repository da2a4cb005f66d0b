// `lawful prove`: the invariants of a rule set (`invariant ...` declarations in
// `*invariants.lawful` files) proven over every contact up to a bound, with an SMT solver (Z3).
// A violation comes with a counterexample, a fixture case that the engine has decided and found
// to break the invariant; a solver answer the engine does not confirm is reported as unknown,
// never as a violation and never as proven.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lawful/dsl.h"
#include "lawful/fixtures.h"

namespace lawful::prove {

struct Options {
  int max_records = 3;           // records per repeated field of the contact (K)
  unsigned timeout_ms = 60'000;  // per solver question; past it the answer is unknown
  bool find_unreachable = true;  // also look for rules no request reaches (one question each)
};

enum class Verdict { kProven, kViolated, kUnknown };

struct InvariantResult {
  std::string name;
  std::string location;  // "file:line"
  Verdict verdict = Verdict::kUnknown;
  std::string detail;  // for violated and unknown: what happened, in one sentence
  // For violated: the counterexample, as the engine decided it.
  std::optional<fixtures::Fixture> counterexample;
  std::string decided_by;  // the rule that allowed it, e.g. "marketing/consent"
};

// A rule no request can reach (its condition never holds when it is its policy's turn).
struct UnreachableRule {
  std::string policy;
  std::string rule;
  std::string location;  // "file:line"
};

struct Report {
  std::string
      scope;  // what "every contact" meant, e.g. "every contact with at most 3 consents, ..."
  std::vector<InvariantResult> invariants;
  std::vector<UnreachableRule> unreachable;
  // 0 every invariant proven, 1 one violated, 3 none violated but one unknown.
  int exit_code() const;
};

// Proves the invariants of `invariant_files` on the rule set of `rule_files` (as ReadRuleFiles
// and ReadInvariantFiles give them). InvalidArgument with the formatted diagnostics when the files
// do not check; NotFound when there are no invariants.
absl::StatusOr<Report> ProveRuleSet(const std::vector<dsl::SourceFile>& rule_files,
                                    const std::vector<dsl::SourceFile>& invariant_files,
                                    const Options& options);

// Reads `rules_dir`'s rule and invariant files, then ProveRuleSet.
absl::StatusOr<Report> ProveDirectory(const std::string& rules_dir, const Options& options);

// What `lawful prove` prints: the scope, one line per invariant, each counterexample as a fixture
// case ready to paste into rules/fixtures/, the unreachable rules as warnings, a summary line.
std::string FormatReport(const Report& report);

}  // namespace lawful::prove
