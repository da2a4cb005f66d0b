// Diagnostics as a rule author reads them: `file:line:col: error: message`, the line, a caret.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lawful/dsl.h"

namespace lawful::dsl {

std::string FormatDiagnostic(const Diagnostic& d, const std::vector<SourceFile>& sources) {
  std::string out =
      absl::StrCat(d.file, ":", d.line, ":", d.column, ": ",
                   d.severity == Severity::kError ? "error" : "warning", ": ", d.message, "\n");
  const SourceFile* source = nullptr;
  for (const SourceFile& s : sources) {
    if (s.path == d.file) source = &s;
  }
  if (source == nullptr || d.line == 0) return out;
  size_t start = 0;
  for (uint32_t line = 1; line < d.line && start != std::string::npos; ++line) {
    start = source->text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos || start > source->text.size()) return out;
  size_t end = source->text.find('\n', start);
  std::string line =
      source->text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  // Tabs keep their width so the caret lines up under the same character.
  std::string pad;
  for (size_t i = 0; i + 1 < d.column && i < line.size(); ++i) pad += line[i] == '\t' ? '\t' : ' ';
  size_t width = std::max<size_t>(
      1, std::min<size_t>(d.length, line.size() >= d.column ? line.size() - d.column + 1 : 1));
  absl::StrAppend(&out, "  ", line, "\n  ", pad, "^", std::string(width - 1, '~'), "\n");
  return out;
}

std::string FormatDiagnostics(const std::vector<Diagnostic>& ds,
                              const std::vector<SourceFile>& sources) {
  std::string out;
  for (const Diagnostic& d : ds) out += FormatDiagnostic(d, sources);
  return out;
}

}  // namespace lawful::dsl
