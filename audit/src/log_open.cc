// The writer's file lifecycle: opening (resuming the chain, cutting a torn tail), start and
// repair events, rotation and retention. The format and the failure rules are in lawful/audit.h.
#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chain.h"
#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"
#include "log_state.h"

namespace lawful::audit {
namespace {

using internal::Mac;

std::string DirOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

std::string RotatedName(const std::string& path, uint64_t first_seq) {
  return absl::StrFormat("%s.%012d", path, first_seq);
}

// The first seq of a rotated file of `path` named `name` (a name in its directory), or nullopt.
std::optional<uint64_t> RotatedSeq(const std::string& path, absl::string_view name) {
  const std::string prefix = std::filesystem::path(path).filename().string() + ".";
  if (!absl::StartsWith(name, prefix)) return std::nullopt;
  const absl::string_view digits = name.substr(prefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != absl::string_view::npos) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(digits, &seq)) return std::nullopt;
  return seq;
}

// The rotated files of `path`, by first seq.
absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> RotatedFiles(
    FileSystem& fs, const std::string& path) {
  const std::string dir = DirOf(path);
  absl::StatusOr<std::vector<std::string>> names = fs.List(dir);
  if (!names.ok()) return names.status();
  std::vector<std::pair<uint64_t, std::string>> rotated;
  for (const std::string& name : *names) {
    if (const std::optional<uint64_t> seq = RotatedSeq(path, name)) {
      rotated.emplace_back(*seq, (std::filesystem::path(dir) / name).string());
    }
  }
  std::sort(rotated.begin(), rotated.end());
  return rotated;
}

// What the live file holds, checked line by line from its start.
struct LiveFile {
  uint64_t valid_end = 0;  // bytes that verify, from the start
  uint64_t valid_lines = 0;
  uint64_t first_seq = 0;
  uint64_t next_seq = 0;
  Mac prev{};
  std::string format;           // its start line's (`log`)
  std::optional<Recovery> cut;  // a torn tail to cut off
};

// `acknowledged`: when reopening after a failure, the end of the last acknowledged record; what
// lies beyond was written by an append that failed, and is cut even where it verifies.
absl::StatusOr<LiveFile> ScanLive(FileSystem& fs, const Key& key, const std::string& path,
                                  std::optional<uint64_t> acknowledged) {
  LiveFile live;
  absl::StatusOr<internal::LineReader> reader = internal::OpenLines(fs, path);
  if (absl::IsNotFound(reader.status())) return live;
  if (!reader.ok()) return reader.status();
  internal::ChainChecker checker(key);
  internal::Line line;
  uint64_t end = 0;
  std::optional<Recovery> cut;
  bool failed_append = false;            // the cut is the failed append's: no pair check after it
  std::optional<Mac> previous_line_mac;  // after the first bad line: the last line's stored mac
  while (true) {
    absl::StatusOr<bool> more = reader->Next(&line);
    if (!more.ok()) return more.status();
    if (!*more) break;
    end = line.offset + line.text.size() + (line.complete ? 1 : 0);
    if (failed_append) continue;
    const internal::ScannedLine scan = internal::ScanLine(line.text);
    if (!cut.has_value() && acknowledged.has_value() && line.offset >= *acknowledged) {
      cut = Recovery{.offset = line.offset,
                     .line = line.number,
                     .reason = "written by an append that failed, so never acknowledged"};
      failed_append = true;
      continue;
    }
    if (!cut.has_value()) {
      const internal::Verdict verdict = checker.Check(line, scan, line.number == 1);
      if (verdict.ok) {
        live.valid_end = end;
        if (++live.valid_lines == 1) live.first_seq = *scan.seq;
        continue;
      }
      if (verdict.kind == ProblemKind::kWrongKey) {
        return absl::FailedPreconditionError(
            absl::StrCat("it was ", verdict.message,
                         ": open it with the key it was written with, or move it aside to start a "
                         "new log"));
      }
      if (verdict.kind == ProblemKind::kUnknownFormat) {
        return absl::FailedPreconditionError(
            absl::StrCat(verdict.message, "; or move it aside to start a new log"));
      }
      cut = Recovery{.offset = line.offset, .line = line.number, .reason = verdict.message};
      previous_line_mac = line.complete ? scan.mac : std::nullopt;
      continue;
    }
    // A crash tears only the tail, the batch being written: two lines that still chain after
    // the bad one mean damage or tampering, which must stay for `lawful audit verify` to show.
    if (line.complete && scan.mac && previous_line_mac &&
        internal::ChainMac(checker.hmac(), *previous_line_mac, scan.body) == *scan.mac) {
      return absl::FailedPreconditionError(absl::StrCat(
          "line ", cut->line, " does not verify (", cut->reason, "), yet line ", line.number,
          " after it does: this is no torn tail left by a crash but damage or tampering, so "
          "nothing was cut. Check the log with `lawful audit verify`, then move it aside to "
          "start a new one"));
    }
    previous_line_mac = line.complete ? scan.mac : std::nullopt;
  }
  if (cut.has_value()) {
    cut->bytes_cut = end - cut->offset;
    live.cut = cut;
  }
  live.next_seq = checker.next_seq().value_or(0);
  live.prev = checker.prev().value_or(Mac{});
  live.format = checker.format();
  return live;
}

// What a start record says after seq, event and time: the format, the key's id, and the mac the
// chain continues from.
std::string StartFields(const Key& key, const Mac& prev) {
  std::string fields = absl::StrCat(",\"log\":\"", internal::kFormatName, "\",\"key\":\"", key.id(),
                                    "\",\"prev\":\"");
  internal::AppendHex(prev.data(), prev.size(), &fields);
  fields += "\"";
  return fields;
}

}  // namespace

