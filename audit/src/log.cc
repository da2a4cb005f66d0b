// The writer: opening (with torn-tail repair), appending whole batches durably, rotation and
// retention. The format and the failure rules are described in lawful/audit.h.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "chain.h"
#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"

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

struct Log::Chain {
  explicit Chain(const Key& key)
      : chain_mac(internal::KeyAccess::chain_key(key)),
        pseudonym_mac(internal::KeyAccess::pseudonym_key(key)) {}

  // Ends the current epoch: the next Append reopens the log, cutting what was not synced.
  void MarkBroken(absl::string_view reason) {
    broken = true;
    broken_reason = std::string(reason);
    epoch_durable.push_back(synced_total);
  }

  internal::Hmac chain_mac;
  internal::Hmac pseudonym_mac;  // never changes: Format reads it without the lock
  // Shared: a batch syncs the file it was written to even if a rotation has replaced it since.
  std::shared_ptr<AppendFile> file;
  uint64_t file_size = 0;         // bytes written (or, at open, verified) in the live file
  uint64_t synced_file_size = 0;  // of which this many are known to be on disk
  uint64_t file_lines = 0;
  uint64_t file_first_seq = 0;  // names the file when it is rotated
  uint64_t next_seq = 0;
  Mac prev{};  // the mac of line next_seq - 1

  // Group commit: bytes written and synced, counted across files and reopenings (never reused).
  // A batch is acknowledged once synced_total reaches its end; one fdatasync covers every batch
  // written before it started.
  uint64_t written_total = 0;
  uint64_t synced_total = 0;
  // The log is reopened after a failure, which cuts everything past synced_file_size: for each
  // ended epoch, how far it was synced. A batch of an ended epoch beyond that was lost.
  std::vector<uint64_t> epoch_durable;

  // Set when the file may hold bytes that could not be cut off, or after a failed fdatasync
  // (after which the page cache cannot be trusted); the next Append reopens the log first.
  bool broken = false;
  std::string broken_reason;
  std::string buffer;  // reused: a batch is formatted here, then written with one write()
};

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

// A batch's decision lines as formatted outside the lock: each line's bytes before `,"seq":N`, and
// the chain mac's state after absorbing them, in parts that threads fill independently.
struct Log::Batch {
  struct Part {
    std::string text;                // the lines' starts, one after another
    std::vector<uint32_t> ends;      // where each ends in `text`
    std::vector<SHA256_CTX> states;  // the chain mac of each, started (Hmac::Start, Absorb)
  };
  // The batch's parts come first; any after them are kept from a larger batch before, so that
  // their buffers serve the next one (a one-record Decide between two 10,000-record batches
  // would otherwise free and reallocate megabytes).
  std::vector<Part> parts;
  size_t decisions = 0;

  absl::Span<Part> used() { return absl::MakeSpan(parts).first(PartsOf(decisions)); }
  absl::Span<const Part> used() const {
    return absl::MakeConstSpan(parts).first(PartsOf(decisions));
  }
  static size_t PartsOf(size_t records) { return (records + kPartRecords - 1) / kPartRecords; }
};

