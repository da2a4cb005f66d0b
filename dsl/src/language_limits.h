// The rules language's limits, in one place (docs/language.md, "Limits", lists them for rule
// authors). They keep hostile or runaway input from exhausting memory, the stack or time, and each
// is reported as a located diagnostic with the code `limit`. (Not named limits.h: dsl/src is an
// include directory, and that name would shadow <limits.h>.)
#pragma once

#include <cstddef>
#include <cstdint>

namespace lawful::dsl {

// Parsing.
inline constexpr size_t kMaxFileBytes = 1 << 20;  // one rule file
inline constexpr size_t kMaxIdentifierLength = 128;
inline constexpr size_t kMaxStringLength = 4096;  // a text, after escapes
inline constexpr size_t kMaxGrammarDepth = 400;   // nested grammar rules (parentheses, operators)
inline constexpr int64_t kMaxDurationAmount = 100000;  // `N days`, `N months`, `N years`

// Checking.
inline constexpr int kMaxExpressionDepth = 200;  // nested expressions, definitions not expanded
inline constexpr size_t kMaxFiles = 1024;        // rule files in a rule set
inline constexpr size_t kMaxPolicies = 1024;     // policies in a rule set
inline constexpr size_t kMaxRules = 4096;        // rules in a rule set, `otherwise` rules included

// Compiling (definitions are copied into every use, so these count the expanded rule set). The
// engine's own frame limits, kMaxLocals and kMaxRegisters (lawful/engine.h), apply as well.
inline constexpr size_t kMaxInstructions = 1 << 18;

}  // namespace lawful::dsl
