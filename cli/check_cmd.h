// `lawful check`, and the loading with diagnostics that the other subcommands share.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lawful/dsl.h"

namespace lawful::cli {

// Loads a rule set, printing its diagnostics to stderr: the warnings when it loads, every error
// (already formatted by the compiler) when it does not.
absl::StatusOr<dsl::LoadedRuleSet> LoadAndReport(const std::string& dir);

// Compiles the rule set in `dir` and checks its invariant files against it (as `lawful prove`
// loads them), printing every diagnostic to stderr. Exit 0 when both check, 2 when not.
int Check(const std::string& dir);

}  // namespace lawful::cli
