// Loading a rule set from a directory: read, compile, version, verify.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lawful/dsl.h"

namespace lawful::dsl {

bool IsInvariantFile(const std::string& path) { return absl::EndsWith(path, "invariants.lawful"); }

namespace {

// The `.lawful` files below `dir` that `wanted` keeps, sorted by relative path.
absl::StatusOr<std::vector<SourceFile>> ReadLawfulFiles(const std::string& dir,
                                                        bool (*wanted)(const std::string&)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("rules directory `", dir, "` does not exist or is not a directory"));
  }
  std::vector<SourceFile> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".lawful") continue;
    if (!wanted(it->path().filename().string())) continue;
    std::ifstream in(it->path(), std::ios::binary);
    if (!in)
      return absl::PermissionDeniedError(absl::StrCat("cannot read `", it->path().string(), "`"));
    std::ostringstream text;
    text << in.rdbuf();
    files.push_back(SourceFile{fs::relative(it->path(), dir).generic_string(), text.str()});
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list `", dir, "`: ", ec.message()));
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace

absl::StatusOr<std::vector<SourceFile>> ReadRuleFiles(const std::string& dir) {
  absl::StatusOr<std::vector<SourceFile>> files =
      ReadLawfulFiles(dir, [](const std::string& name) { return !IsInvariantFile(name); });
  if (files.ok() && files->empty())
    return absl::NotFoundError(absl::StrCat("no `.lawful` rule files in `", dir, "`"));
  return files;
}

absl::StatusOr<std::vector<SourceFile>> ReadInvariantFiles(const std::string& dir) {
  return ReadLawfulFiles(dir, IsInvariantFile);
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

namespace {

bool IsVersion(const std::string& version) {
  if (version.size() != 64) return false;
  for (char c : version) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Writes `bytes` to `path` and makes them durable before the entry is renamed into place.
absl::Status WriteDurably(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::UnavailableError(
        absl::StrCat("cannot create `", path.string(), "`: ", std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError(
          absl::StrCat("cannot write `", path.string(), "`: ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced)
    return absl::UnavailableError(
        absl::StrCat("cannot sync `", path.string(), "`: ", std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

absl::Status ArchiveRuleSet(const std::string& archive_dir, const LoadedRuleSet& loaded) {
  namespace fs = std::filesystem;
  const std::string& version = loaded.rule_set->version();
  const fs::path entry = fs::path(archive_dir) / version;
  std::error_code ec;
  if (fs::is_directory(entry, ec)) return absl::OkStatus();  // same version, same files
  fs::create_directories(archive_dir, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("cannot create the archive `", archive_dir, "`: ", ec.message()));
  const fs::path incoming =
      fs::path(archive_dir) / absl::StrCat(".incoming-", version, "-", ::getpid());
  fs::remove_all(incoming, ec);
  for (const SourceFile& file : loaded.sources) {
    const fs::path path = incoming / file.path;
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return absl::UnavailableError(
          absl::StrCat("cannot create `", path.parent_path().string(), "`: ", ec.message()));
    if (absl::Status s = WriteDurably(path, file.text); !s.ok()) return s;
  }
  fs::rename(incoming, entry, ec);
  if (ec && !fs::is_directory(entry)) {
    return absl::UnavailableError(absl::StrCat("cannot archive rule set ", version, " in `",
                                               archive_dir, "`: ", ec.message()));
  }
  fs::remove_all(incoming, ec);  // another process archived the same version first
  // The rename itself must survive a crash too.
  if (const int dir = ::open(archive_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedRuleSet> LoadArchivedRuleSet(const std::string& archive_dir,
                                                  const std::string& version) {
  if (!IsVersion(version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", version, "` is not a rule-set version (64 hex digits)"));
  }
  const std::string entry = (std::filesystem::path(archive_dir) / version).string();
  std::error_code ec;
  if (!std::filesystem::is_directory(entry, ec)) {
    return absl::NotFoundError(
        absl::StrCat("rule set ", version, " is not in the archive `", archive_dir, "`"));
  }
  absl::StatusOr<LoadedRuleSet> loaded = LoadRuleSet(entry);
  if (!loaded.ok()) return loaded.status();
  if (loaded->rule_set->version() != version) {
    return absl::DataLossError(absl::StrCat("archived rule set ", version,
                                            " was altered: its files now hash to ",
                                            loaded->rule_set->version()));
  }
  return loaded;
}

}  // namespace lawful::dsl