Log::Log(Options options)
    : options_(std::move(options)),
      fs_(options_.file_system != nullptr ? options_.file_system : &PosixFileSystem()),
      chain_(std::make_unique<Chain>(options_.key)) {}

Log::~Log() = default;

absl::StatusOr<std::unique_ptr<Log>> Log::Open(Options options) {
  if (!options.key.valid()) return absl::InvalidArgumentError("audit log: no key");
  if (options.path.empty()) return absl::InvalidArgumentError("audit log: no path");
  if (!options.clock) options.clock = [] { return absl::Now(); };
  std::unique_ptr<Log> log(new Log(std::move(options)));
  std::lock_guard<std::mutex> lock(log->mu_);
  absl::StatusOr<std::optional<Recovery>> opened = log->OpenLive(std::nullopt);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("audit log ", log->path(), ": ", opened.status().message()));
  }
  if (opened->has_value()) log->recovery_ = **opened;
  log->ApplyRetention();
  return log;
}

absl::StatusOr<std::optional<Recovery>> Log::OpenLive(std::optional<uint64_t> acknowledged) {
  Chain& c = *chain_;
  c.file.reset();
  absl::StatusOr<LiveFile> live = ScanLive(*fs_, options_.key, options_.path, acknowledged);
  if (!live.ok()) return live.status();
  const bool fresh = live->valid_lines == 0;
  if (fresh) {
    // No line to continue: continue the chain of the newest rotated file, if there is one.
    c.next_seq = 0;
    c.prev = Mac{};
    absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> rotated =
        RotatedFiles(*fs_, options_.path);
    if (!rotated.ok()) return rotated.status();
    if (!rotated->empty()) {
      const std::string& newest = rotated->back().second;
      absl::StatusOr<internal::LineReader> reader = internal::OpenLines(*fs_, newest);
      if (!reader.ok()) return reader.status();
      std::optional<internal::ScannedLine> last;
      std::string last_text;  // the scan's views point into it
      internal::Line line;
      while (true) {
        absl::StatusOr<bool> more = reader->Next(&line);
        if (!more.ok()) return more.status();
        if (!*more) break;
        if (!line.complete) continue;
        last_text = std::string(line.text);
        last = internal::ScanLine(last_text);
      }
      if (!last || !last->seq || !last->mac) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the newest rotated file ", newest, " ends in no complete record to continue from"));
      }
      c.next_seq = *last->seq + 1;
      c.prev = *last->mac;
      Notice(absl::StrCat("audit log ", options_.path, ": starting a new live file at seq ",
                          c.next_seq, ", continuing the chain of ", newest));
    }
  } else {
    c.next_seq = live->next_seq;
    c.prev = live->prev;
  }
  absl::StatusOr<std::unique_ptr<AppendFile>> file = fs_->OpenForAppend(options_.path);
  if (!file.ok()) return file.status();
  c.file = std::move(*file);
  if (live->cut.has_value()) {
    if (absl::Status s = c.file->Truncate(live->valid_end); !s.ok()) return s;
  }
  // What stays of the file was on disk as far as it was before (a reopening that fails below
  // must not count the lines it is writing, nor forget the ones before them).
  c.synced_file_size = std::min(c.synced_file_size, live->valid_end);
  c.file_size = live->valid_end;
  c.file_lines = live->valid_lines;
  c.file_first_seq = fresh ? c.next_seq : live->first_seq;
  if (fresh) {
    if (absl::Status s = WriteEvent("start", StartFields(options_.key, c.prev)); !s.ok()) {
      return s;
    }
  }
  if (live->cut.has_value()) {
    const Recovery& cut = *live->cut;
    std::string fields = ",\"note\":";
    internal::AppendJsonString(
        absl::StrCat("cut ", cut.bytes_cut, " bytes at byte ", cut.offset, " (line ", cut.line,
                     ") left by an interrupted write: ", cut.reason),
        &fields);
    if (absl::Status s = WriteEvent("repair", fields); !s.ok()) return s;
    Notice(absl::StrCat("audit log ", options_.path, ": cut ", cut.bytes_cut, " bytes at byte ",
                        cut.offset, " (line ", cut.line, ") that no caller was ",
                        "told were recorded: ", cut.reason));
  }
  if (absl::Status s = c.file->Sync(); !s.ok()) return s;
  if (fresh || live->cut.has_value()) {
    if (absl::Status s = fs_->SyncDir(DirOf(options_.path)); !s.ok()) return s;
  }
  c.synced_total = c.written_total;
  c.synced_file_size = c.file_size;
  c.broken = false;
  c.broken_reason.clear();
  if (!fresh && live->format != internal::kFormatName) {
    // Each file holds the one format its start line names: a live file an earlier lawful wrote
    // is rotated like a full one (kept, and verified with the rest), and the chain continues in
    // a file of this format.
    Notice(absl::StrCat("audit log ", options_.path, ": the live file is in the format \"",
                        live->format, "\"; rotating it so that new records go to a file in \"",
                        internal::kFormatName, "\""));
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  return live->cut;
}

