// `lawful diff`: the flags, the two rule sets (directories or git revisions) and the contacts.
#include "diff.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "diff_compare.h"
#include "diff_report.h"
#include "input.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/synth.h"

extern char** environ;

namespace lawful::cli {
namespace {

namespace fs = std::filesystem;

// Contacts decided per BatchEvaluator call: large enough that the pool's per-batch overhead
// vanishes, small enough that a chunk's bytes and decisions stay a few MB whatever the input.
constexpr int kChunkSize = 8192;

constexpr lawful::v1::Channel kChannels[] = {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS,
                                             lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE};

// ---------------------------------------------------------------------------------------------
// Rule sets from directories or git revisions
// ---------------------------------------------------------------------------------------------

// Reads a pipe to EOF.
std::string ReadFd(int fd) {
  std::string out;
  char buffer[65536];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  return out;
}

// Runs `git args...` (found on PATH) and returns its stdout; fails with git's stderr when git
// exits non-zero. No shell is involved, so a revision is never interpreted by one.
absl::StatusOr<std::string> RunGit(const std::vector<std::string>& args) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& arg : argv) cargv.push_back(arg.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, "git", &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::UnavailableError(absl::StrCat("cannot run git: ", std::strerror(spawned)));
  }
  // stdout first, then stderr: git writes at most a few lines of diagnostics, far less than a
  // pipe's buffer, so it never blocks on stderr while we wait on stdout.
  std::string out = ReadFd(out_pipe[0]);
  std::string err = ReadFd(err_pipe[0]);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::NotFoundError(absl::StrCat("git ", absl::StrJoin(args, " "), ": ",
                                            absl::StripTrailingAsciiWhitespace(err)));
  }
  return out;
}

// The `.lawful` files of `rules/` at git revision `rev` of the repository holding the current
// directory, with paths relative to `rules/` as ReadRuleFiles gives them, so the same files get
// the same rule-set version as when loaded from a checkout.
absl::StatusOr<std::vector<dsl::SourceFile>> ReadRuleFilesAtRevision(const std::string& top,
                                                                     const std::string& rev) {
  absl::StatusOr<std::string> listing =
      RunGit({"-C", top, "ls-tree", "-r", "--name-only", "-z", rev, "--", "rules/"});
  if (!listing.ok()) return listing.status();
  std::vector<dsl::SourceFile> files;
  for (absl::string_view name : absl::StrSplit(*listing, '\0', absl::SkipEmpty())) {
    if (!absl::EndsWith(name, ".lawful")) continue;
    absl::StatusOr<std::string> text = RunGit({"-C", top, "show", absl::StrCat(rev, ":", name)});
    if (!text.ok()) return text.status();
    absl::string_view relative = name;
    absl::ConsumePrefix(&relative, "rules/");
    files.push_back(dsl::SourceFile{std::string(relative), *std::move(text)});
  }
  if (files.empty()) {
    return absl::NotFoundError(absl::StrCat("no `.lawful` files in rules/ at revision ", rev));
  }
  std::sort(files.begin(), files.end(),
            [](const dsl::SourceFile& a, const dsl::SourceFile& b) { return a.path < b.path; });
  return files;
}

// `spec` is a rules directory, or else a git revision of the repository's rules/.
absl::StatusOr<Side> LoadSide(const std::string& flag, const std::string& spec) {
  if (spec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " is required (a rules directory or a git revision)"));
  }
  std::error_code ec;
  if (fs::is_directory(spec, ec)) {
    absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(spec);
    if (!loaded.ok()) return loaded.status();
    return Side{spec, *std::move(loaded)};
  }
  // A leading dash would make git read the revision as an option.
  if (spec.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", spec, ": neither a directory nor a git revision"));
  }
  absl::StatusOr<std::string> top = RunGit({"rev-parse", "--show-toplevel"});
  if (!top.ok()) {
    return absl::NotFoundError(absl::StrCat("--", flag, "=", spec,
                                            ": not a directory, and the current directory is "
                                            "not in a git repository (",
                                            top.status().message(), ")"));
  }
  const std::string repo(absl::StripTrailingAsciiWhitespace(*top));
  absl::StatusOr<std::string> commit =
      RunGit({"-C", repo, "rev-parse", "--short", "--verify", "--quiet", spec + "^{commit}"});
  if (!commit.ok()) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, "=", spec, ": neither a directory nor a git revision of ", repo));
  }
  absl::StatusOr<std::vector<dsl::SourceFile>> files = ReadRuleFilesAtRevision(repo, spec);
  if (!files.ok()) return files.status();
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSetFromFiles(*std::move(files));
  if (!loaded.ok()) return loaded.status();
  return Side{
      absl::StrCat("rules/ at ", spec, " (", absl::StripTrailingAsciiWhitespace(*commit), ")"),
      *std::move(loaded)};
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "lawful diff: %s\n", message.c_str());
  return 2;
}

}  // namespace

