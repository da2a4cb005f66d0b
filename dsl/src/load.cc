// Loading a rule set from a directory: read, compile, version, verify.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "lawful/dsl.h"

namespace lawful::dsl {

absl::StatusOr<std::vector<SourceFile>> ReadRuleFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("rules directory `", dir, "` does not exist or is not a directory"));
  }
  std::vector<SourceFile> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".lawful") continue;
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read `", it->path().string(), "`"));
    std::ostringstream text;
    text << in.rdbuf();
    files.push_back(SourceFile{fs::relative(it->path(), dir).generic_string(), text.str()});
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list `", dir, "`: ", ec.message()));
  if (files.empty()) return absl::NotFoundError(absl::StrCat("no `.lawful` rule files in `", dir, "`"));
  std::sort(files.begin(), files.end(), [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

absl::StatusOr<LoadedRuleSet> LoadRuleSetFromFiles(std::vector<SourceFile> files) {
  CompileResult compiled = Compile(files);
  if (!compiled.ok())
    return absl::InvalidArgumentError(FormatDiagnostics(compiled.diagnostics, files));
  std::vector<std::pair<std::string, std::string>> parts;
  for (const SourceFile& f : files) parts.emplace_back(f.path, f.text);
  absl::StatusOr<std::shared_ptr<const RuleSet>> rule_set =
      RuleSet::Create(std::move(*compiled.program), ContentVersion(parts));
  if (!rule_set.ok()) return rule_set.status();
  LoadedRuleSet loaded;
  loaded.rule_set = std::move(*rule_set);
  loaded.sources = std::move(files);
  loaded.warnings = std::move(compiled.diagnostics);
  return loaded;
}

absl::StatusOr<LoadedRuleSet> LoadRuleSet(const std::string& dir) {
  absl::StatusOr<std::vector<SourceFile>> files = ReadRuleFiles(dir);
  if (!files.ok()) return files.status();
  return LoadRuleSetFromFiles(*std::move(files));
}

}  // namespace lawful::dsl
