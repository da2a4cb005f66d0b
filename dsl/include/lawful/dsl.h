// lawful's rules language: source files -> AST with spans -> checker -> compiler into the engine's
// Program. User mistakes come back as Diagnostics (data), never as exceptions or crashes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lawful/engine.h"

namespace lawful::dsl {

struct SourceFile {
  std::string path;  // as shown in diagnostics and decisions, relative to the rule set's root
  std::string text;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // stable identifier, e.g. "unknown-field", "expected"
  std::string file;
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based
  uint32_t length = 1;  // caret width
  std::string message;  // one sentence
};

// `file:line:col: error: message`, then the source line and a caret under the span.
std::string FormatDiagnostic(const Diagnostic& d, const std::vector<SourceFile>& sources);
std::string FormatDiagnostics(const std::vector<Diagnostic>& ds,
                              const std::vector<SourceFile>& sources);

struct CompileResult {
  std::optional<Program> program;  // set when there are no errors
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return program.has_value(); }
};

// Parses, checks and compiles a rule set made of `files` (in the given order).
CompileResult Compile(const std::vector<SourceFile>& files);

// The canonical layout of a rule file (`lawful fmt`): the author's line breaks and comments are
// kept; spacing, indentation, trailing-comment alignment and blank lines are canonical.
// Idempotent. InvalidArgument with diagnostics when the file does not parse.
absl::StatusOr<std::string> FormatSource(const SourceFile& file);

// Reads every `*.lawful` file below `dir`, sorted by relative path.
absl::StatusOr<std::vector<SourceFile>> ReadRuleFiles(const std::string& dir);

struct LoadedRuleSet {
  std::shared_ptr<const RuleSet> rule_set;
  std::vector<SourceFile> sources;
  std::vector<Diagnostic> warnings;
};

// Reads, compiles, versions and verifies the rule set in `dir`. On rule errors the status is
// InvalidArgument and its message holds every formatted diagnostic.
absl::StatusOr<LoadedRuleSet> LoadRuleSet(const std::string& dir);

// Compiles, versions and verifies a rule set whose files were read elsewhere (e.g. from a git
// revision by `lawful diff`). The version hashes `files` in the given order with their paths, so
// give them sorted by path relative to the rule set's root, as ReadRuleFiles does: the same files
// then get the same version whichever way they were read. Errors as LoadRuleSet.
absl::StatusOr<LoadedRuleSet> LoadRuleSetFromFiles(std::vector<SourceFile> files);

// The rule-set archive (`lawfuld --archive_dir`): every rule set ever served, kept by version as
// ARCHIVE/<version>/<its files>, so a decision can be re-run years later under the rules that
// made it. Entries are written aside and renamed into place (a crash leaves no half entry), and
// never rewritten: the version is the hash of the files, so an entry's name proves its content.
absl::Status ArchiveRuleSet(const std::string& archive_dir, const LoadedRuleSet& loaded);

// Loads the archived rule set `version`. NotFound when the archive has no such entry; DataLoss
// when the entry's files no longer hash to its version (altered after archiving).
absl::StatusOr<LoadedRuleSet> LoadArchivedRuleSet(const std::string& archive_dir,
                                                  const std::string& version);

}  // namespace lawful::dsl
