// Parsing: rule source text -> Module. Syntax errors become diagnostics.
#pragma once

#include <vector>

#include "language_limits.h"
#include "lawful/dsl.h"

namespace lawful::dsl {

// Parses `source` (file number `file` of the rule set). On a syntax error, appends one
// diagnostic and returns false; the parser stops at the first syntax error of a file.
bool Parse(const SourceFile& source, uint32_t file, Module& module,
           std::vector<Diagnostic>& diagnostics);

}  // namespace lawful::dsl
