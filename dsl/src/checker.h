// Checking: resolves every name and field against the declarations and the contact schema (the
// lawful.v1.Contact proto descriptor), infers types, folds constants, and lays out the facts the
// rules read. Mistakes become diagnostics; the compiler only sees checked modules.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ast.h"
#include "lawful/dsl.h"
#include "layout.h"

namespace lawful::dsl {

struct EnumInfo {
  std::string name;  // as written in rules: `channel`, `consent_source`, user enums as declared
  std::vector<std::pair<std::string, int64_t>> values;
};

struct CheckedRuleSet {
  std::vector<Module> modules;
  std::vector<std::string> files;
  std::vector<std::string> purposes;  // declared, in order; enum 0's values
  std::vector<EnumInfo> enums;        // [0] purpose
  std::vector<const PolicyDecl*> policies;
  std::vector<std::vector<int32_t>> policy_purposes;  // parallel to policies
  std::vector<uint32_t> policy_channels;              // channel bit masks
  LayoutBuilder layout;
  // Fact slot and list of each field access, keyed by the Expr node.
  absl::flat_hash_map<const Expr*, int32_t> field_slot;
  int32_t binders = 0;
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