int RunDiff(const DiffOptions& options, const std::string& input) {
  if (options.examples < 0) return UsageError("--examples must be 0 or more");
  if (options.generate < 0) return UsageError("--generate must be 0 or more");
  if (options.all_purposes && (!options.purpose.empty() || !options.channel.empty())) {
    return UsageError(
        "--all_purposes compares every purpose and channel: drop --purpose and "
        "--channel");
  }
  if (!options.all_purposes && options.purpose.empty()) {
    return UsageError("--purpose is required (or --all_purposes)");
  }
  std::optional<lawful::v1::Channel> channel;
  if (!options.all_purposes) {
    absl::StatusOr<lawful::v1::Channel> parsed = ParseChannel(options.channel);
    if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
    channel = *parsed;
  }
  absl::StatusOr<lawful::v1::NoticeType> notice_type = ParseNoticeType(options.notice_type);
  if (!notice_type.ok()) return UsageError(std::string(notice_type.status().message()));
  absl::Time at = absl::Now();
  if (!options.at.empty()) {
    absl::StatusOr<absl::Time> parsed = ParseAt(options.at);
    if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
    at = *parsed;
  }

  absl::StatusOr<Side> before = LoadSide("before", options.before);
  if (!before.ok()) {
    return UsageError(absl::StrCat("cannot load the --before rules ", options.before, ":\n",
                                   before.status().message()));
  }
  absl::StatusOr<Side> after = LoadSide("after", options.after);
  if (!after.ok()) {
    return UsageError(absl::StrCat("cannot load the --after rules ", options.after, ":\n",
                                   after.status().message()));
  }

  Differ differ(*before, *after, options.examples);
  std::vector<Skipped> skipped;
  auto prepare = [&](const std::string& purpose, lawful::v1::Channel ch) -> absl::Status {
    const Outreach outreach{purpose, ch, *notice_type, at};
    absl::StatusOr<PreparedOutreach> b = before->loaded.rule_set->Prepare(outreach);
    absl::StatusOr<PreparedOutreach> a = after->loaded.rule_set->Prepare(outreach);
    if (!b.ok() || !a.ok()) {
      std::vector<std::string> why;
      if (!b.ok()) why.push_back(absl::StrCat("before: ", b.status().message()));
      if (!a.ok()) why.push_back(absl::StrCat("after: ", a.status().message()));
      return absl::InvalidArgumentError(absl::StrJoin(why, "; "));
    }
    Comparison c;
    c.purpose = purpose;
    c.channel = ch;
    c.before = *std::move(b);
    c.after = *std::move(a);
    differ.Add(std::move(c));
    return absl::OkStatus();
  };
  if (options.all_purposes) {
    // Every purpose the after rules declare: a purpose the change removes cannot be prepared
    // under them, and one it adds shows up as skipped under the before rules.
    for (const std::string& purpose : after->program().purposes) {
      for (const lawful::v1::Channel ch : kChannels) {
        if (absl::Status status = prepare(purpose, ch); !status.ok()) {
          skipped.push_back({purpose, ch, std::string(status.message())});
        }
      }
    }
  } else if (absl::Status status = prepare(options.purpose, *channel); !status.ok()) {
    return UsageError(absl::StrCat(OutreachName(options.purpose, *channel),
                                   " cannot be decided: ", status.message()));
  }

  std::ifstream file;
  std::istream* in = &std::cin;
  if (options.generate > 0) {
    if (!input.empty()) return UsageError("give either --generate or a CONTACTS file, not both");
  } else if (input.empty()) {
    return UsageError("expected a CONTACTS file (- for stdin) or --generate=N");
  } else if (input != "-") {
    file.open(input);
    if (!file) return UsageError(absl::StrCat("cannot open ", input, ": ", std::strerror(errno)));
    in = &file;
  }
  ContactReader reader(in, input == "-" ? "<stdin>" : input, "lawful diff");
  synth::ContactGenerator generator(options.seed, at);
  int64_t to_generate = options.generate;
  auto next_chunk = [&](ContactBatch* batch) {
    if (options.generate == 0) return reader.Read(kChunkSize, batch);
    batch->Clear();
    for (; to_generate > 0 && batch->size() < kChunkSize; --to_generate) {
      generator.Next(*batch->Add());
    }
    return !batch->empty();
  };

  ContactBatch batch;
  std::vector<std::string> bytes;
  std::vector<std::string_view> views;
  int64_t contacts = 0;
  while (next_chunk(&batch)) {
    const size_t n = static_cast<size_t>(batch.size());
    if (bytes.size() < n) bytes.resize(n);
    views.resize(n);
    for (size_t i = 0; i < n; ++i) {
      bytes[i].clear();
      batch.Get(static_cast<int>(i)).AppendToString(&bytes[i]);
      views[i] = bytes[i];
    }
    differ.Decide(batch, views, contacts);
    contacts += static_cast<int64_t>(n);
  }
  if (reader.failed()) {
    std::fprintf(stderr, "lawful diff: cannot read %s\n", input.c_str());
    return 1;
  }

  const std::string report =
      options.json ? JsonReport(*before, *after, at, contacts, reader.malformed(), differ, skipped)
                   : TextReport(*before, *after, at, contacts, reader.malformed(), differ, skipped);
  std::fwrite(report.data(), 1, report.size(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "lawful diff: cannot write the report: %s\n", std::strerror(errno));
    return 1;
  }
  if (reader.malformed() > 0) {
    std::fprintf(stderr, "lawful diff: %d malformed lines in %s were not compared\n",
                 reader.malformed(), input.c_str());
    return 1;
  }
  return 0;
}

}  // namespace lawful::cli