namespace {

// Writes a string literal's bytes (without its NUL) at `p`; returns their end.
template <size_t N>
char* Put(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

char* PutInt(char* p, int64_t value) {
  return std::to_chars(p, p + 20, value).ptr;  // 20: INT64_MIN's digits and sign
}

// One decision line up to its tail, appended to `out`. The line is written into memory sized for
// its longest form (every string escaped at 6 bytes a byte), so each piece is a plain store
// rather than a string append with its own capacity check: this runs 10,000 times a batch.
void FormatDecision(const DecisionRecord& d, const internal::Hmac& pseudonym_mac,
                    std::string& out) {
  constexpr size_t kFixed = 256;  // the literals (~90 bytes), the pseudonym (22), two integers (40)
  const size_t bound =
      kFixed + internal::MaxJsonChars(d.outcome.size() + d.reason.size() + d.rule_policy.size() +
                                      d.rule.size() + d.evidence_field.size() +
                                      d.evidence_id.size() + d.facts.size());
  internal::Scratch<2048> scratch;
  char* const line = scratch.get(bound);
  const internal::Mac pseudonym = internal::PseudonymOf(pseudonym_mac, d.contact_id);
  char* p = Put(line, "{\"contact\":\"");
  p = internal::WritePseudonym(pseudonym, p);
  p = PutInt(Put(p, "\",\"index\":"), d.index);
  p = internal::WriteJsonChars(d.outcome, Put(p, ",\"outcome\":\""));
  p = internal::WriteJsonChars(d.reason, Put(p, "\",\"reason\":\""));
  p = Put(p, "\",\"rule\":\"");
  if (!d.rule_policy.empty()) p = Put(internal::WriteJsonChars(d.rule_policy, p), ".");
  p = Put(internal::WriteJsonChars(d.rule, p), "\"");
  // Evidence most denials do not have is left out rather than written empty: every byte is
  // written, synced and hashed.
  if (!d.evidence_field.empty()) {
    p = internal::WriteJsonChars(d.evidence_field, Put(p, ",\"evidence\":\""));
    p = Put(PutInt(Put(p, "["), d.evidence_index), "]");
    if (!d.evidence_id.empty()) p = internal::WriteJsonChars(d.evidence_id, Put(p, " id="));
    p = Put(p, "\"");
  }
  p = Put(internal::WriteJsonChars(d.facts, Put(p, ",\"facts\":\"")), "\"");
  out.append(line, static_cast<size_t>(p - line));
}

}  // namespace

Log::Lines::Lines(Log* log, std::unique_ptr<Batch> batch) : log_(log), batch_(std::move(batch)) {}
Log::Lines::Lines(Lines&&) noexcept = default;
Log::Lines& Log::Lines::operator=(Lines&&) noexcept = default;
Log::Lines::~Lines() {
  if (batch_ != nullptr) log_->Recycle(std::move(batch_));
}

size_t Log::Lines::size() const { return batch_ == nullptr ? 0 : batch_->decisions; }

void Log::Lines::Format(size_t first, size_t last,
                        absl::FunctionRef<void(size_t, DecisionRecord*)> record) {
  const size_t count = size();
  // A range that does not fall on parts would format a part another thread may be formatting:
  // a caller's bug, stopped here rather than left to corrupt the batch.
  if (first % kPartRecords != 0 || first > last || last > count ||
      (last % kPartRecords != 0 && last != count)) {
    std::fprintf(stderr,
                 "audit::Log::Lines::Format(%zu, %zu) of %zu records: not whole parts of %zu\n",
                 first, last, count, kPartRecords);
    std::abort();
  }
  // The keys' pad states are only read (Sign and Start copy them), so threads share them.
  const internal::Hmac& pseudonym_mac = log_->chain_->pseudonym_mac;
  const internal::Hmac& chain_mac = log_->chain_->chain_mac;
  DecisionRecord d;
  for (size_t p = first / kPartRecords; p * kPartRecords < last; ++p) {
    Batch::Part& part = batch_->parts[p];
    part.text.clear();
    part.ends.clear();
    part.states.clear();
    const size_t begin = p * kPartRecords;
    const size_t end = std::min(count, begin + kPartRecords);
    part.text.reserve((end - begin) * 300);
    part.ends.reserve(end - begin);
    part.states.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      d = DecisionRecord();
      record(i, &d);
      const size_t start = part.text.size();
      FormatDecision(d, pseudonym_mac, part.text);
      part.ends.push_back(static_cast<uint32_t>(part.text.size()));
      // Most of the line's chain mac, here on this thread rather than under the log's lock.
      SHA256_CTX& state = part.states.emplace_back(chain_mac.Start());
      internal::Hmac::Absorb(&state, absl::string_view(part.text).substr(start));
    }
  }
}

