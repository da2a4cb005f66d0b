// Arbitrary text as rule files, through parser, checker and compiler: a NUL byte separates files,
// so one input can be a whole rule set (a purpose declared in one file, used in another). The
// promises checked: no crash, no exception, no internal error, every diagnostic located (file,
// line and column from 1) and shown with its line and a caret; a rule set that compiles passes
// the verifier and decides contacts, and Explain agrees with Decide; `lawful fmt` output is
// canonical (formatting it again changes nothing) and means the same (a rule set compiles to the
// same bytecode before and after formatting).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "harness.h"
#include "lawful/dsl.h"

namespace {

using lawful::fuzz::Require;

void CheckDiagnostics(const lawful::dsl::CompileResult& result,
                      const std::vector<lawful::dsl::SourceFile>& files) {
  bool error = false;
  for (const lawful::dsl::Diagnostic& d : result.diagnostics) {
    error |= d.severity == lawful::dsl::Severity::kError;
    bool known_file = false;
    for (const lawful::dsl::SourceFile& f : files) known_file |= f.path == d.file;
    Require(known_file, absl::StrCat("a diagnostic names a file of the rule set: ", d.file));
    Require(d.line >= 1 && d.column >= 1,
            absl::StrCat("a diagnostic has a line and a column: ", d.message));
    Require(!d.message.empty(), "a diagnostic says what is wrong");
    Require(d.code != "internal", absl::StrCat("no internal error: ", d.message));
    const std::string shown = lawful::dsl::FormatDiagnostic(d, files);
    Require(shown.find('^') != std::string::npos,
            absl::StrCat("a diagnostic shows a caret: ", shown));
  }
  Require(error != result.ok(), "a rule set compiles exactly when it has no error");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<lawful::dsl::SourceFile> files;
  for (absl::string_view part : absl::StrSplit(absl::string_view(text.data(), text.size()), '\0')) {
    if (files.size() == 4) break;
    files.push_back({absl::StrCat("f", files.size(), ".lawful"), std::string(part)});
  }
  lawful::dsl::CompileResult result = lawful::dsl::Compile(files);
  CheckDiagnostics(result, files);
  std::vector<lawful::Instr> code;
  if (result.ok()) {
    code = result.program->code;
    absl::StatusOr<std::shared_ptr<const lawful::RuleSet>> rule_set =
        lawful::RuleSet::Create(std::move(*result.program), "fuzz");
    Require(rule_set.ok(), absl::StrCat("a compiled rule set passes the verifier: ",
                                        rule_set.status().ToString()));
    std::vector<std::string> sources;
    for (const lawful::dsl::SourceFile& f : files) sources.push_back(f.text);
    lawful::Disassemble((*rule_set)->program(), sources);
    lawful::fuzz::Exercise(**rule_set, {}, /*compiled=*/true);
  }
  std::vector<lawful::dsl::SourceFile> formatted_files;
  for (const lawful::dsl::SourceFile& f : files) {
    absl::StatusOr<std::string> formatted = lawful::dsl::FormatSource(f);
    // InvalidArgument: the file does not parse. Internal: formatting would have broken it.
    Require(formatted.ok() || absl::IsInvalidArgument(formatted.status()),
            absl::StrCat("formatting keeps a file that parses parseable: ",
                         formatted.status().ToString()));
    if (!formatted.ok()) continue;
    absl::StatusOr<std::string> again = lawful::dsl::FormatSource({f.path, *formatted});
    Require(again.ok(), absl::StrCat("formatted source parses: ", again.status().ToString()));
    Require(*again == *formatted, "formatting is idempotent");
    formatted_files.push_back({f.path, *std::move(formatted)});
  }
  if (!code.empty() && formatted_files.size() == files.size()) {
    lawful::dsl::CompileResult after = lawful::dsl::Compile(formatted_files);
    Require(after.ok(), "a rule set still compiles once formatted");
    bool same = after.program->code.size() == code.size();
    for (size_t i = 0; same && i < code.size(); ++i) {
      const lawful::Instr& a = code[i];
      const lawful::Instr& b = after.program->code[i];
      same = a.op == b.op && a.a == b.a && a.b == b.b && a.c == b.c;
    }
    Require(same, "formatting does not change what a rule set compiles to");
  }
  return 0;
}
