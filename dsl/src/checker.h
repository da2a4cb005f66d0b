// Checking: resolves every name and field against the declarations and the contact schema (the
// lawful.v1.Contact proto descriptor), infers types, folds constants, and lays out the facts the
// rules read. Mistakes become diagnostics; the compiler only sees checked modules.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lawful/dsl.h"
#include "layout.h"

namespace lawful::dsl {

// What the compiler needs beyond the public tree: the fact layout the rules read.
struct CheckedRuleSet : CheckedRules {
  LayoutBuilder layout;
  // Fact slot and list of each field access, keyed by the Expr node.
  absl::flat_hash_map<const Expr*, int32_t> field_slot;
};

// Checks `modules` (parsed from `sources`). Appends diagnostics; returns false on any error.
bool Check(std::vector<Module> modules, const std::vector<SourceFile>& sources, CheckedRuleSet& out,
           std::vector<Diagnostic>& diagnostics);

// Compiles a checked rule set into a Program (not yet verified).
Program CompileChecked(const CheckedRuleSet& checked);

// Fuses common adjacent instruction pairs; jump targets, policy entries and the prelude move
// with the code.
void Peephole(Program& program);

}  // namespace lawful::dsl