Log::Lines Log::StartLines(size_t count) {
  std::unique_ptr<Batch> batch;
  {
    std::lock_guard<std::mutex> lock(spare_mu_);
    if (!spare_.empty()) {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (batch == nullptr) batch = std::make_unique<Batch>();
  batch->decisions = count;
  if (batch->parts.size() < Batch::PartsOf(count)) batch->parts.resize(Batch::PartsOf(count));
  // A part left from an earlier batch must not pass for formatted (see Begin).
  for (Batch::Part& part : batch->used()) part.ends.clear();
  return Lines(this, std::move(batch));
}

void Log::Recycle(std::unique_ptr<Batch> batch) {
  std::lock_guard<std::mutex> lock(spare_mu_);
  spare_.push_back(std::move(batch));
}

absl::Status Log::Append(const Request& request, absl::Span<const DecisionRecord> decisions,
                         const ParallelFor* parallel_for) {
  return Append(
      request, decisions.size(), [&](size_t i, DecisionRecord* out) { *out = decisions[i]; },
      parallel_for);
}

absl::Status Log::Append(const Request& request, size_t count,
                         absl::FunctionRef<void(size_t, DecisionRecord*)> record,
                         const ParallelFor* parallel_for) {
  absl::StatusOr<Pending> pending = Begin(request, count, record, parallel_for);
  if (!pending.ok()) return pending.status();
  return Commit(*pending);
}

absl::StatusOr<Log::Pending> Log::Begin(const Request& request, size_t count,
                                        absl::FunctionRef<void(size_t, DecisionRecord*)> record,
                                        const ParallelFor* parallel_for) {
  Lines lines = StartLines(count);
  const size_t parts = Batch::PartsOf(count);
  const auto format = [&](size_t begin, size_t end) {
    lines.Format(begin * kPartRecords, std::min(count, end * kPartRecords), record);
  };
  if (parallel_for != nullptr && *parallel_for && parts > 1) {
    (*parallel_for)(parts, format);
  } else {
    format(0, parts);
  }
  return Begin(request, std::move(lines));
}

absl::StatusOr<Log::Pending> Log::Begin(const Request& request, Lines lines) {
  if (lines.size() == 0) return Pending{};
  const Batch& batch = *lines.batch_;
  for (size_t p = 0; p < batch.used().size(); ++p) {
    const size_t records = std::min(batch.decisions - p * kPartRecords, kPartRecords);
    if (batch.used()[p].ends.size() != records) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit log ", options_.path, ": records ", p * kPartRecords, " to ",
          p * kPartRecords + records - 1, " of the batch were not formatted; nothing was written"));
    }
  }
  Pending written;
  if (absl::Status status = Write(request, *lines.batch_, &written); !status.ok()) return status;
  return written;
}

absl::Status Log::Commit(const Pending& pending) {
  if (pending.decisions == 0) return absl::OkStatus();
  return Sync(pending);
}