absl::Status Log::WriteEvent(absl::string_view event, absl::string_view fields) {
  Chain& c = *chain_;
  std::string line = absl::StrCat(internal::kEventField, event, "\",\"time\":\"",
                                  internal::FormatTime(options_.clock()), "\"", fields,
                                  internal::kSeqField, c.next_seq);
  const Mac mac = internal::ChainMac(c.chain_mac, c.prev, line);
  internal::AppendMacAndEnd(mac, &line);
  if (absl::Status s = c.file->Append(line); !s.ok()) return s;
  ++c.next_seq;
  c.prev = mac;
  c.file_size += line.size();
  c.written_total += line.size();
  ++c.file_lines;
  return absl::OkStatus();
}

absl::Status Log::Rotate() {
  Chain& c = *chain_;
  const std::string rotated = RotatedName(options_.path, c.file_first_seq);
  // Batches written but not yet synced by their callers are synced here, before the file goes.
  if (absl::Status s = c.file->Sync(); !s.ok()) {
    c.MarkBroken(s.message());
    return s;
  }
  c.synced_total = c.written_total;
  // Renaming the open file changes nothing it holds; if it fails the live file stays as it was.
  if (absl::Status s = fs_->Rename(options_.path, rotated); !s.ok()) return s;
  c.file.reset();
  c.file_size = 0;
  c.synced_file_size = 0;
  // From here there is no live file until the new one has its start record; if that fails the
  // log is broken, and reopening continues the chain from the file just rotated.
  const absl::Status status = [&]() -> absl::Status {
    const std::string dir = DirOf(options_.path);
    if (absl::Status s = fs_->SyncDir(dir); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<AppendFile>> file = fs_->OpenForAppend(options_.path);
    if (!file.ok()) return file.status();
    c.file = std::move(*file);
    c.file_size = 0;
    c.file_lines = 0;
    c.file_first_seq = c.next_seq;
    if (absl::Status s = WriteEvent("start", StartFields(options_.key, c.prev)); !s.ok()) {
      return s;
    }
    if (absl::Status s = c.file->Sync(); !s.ok()) return s;
    if (absl::Status s = fs_->SyncDir(dir); !s.ok()) return s;
    c.synced_total = c.written_total;
    c.synced_file_size = c.file_size;
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    c.MarkBroken(status.message());
    return status;
  }
  Notice(absl::StrCat("audit log ", options_.path, ": rotated to ", rotated));
  ApplyRetention();
  return absl::OkStatus();
}

void Log::ApplyRetention() {
  if (options_.retention == absl::InfiniteDuration()) return;
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> rotated =
      RotatedFiles(*fs_, options_.path);
  if (!rotated.ok()) {
    Notice(absl::StrCat("audit log ", options_.path, ": retention: cannot list the rotated files: ",
                        rotated.status().message()));
    return;
  }
  const absl::Time cutoff = options_.clock() - options_.retention;
  for (const auto& [first_seq, file] : *rotated) {
    absl::StatusOr<absl::Time> modified = fs_->ModTime(file);
    if (!modified.ok() || *modified >= cutoff) continue;
    if (absl::Status s = fs_->Remove(file); !s.ok()) {
      Notice(absl::StrCat("audit log ", options_.path, ": retention: ", s.message()));
    } else {
      Notice(absl::StrCat("audit log ", options_.path, ": deleted ", file,
                          " (past the retention period of ",
                          absl::FormatDuration(options_.retention), ")"));
    }
  }
}

void Log::Notice(absl::string_view message) const {
  if (options_.notice) options_.notice(message);
}

}  // namespace lawful::audit
