#include "diff.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "diff_compare.h"
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

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

struct TransitionRow {
  const Label* from;
  const Label* to;
  int64_t count;
  const std::vector<std::string>* examples;
};

// Most frequent first; ties in label order so the output is deterministic.
std::vector<TransitionRow> SortedTransitions(const Comparison& c, const Labels& labels) {
  std::vector<TransitionRow> rows;
  for (const auto& [key, t] : c.transitions) {
    rows.push_back({&labels[key.first], &labels[key.second], t.count, &t.examples});
  }
  std::sort(rows.begin(), rows.end(), [](const TransitionRow& x, const TransitionRow& y) {
    if (x.count != y.count) return x.count > y.count;
    if (x.from->Text() != y.from->Text()) return x.from->Text() < y.from->Text();
    return x.to->Text() < y.to->Text();
  });
  return rows;
}

struct RuleRow {
  std::string rule;  // policy.rule
  int64_t before = 0;
  int64_t after = 0;
  int64_t delta() const { return after - before; }
};

// Rules are matched by name across the two rule sets (their indices differ when rules move);
// only those whose firing count changed are listed, the largest change first.
std::vector<RuleRow> ChangedRules(const Comparison& c, const Program& before,
                                  const Program& after) {
  std::map<std::string, RuleRow> by_name;
  for (size_t i = 0; i < before.rules.size(); ++i) {
    const Rule& r = before.rules[i];
    by_name[absl::StrCat(r.policy, ".", r.name)].before += c.before_fired[i];
  }
  for (size_t i = 0; i < after.rules.size(); ++i) {
    const Rule& r = after.rules[i];
    by_name[absl::StrCat(r.policy, ".", r.name)].after += c.after_fired[i];
  }
  std::vector<RuleRow> rows;
  for (auto& [name, row] : by_name) {
    if (row.delta() == 0) continue;
    row.rule = name;
    rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const RuleRow& x, const RuleRow& y) {
    return std::abs(x.delta()) > std::abs(y.delta());
  });
  return rows;
}

std::string Percent(int64_t part, int64_t whole) {
  return absl::StrFormat(
      "%.2f%%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// Columns padded to their widest cell; `right[i]` right-aligns column i (numbers).
std::string Table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right) {
  std::vector<size_t> width(right.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i > 0) line += "  ";
      line += right[i] ? pad + row[i] : (i + 1 == row.size() ? row[i] : row[i] + pad);
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string OutreachName(const std::string& purpose, lawful::v1::Channel channel) {
  return absl::StrCat(purpose, " by ", ChannelFlagName(channel));
}

std::string TextReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped) {
  std::string out = absl::StrCat(
      "before:   ", before.label, "  version ", before.loaded.rule_set->version().substr(0, 12),
      "\n", "after:    ", after.label, "  version ", after.loaded.rule_set->version().substr(0, 12),
      "\n", "at:       ", FormatAt(at), "\n", "contacts: ", contacts, "\n");
  if (malformed > 0) absl::StrAppend(&out, "malformed lines (not decided): ", malformed, "\n");
  for (const Comparison& c : differ.comparisons()) {
    absl::StrAppend(&out, "\n", OutreachName(c.purpose, c.channel), ": ");
    if (c.changed == 0) {
      absl::StrAppend(&out, "no decision changed (", c.contacts, " contacts)\n");
      continue;
    }
    absl::StrAppend(&out, c.changed, " of ", c.contacts, " decisions changed (",
                    Percent(c.changed, c.contacts), ")\n\n");
    std::vector<std::vector<std::string>> rows = {{"from", "to", "contacts", "share", "examples"}};
    for (const TransitionRow& row : SortedTransitions(c, differ.labels())) {
      rows.push_back({row.from->Text(), row.to->Text(), absl::StrCat(row.count),
                      Percent(row.count, c.contacts), absl::StrJoin(*row.examples, ", ")});
    }
    absl::StrAppend(&out, Table(rows, {false, false, true, true, false}));
    std::vector<std::vector<std::string>> rules = {{"rule", "before", "after", "delta"}};
    for (const RuleRow& row : ChangedRules(c, before.program(), after.program())) {
      rules.push_back({row.rule, absl::StrCat(row.before), absl::StrCat(row.after),
                       absl::StrFormat("%+d", row.delta())});
    }
    absl::StrAppend(&out, "\n", Table(rules, {false, true, true, true}));
  }
  for (const Skipped& s : skipped) {
    absl::StrAppend(&out, "\n", OutreachName(s.purpose, s.channel), ": skipped: ", s.reason, "\n");
  }
  return out;
}

// A JSON string literal.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", static_cast<int>(ch)));
        } else {
          out += ch;
        }
    }
  }
  out += "\"";
  return out;
}

std::string JsonLabel(const Label& label) {
  return absl::StrCat("{\"outcome\":", Quote(label.outcome), ",\"reason\":", Quote(label.reason),
                      "}");
}

std::string JsonSide(const Side& side) {
  return absl::StrCat("{\"source\":", Quote(side.label),
                      ",\"version\":", Quote(side.loaded.rule_set->version()), "}");
}

// One JSON document for a CI job that comments on a rules change.
std::string JsonReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped) {
  std::string out = absl::StrCat("{\"before\":", JsonSide(before), ",\"after\":", JsonSide(after),
                                 ",\"at\":", Quote(FormatAt(at)), ",\"contacts\":", contacts,
                                 ",\"malformed_lines\":", malformed, ",\"outreaches\":[");
  bool first = true;
  for (const Comparison& c : differ.comparisons()) {
    absl::StrAppend(&out, first ? "" : ",", "{\"purpose\":", Quote(c.purpose),
                    ",\"channel\":", Quote(ChannelFlagName(c.channel)),
                    ",\"contacts\":", c.contacts, ",\"changed\":", c.changed, ",\"transitions\":[");
    first = false;
    bool first_row = true;
    for (const TransitionRow& row : SortedTransitions(c, differ.labels())) {
      std::vector<std::string> examples;
      for (const std::string& id : *row.examples) examples.push_back(Quote(id));
      absl::StrAppend(
          &out, first_row ? "" : ",", "{\"from\":", JsonLabel(*row.from),
          ",\"to\":", JsonLabel(*row.to), ",\"count\":", row.count, ",\"share\":",
          c.contacts == 0 ? 0.0 : static_cast<double>(row.count) / static_cast<double>(c.contacts),
          ",\"examples\":[", absl::StrJoin(examples, ","), "]}");
      first_row = false;
    }
    absl::StrAppend(&out, "],\"rules\":[");
    first_row = true;
    for (const RuleRow& row : ChangedRules(c, before.program(), after.program())) {
      absl::StrAppend(&out, first_row ? "" : ",", "{\"rule\":", Quote(row.rule),
                      ",\"before\":", row.before, ",\"after\":", row.after,
                      ",\"delta\":", row.delta(), "}");
      first_row = false;
    }
    absl::StrAppend(&out, "]}");
  }
  absl::StrAppend(&out, "],\"skipped\":[");
  first = true;
  for (const Skipped& s : skipped) {
    absl::StrAppend(&out, first ? "" : ",", "{\"purpose\":", Quote(s.purpose),
                    ",\"channel\":", Quote(ChannelFlagName(s.channel)),
                    ",\"reason\":", Quote(s.reason), "}");
    first = false;
  }
  absl::StrAppend(&out, "]}\n");
  return out;
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
