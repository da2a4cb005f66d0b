// `lawful check`: a rule set compiled and its invariant files checked, with every diagnostic.
#include "check_cmd.h"

#include <cstdio>
#include <string>
#include <vector>

#include "lawful/engine.h"

namespace lawful::cli {

absl::StatusOr<dsl::LoadedRuleSet> LoadAndReport(const std::string& dir) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(dir);
  if (!loaded.ok()) {
    std::string message(loaded.status().message());
    if (!message.empty() && message.back() != '\n') message.push_back('\n');
    std::fputs(message.c_str(), stderr);
    return loaded;
  }
  if (!loaded->warnings.empty()) {
    std::fputs(dsl::FormatDiagnostics(loaded->warnings, loaded->sources).c_str(), stderr);
  }
  return loaded;
}

int Check(const std::string& dir) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded = LoadAndReport(dir);
  // The invariant files too, on the rules as `lawful prove` loads them.
  absl::StatusOr<std::vector<dsl::SourceFile>> rules = dsl::ReadRuleFiles(dir);
  absl::StatusOr<std::vector<dsl::SourceFile>> invariants = dsl::ReadInvariantFiles(dir);
  size_t invariant_errors = 0;
  if (rules.ok() && invariants.ok() && !invariants->empty()) {
    std::vector<dsl::Diagnostic> ds = dsl::CheckInvariantFiles(*rules, *invariants);
    std::fputs(dsl::FormatDiagnostics(ds, *invariants).c_str(), stderr);
    for (const dsl::Diagnostic& d : ds) invariant_errors += d.severity == dsl::Severity::kError;
  }
  if (!loaded.ok() || invariant_errors > 0) {
    std::fprintf(stderr, "lawful check: the %s in %s %s\n", loaded.ok() ? "invariants" : "rule set",
                 dir.c_str(), loaded.ok() ? "do not check" : "does not load");
    return 2;
  }
  const Program& program = loaded->rule_set->program();
  std::printf(
      "lawful check: %s ok: rule set %s (%zu files, %zu policies, %zu rules, %zu warnings)\n",
      dir.c_str(), loaded->rule_set->version().c_str(), program.files.size(),
      program.policies.size(), program.rules.size(), loaded->warnings.size());
  return 0;
}

}  // namespace lawful::cli
