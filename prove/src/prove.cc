// `lawful prove`: invariants proven with Z3 over every contact up to K records per list, each
// solver counterexample decided by the engine before it is reported (see lawful/prove.h).
#include "lawful/prove.h"

#include <algorithm>
#include <map>

#include <z3++.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "counterexample.h"
#include "encoder.h"

namespace lawful::prove {
namespace {

std::string Location(const dsl::CheckedRules& rules, const dsl::Span& span) {
  return absl::StrCat(rules.files[span.file], ":", span.line);
}

// The rule set with one more policy, first, that allows exactly when `invariant`'s condition
// holds: the engine's own reading of the condition, for confirming a counterexample.
absl::StatusOr<dsl::LoadedRuleSet> ProbeRuleSet(const dsl::CheckedRules& rules,
                                                const dsl::InvariantDecl& invariant,
                                                const std::vector<dsl::SourceFile>& rule_files) {
  std::string text =
      absl::StrCat("policy invariant_probe for purposes {", absl::StrJoin(rules.purposes, ", "),
                   "} {\n  allow holds when (\n", invariant.when_text,
                   "\n  )\n    cite \"invariant\"\n  otherwise deny does_not_hold\n"
                   "    cite \"invariant\"\n}\n");
  std::vector<dsl::SourceFile> files = {{"invariant probe", std::move(text)}};
  files.insert(files.end(), rule_files.begin(), rule_files.end());
  return dsl::LoadRuleSetFromFiles(std::move(files));
}

// "it allows only by `consent`, `soft_opt_in`"
std::string AllowedBy(const dsl::InvariantDecl& inv) {
  std::vector<std::string> names;
  for (const dsl::NamedSpan& r : inv.allowed_by) names.push_back(absl::StrCat("`", r.name, "`"));
  return absl::StrCat("it allows only by ", absl::StrJoin(names, ", "));
}

class Prover {
 public:
  Prover(const dsl::CheckedRules& rules, const dsl::LoadedRuleSet& loaded,
         const std::vector<dsl::SourceFile>& rule_files, const Options& options)
      : rules_(rules),
        loaded_(loaded),
        rule_files_(rule_files),
        options_(options),
        encoder_(ctx_, rules, options.max_records),
        solver_(ctx_) {
    z3::params p(ctx_);
    p.set("timeout", options.timeout_ms);
    solver_.set(p);
  }

  Report Run() {
    Report report;
    // Every term first: the encoder creates variables and their constraints as it goes.
    const std::vector<RuleTerm>& terms = encoder_.Rules();
    std::vector<z3::expr> violations;
    for (const dsl::InvariantDecl* inv : rules_.invariants) violations.push_back(Violation(*inv));
    solver_.add(encoder_.facts());
    report.scope = Scope();
    for (size_t i = 0; i < rules_.invariants.size(); ++i)
      report.invariants.push_back(Check(*rules_.invariants[i], violations[i]));
    for (const RuleTerm& t : terms) {
      if (!options_.find_unreachable) break;
      solver_.push();
      solver_.add(t.decides);
      if (solver_.check() == z3::unsat) {
        report.unreachable.push_back(
            UnreachableRule{t.policy->name, t.rule->name, Location(rules_, t.rule->span)});
      }
      solver_.pop();
    }
    return report;
  }

 private:
  // The request and contact break `inv`: its premise holds and an allow that it forbids decides.
  z3::expr Violation(const dsl::InvariantDecl& inv) {
    z3::expr forbidden = ctx_.bool_val(false);
    for (const RuleTerm& t : encoder_.Rules()) {
      if (t.rule->outcome != Outcome::kAllow) continue;
      const bool permitted =
          std::any_of(inv.allowed_by.begin(), inv.allowed_by.end(),
                      [&](const dsl::NamedSpan& r) { return r.name == t.rule->name; });
      if (inv.deny || !permitted) forbidden = forbidden || t.decides;
    }
    return encoder_.Premise(inv) && forbidden;
  }

  std::string Scope() {
    std::vector<std::string> lists;
    for (const auto& [name, list] : encoder_.lists()) lists.push_back(name);
    std::string out = "every contact";
    if (!lists.empty()) {
      absl::StrAppend(&out, " with at most ", options_.max_records, " entries in each of ",
                      absl::StrJoin(lists, ", "));
    }
    absl::StrAppend(&out, ", every `at` and every date and instant of the contact from ",
                    kFirstYear, " to ", kLastYear,
                    " (whole seconds, UTC), every purpose, channel and notice type");
    return out;
  }

  InvariantResult Check(const dsl::InvariantDecl& inv, const z3::expr& violation) {
    InvariantResult result;
    result.name = inv.name;
    result.location = Location(rules_, inv.span);
    solver_.push();
    solver_.add(violation);
    const z3::check_result answer = solver_.check();
    if (answer == z3::unsat) {
      result.verdict = Verdict::kProven;
    } else if (answer == z3::unknown) {
      result.verdict = Verdict::kUnknown;
      result.detail = absl::StrCat("the solver gave no answer (", solver_.reason_unknown(), ")");
    } else {
      const unsigned scopes = PreferReadable(solver_, encoder_);
      fixtures::Fixture fixture = FixtureFromModel(encoder_, solver_.get_model());
      solver_.pop(scopes);
      Confirm(inv, std::move(fixture), result);
    }
    solver_.pop();
    return result;
  }

