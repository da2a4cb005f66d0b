// Parsing: rule source text -> Module. Syntax errors become diagnostics.
#pragma once

#include <vector>

#include "ast.h"
#include "lawful/dsl.h"

namespace lawful::dsl {

// Limits that keep hostile input from exhausting the parser.
inline constexpr size_t kMaxFileBytes = 1 << 20;
inline constexpr size_t kMaxIdentifierLength = 128;
inline constexpr size_t kMaxStringLength = 4096;

// Parses `source` (file number `file` of the rule set). On a syntax error, appends one
// diagnostic and returns false; the parser stops at the first syntax error of a file.
bool Parse(const SourceFile& source, uint32_t file, Module& module, std::vector<Diagnostic>& diagnostics);

}  // namespace lawful::dsl