absl::Status Log::Write(const Request& request, Batch& batch, Pending* written) {
  std::lock_guard<std::mutex> lock(mu_);
  Chain& c = *chain_;
  if (c.broken) {
    absl::StatusOr<std::optional<Recovery>> reopened = OpenLive(c.synced_file_size);
    if (!reopened.ok()) {
      return absl::UnavailableError(
          absl::StrCat("audit log ", options_.path, " failed earlier (", c.broken_reason,
                       ") and cannot be reopened: ", reopened.status().message(),
                       "; the decisions were not recorded"));
    }
    Notice(absl::StrCat("audit log ", options_.path, ": reopened after an earlier failure (",
                        c.broken_reason, ")"));
  }
  if (options_.max_file_bytes > 0 && c.file_size >= options_.max_file_bytes && c.file_lines > 1) {
    if (absl::Status s = Rotate(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": rotation failed: ",
                                                 s.message(), "; the decisions were not recorded"));
    }
  }

  // One request line carries what the call's decisions share, and the decision lines follow it.
  // The lines are what the chain hashes, so what is not repeated is not hashed 10,000 times
  // either; nor is a link to the request line, which its place already gives.
  std::string& out = c.buffer;
  out.clear();
  size_t bytes = 512;
  for (const Batch::Part& part : batch.used()) bytes += part.text.size() + part.ends.size() * 128;
  out.reserve(bytes);
  uint64_t seq = c.next_seq;
  internal::Mac prev = c.prev;
  absl::StrAppend(
      &out, internal::kEventField, "request\",\"time\":\"",
      internal::FormatTime(request.time == absl::InfinitePast() ? options_.clock() : request.time),
      "\",\"caller\":");
  internal::AppendJsonString(request.caller, &out);
  out += ",\"request_id\":";
  internal::AppendJsonString(request.request_id, &out);
  out += ",\"rule_set\":";
  internal::AppendJsonString(request.rule_set, &out);
  out += ",\"purpose\":";
  internal::AppendJsonString(request.purpose, &out);
  out += ",\"channel\":";
  internal::AppendJsonString(request.channel, &out);
  if (!request.notice_type.empty()) {
    out += ",\"notice_type\":";
    internal::AppendJsonString(request.notice_type, &out);
  }
  absl::StrAppend(&out, ",\"at\":\"", internal::FormatTime(request.at),
                  "\",\"decisions\":", batch.decisions, internal::kSeqField, seq);
  prev = internal::ChainMac(c.chain_mac, prev, out);
  internal::AppendMacAndEnd(prev, &out);
  ++seq;

  // The serial part: each line's seq, then its mac, which covers the one before.
  for (Batch::Part& part : batch.used()) {
    uint32_t begin = 0;
    for (size_t i = 0; i < part.ends.size(); ++i) {
      const uint32_t end = part.ends[i];
      out.append(part.text, begin, end - begin);
      begin = end;
      const size_t tail = out.size();
      absl::StrAppend(&out, internal::kSeqField, seq);
      SHA256_CTX& state = part.states[i];
      internal::Hmac::Absorb(&state, absl::string_view(out).substr(tail));
      internal::Hmac::Absorb(&state, internal::AsBytes(prev));
      prev = c.chain_mac.Finish(&state);
      internal::AppendMacAndEnd(prev, &out);
      ++seq;
    }
  }

  if (absl::Status s = c.file->Append(out); !s.ok()) {
    // Cut the partial batch off so that the chain continues from the last batch written.
    if (absl::Status t = c.file->Truncate(c.file_size); !t.ok()) {
      c.MarkBroken(absl::StrCat(s.message(), ", then ", t.message()));
    }
    return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": ", s.message(),
                                               "; the ", batch.decisions,
                                               " decisions were not recorded"));
  }
  c.next_seq = seq;
  c.prev = prev;
  c.file_size += out.size();
  c.file_lines += batch.decisions + 1;
  c.written_total += out.size();
  *written = Pending{c.written_total, c.epoch_durable.size(), batch.decisions};
  return absl::OkStatus();
}

absl::Status Log::Sync(const Pending& written) {
  const auto lost = [&](absl::string_view why) {
    return absl::UnavailableError(absl::StrCat("audit log ", options_.path, ": ", why, "; the ",
                                               written.decisions, " decisions were not recorded"));
  };
  // One fdatasync at a time: while one runs, the batches written meanwhile queue here, and the
  // next one covers all of them.
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  std::shared_ptr<AppendFile> file;
  uint64_t target_total = 0, target_file_size = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Chain& c = *chain_;
    if (written.epoch < c.epoch_durable.size()) {
      if (written.end <= c.epoch_durable[written.epoch]) return absl::OkStatus();
      return lost(c.broken_reason);
    }
    if (written.end <= c.synced_total) return absl::OkStatus();  // another batch's sync did it
    file = c.file;
    target_total = c.written_total;
    target_file_size = c.file_size;
  }
  // The file it was written to: a rotation since then synced it already (see above).
  const absl::Status synced = file->Sync();
  std::lock_guard<std::mutex> lock(mu_);
  Chain& c = *chain_;
  if (written.epoch < c.epoch_durable.size()) {
    // The log failed meanwhile and its reopening cuts what was not synced when it failed.
    if (written.end <= c.epoch_durable[written.epoch]) return absl::OkStatus();
    return lost(c.broken_reason);
  }
  if (!synced.ok()) {
    c.MarkBroken(synced.message());
    return lost(synced.message());
  }
  c.synced_total = std::max(c.synced_total, target_total);
  if (file == c.file) c.synced_file_size = std::max(c.synced_file_size, target_file_size);
  return absl::OkStatus();
}

Head Log::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Head{chain_->next_seq - 1, internal::Hex(chain_->prev)};
}

}  // namespace lawful::audit