  // Decides the solver's counterexample with the engine: violated only when the engine agrees
  // that the premise holds and a forbidden allow decides.
  void Confirm(const dsl::InvariantDecl& inv, fixtures::Fixture fixture, InvariantResult& result) {
    const fixtures::Actual actual =
        fixtures::RunFixtures(*loaded_.rule_set, {fixture}).cases[0].actual;
    bool premise = true;
    if (inv.when) {
      absl::StatusOr<dsl::LoadedRuleSet> probe = ProbeRuleSet(rules_, inv, rule_files_);
      if (!probe.ok()) {
        result.verdict = Verdict::kUnknown;
        result.detail = absl::StrCat("the engine could not read the invariant's condition: ",
                                     probe.status().message());
        return;
      }
      premise = fixtures::RunFixtures(*probe->rule_set, {fixture}).cases[0].actual.outcome ==
                Outcome::kAllow;
    }
    const bool permitted =
        std::any_of(inv.allowed_by.begin(), inv.allowed_by.end(),
                    [&](const dsl::NamedSpan& r) { return r.name == actual.rule; });
    const bool broken = premise && actual.outcome == Outcome::kAllow && (inv.deny || !permitted);
    if (!broken) {
      result.verdict = Verdict::kUnknown;
      result.detail = absl::StrCat(
          "the solver found a possible counterexample that the engine does not confirm (the "
          "engine decided ",
          OutcomeName(actual.outcome),
          actual.rule.empty() ? "" : absl::StrCat(" by `", actual.rule, "`"),
          premise ? "" : "; the invariant's condition does not hold", ")");
      return;
    }
    result.verdict = Verdict::kViolated;
    result.decided_by = absl::StrCat(actual.policy, "/", actual.rule);
    result.detail =
        absl::StrCat("the rules allow by `", result.decided_by, "` (", actual.location, ")");
    // The case expects what the rules decide now, so it reads back and passes as printed: a
    // regression case. Fixing the rules makes it fail; its expectation then becomes the fix's.
    fixture.note = absl::StrCat("Breaks invariant `", inv.name, "` (", result.location,
                                "): ", inv.deny ? "it requires a deny" : AllowedBy(inv),
                                ". Once the rules are fixed, expect their new decision.");
    fixture.expect = fixtures::Expectation{};
    fixture.expect.outcome = actual.outcome;
    fixture.expect.reason = actual.reason;
    fixture.expect.citation = actual.citation;
    fixture.expect.rule = actual.rule;
    result.counterexample = std::move(fixture);
  }

  const dsl::CheckedRules& rules_;
  const dsl::LoadedRuleSet& loaded_;
  const std::vector<dsl::SourceFile>& rule_files_;
  Options options_;
  z3::context ctx_;
  Encoder encoder_;
  z3::solver solver_;
};

}  // namespace

int Report::exit_code() const {
  bool unknown = false;
  for (const InvariantResult& r : invariants) {
    if (r.verdict == Verdict::kViolated) return 1;
    unknown |= r.verdict == Verdict::kUnknown;
  }
  return unknown ? 3 : 0;
}

absl::StatusOr<Report> ProveRuleSet(const std::vector<dsl::SourceFile>& rule_files,
                                    const std::vector<dsl::SourceFile>& invariant_files,
                                    const Options& options) {
  if (options.max_records < 1 || options.max_records > 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the bound on entries per list must be between 1 and 16, not ", options.max_records));
  }
  std::vector<dsl::SourceFile> all = rule_files;
  all.insert(all.end(), invariant_files.begin(), invariant_files.end());
  dsl::CheckResult checked = dsl::CheckRuleSet(all);
  if (!checked.ok()) {
    return absl::InvalidArgumentError(dsl::FormatDiagnostics(checked.diagnostics, all));
  }
  if (checked.rules->invariants.empty()) {
    return absl::NotFoundError(
        "no invariants to prove: write them in a file whose name ends in `invariants.lawful`");
  }
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSetFromFiles(rule_files);
  if (!loaded.ok()) return loaded.status();
  try {
    return Prover(*checked.rules, *loaded, rule_files, options).Run();
  } catch (const z3::exception& e) {
    return absl::InternalError(absl::StrCat("the solver failed: ", e.msg()));
  }
}

absl::StatusOr<Report> ProveDirectory(const std::string& rules_dir, const Options& options) {
  absl::StatusOr<std::vector<dsl::SourceFile>> rules = dsl::ReadRuleFiles(rules_dir);
  if (!rules.ok()) return rules.status();
  absl::StatusOr<std::vector<dsl::SourceFile>> invariants = dsl::ReadInvariantFiles(rules_dir);
  if (!invariants.ok()) return invariants.status();
  return ProveRuleSet(*rules, *invariants, options);
}

std::string FormatReport(const Report& report) {
  std::string out = absl::StrCat("lawful prove: for ", report.scope, ":\n");
  int counts[3] = {0, 0, 0};
  for (const InvariantResult& r : report.invariants) {
    ++counts[static_cast<int>(r.verdict)];
    const char* word = r.verdict == Verdict::kProven     ? "proven  "
                       : r.verdict == Verdict::kViolated ? "VIOLATED"
                                                         : "unknown ";
    absl::StrAppend(&out, "  ", word, "  ", r.name, " (", r.location, ")");
    if (!r.detail.empty()) absl::StrAppend(&out, ": ", r.detail);
    absl::StrAppend(&out, "\n");
    if (r.counterexample) {
      absl::StrAppend(&out, "\n# counterexample, confirmed by the engine; a fixture case:\n",
                      fixtures::FormatFixture(*r.counterexample), "\n");
    }
  }
  for (const UnreachableRule& u : report.unreachable) {
    absl::StrAppend(&out, "warning: ", u.location, ": rule `", u.rule, "` of policy `", u.policy,
                    "` never decides: proven for ", report.scope, "\n");
  }
  absl::StrAppend(&out, counts[0], " proven, ", counts[1], " violated, ", counts[2], " unknown\n");
  return out;
}

}  // namespace lawful::prove
