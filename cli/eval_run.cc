// How `lawful eval` reads, decides, audits and writes its input in order, and what it reports.
#include "eval_run.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "decision_output.h"
#include "input.h"
#include "lawful/audit.h"

namespace lawful::cli {
namespace {

// Input bytes per chunk, the unit of work of a thread: large enough that the per-chunk costs
// (queues, a DecideBatch call) vanish, small enough that the chunks in flight (two per thread,
// plus two) keep memory to some tens of megabytes for any input size.
constexpr size_t kChunkBytes = 1 << 20;
// Rejected lines printed on stderr; all of them are counted, and written to --rejects.
constexpr int kMaxReportedRejects = 20;

int64_t ThreadCpuNanos() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

}  // namespace

Chunk* EvalRun::AcquireFree() {
  std::unique_lock lock(mu_);
  free_cv_.wait(lock, [&] { return cancelled_ || !free_.empty(); });
  if (cancelled_) return nullptr;
  Chunk* chunk = free_.front();
  free_.pop_front();
  return chunk;
}

void EvalRun::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  free_cv_.notify_all();
  work_cv_.notify_all();
  done_cv_.notify_all();
}

void EvalRun::Reader(int fd, std::string carry, uint64_t first_line) {
  const int64_t cpu_start = ThreadCpuNanos();
  uint64_t line = first_line;
  uint64_t index = 0;
  uint64_t sequence = 0;
  uint64_t records = 0;
  bool eof = false;
  bool first = true;
  absl::Status failure;
  while (!eof || !carry.empty()) {
    Chunk* chunk = AcquireFree();
    if (chunk == nullptr) break;
    TextBuffer& text = chunk->text;
    text.Reserve(std::max(kChunkBytes, carry.size()) + kChunkBytes / 4);
    std::memcpy(text.data(), carry.data(), carry.size());
    text.resize(carry.size());
    carry.clear();
    size_t want = kChunkBytes;
    TextShape shape;
    while (true) {
      while (!eof && text.size() < want) {
        if (text.capacity() - text.size() < (64 << 10)) text.Reserve(text.capacity() * 2);
        const ssize_t n = read(fd, text.data() + text.size(), text.capacity() - text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          failure = absl::InternalError(
              absl::StrCat("cannot read ", input_name_, ": ", std::strerror(errno)));
          eof = true;
          break;
        }
        if (n == 0) {
          eof = true;
          break;
        }
        text.resize(text.size() + static_cast<size_t>(n));
        bytes_read_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      }
      if (first && first_line == 1 && text.size() >= 3 &&
          std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) {
        // A byte-order mark, as some Windows tools write: not part of the first line.
        std::memmove(text.data(), text.data() + 3, text.size() - 3);
        text.resize(text.size() - 3);
      }
      first = false;
      shape = ShapeOf(text.view(), input_format_);
      if (shape.last_record_end > 0 || eof) break;
      want = text.size() * 2;  // one record longer than a chunk: read on
    }
    if (eof && shape.last_record_end < text.size()) {
      // The last line has no line break: it is a record all the same.
      shape.lines += 1;
      shape.records += 1;
      shape.last_record_end = text.size();
    }
    carry.assign(text.data() + shape.last_record_end, text.size() - shape.last_record_end);
    text.resize(shape.last_record_end);
    if (text.size() == 0) {
      std::lock_guard lock(mu_);
      free_.push_back(chunk);
      free_cv_.notify_all();
      continue;
    }
    chunk->sequence = sequence++;
    chunk->first_line = line;
    chunk->first_index = index;
    chunk->records = shape.records;
    line += shape.lines;
    index += shape.records;
    records += shape.records;
    std::lock_guard lock(mu_);
    work_.push_back(chunk);
    work_cv_.notify_one();
  }
  std::lock_guard lock(mu_);
  reading_done_ = true;
  chunk_count_ = sequence;
  records_read_ = records;
  read_failure_ = failure;
  read_cpu_ = ThreadCpuNanos() - cpu_start;
  work_cv_.notify_all();
  done_cv_.notify_all();
}

void EvalRun::Worker() {
  JsonTranscoder transcoder(lawful::v1::Contact::descriptor());
  std::unique_ptr<CsvRowConverter> csv;
  if (input_format_ == Format::kCsv) csv = std::make_unique<CsvRowConverter>(mapping_, delimiter_);
  WorkerScratch scratch(output_format_ == Format::kCsv);
  std::string json;
  while (true) {
    Chunk* chunk = nullptr;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return cancelled_ || !work_.empty() || reading_done_; });
      if (cancelled_ || work_.empty()) return;
      chunk = work_.front();
      work_.pop_front();
    }
    Process(*chunk, transcoder, csv.get(), json, scratch);
    std::lock_guard lock(mu_);
    done_[chunk->sequence] = chunk;
    done_cv_.notify_all();
  }
}

void EvalRun::Reject(Chunk& chunk, uint64_t line, std::string_view record,
                     const FieldError& error) {
  ++chunk.rejected;
  std::string where;
  if (!error.column.empty()) {
    where = error.path.empty() ? absl::StrCat("column ", error.column, ": ")
                               : absl::StrCat("column ", error.column, " (", error.path, "): ");
  } else if (!error.path.empty()) {
    where = absl::StrCat(error.path, ": ");
  }
  std::string message = absl::StrCat(input_name_, ":", line, ": ", where, error.message);
  if (chunk.reject_messages.size() < kMaxReportedRejects) chunk.reject_messages.push_back(message);
  if (options_.strict) {
    chunk.stopped = true;
    chunk.stop_message = std::move(message);
  }
  // The reject file: one JSON object per line, with the input line as it was.
  std::string& out = chunk.rejects_out;
  absl::StrAppend(&out, "{\"line\":", line);
  if (!error.path.empty()) {
    out.append(",\"field\":");
    text::AppendJsonString(error.path, text::JsonEscaping::kProtobuf, &out);
  }
  if (!error.column.empty()) {
    out.append(",\"column\":");
    if (!text::AppendJsonString(error.column, text::JsonEscaping::kProtobuf, &out))
      out.append("\"\"");
  }
  out.append(",\"error\":");
  if (!text::AppendJsonString(error.message, text::JsonEscaping::kProtobuf, &out))
    out.append("\"\"");
  out.append(",\"input\":");
  if (!text::AppendJsonString(record, text::JsonEscaping::kProtobuf, &out)) {
    // Not UTF-8 (e.g. a Latin-1 export): keep what can be kept, marking each bad byte.
    std::string repaired;
    for (const char c : record) {
      if (static_cast<unsigned char>(c) < 0x80) {
        repaired.push_back(c);
      } else {
        repaired.append("\xEF\xBF\xBD");  // U+FFFD
      }
    }
    text::AppendJsonString(repaired, text::JsonEscaping::kProtobuf, &out);
  }
  out.append("}\n");
}

void EvalRun::Process(Chunk& chunk, JsonTranscoder& transcoder, CsvRowConverter* csv,
                      std::string& json, WorkerScratch& scratch) {
  chunk.ResetOutputs();
  // Parse: each record to the contact's wire bytes.
  int64_t t0 = ThreadCpuNanos();
  const std::string_view text = chunk.text.view();
  uint64_t line = chunk.first_line;
  uint64_t index = chunk.first_index;
  FieldError error;
  size_t at = 0;
  while (at < text.size()) {
    bool multiline = false;
    const size_t end = RecordEnd(text, at, input_format_, &multiline);
    const size_t next = end < text.size() ? end + 1 : text.size();
    std::string_view record = text.substr(at, end - at);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    ++chunk.seen;
    if (IsBlank(record)) {
      ++chunk.blank;
    } else {
      const size_t wire_begin = chunk.wire.size();
      bool ok;
      if (csv != nullptr) {
        ok = csv->ToJson(record, &json, &error);
        if (ok) {
          const size_t size = json.size();
          json.append(kJsonPadding, '\0');
          ok = transcoder.Transcode(std::string_view(json.data(), size), &chunk.wire, &error);
          if (!ok) csv->NameColumn(&error);
        }
      } else {
        ok = transcoder.Transcode(record, &chunk.wire, &error);
      }
      if (ok) {
        chunk.contacts.push_back({wire_begin, chunk.wire.size(), at, next, index});
      } else {
        Reject(chunk, line, record, error);
        if (chunk.stopped) break;
      }
    }
    line += 1 + (multiline ? std::count(text.begin() + at, text.begin() + end, '\n') : 0);
    ++index;
    at = next;
  }
  int64_t t1 = ThreadCpuNanos();
  chunk.times.parse = t1 - t0;

  // Decide.
  chunk.views.reserve(chunk.contacts.size());
  for (const ChunkContact& c : chunk.contacts) {
    chunk.views.emplace_back(chunk.wire.data() + c.wire_begin, c.wire_end - c.wire_begin);
  }
  if (!chunk.views.empty()) {
    chunk.failure = decider_->Decide(chunk, scratch);
    if (!chunk.failure.ok()) return;
  }
  t0 = ThreadCpuNanos();
  chunk.times.decide = t0 - t1;

  // Format: decision lines, the allowed/denied split, counts.
  for (size_t i = 0; i < chunk.contacts.size(); ++i) {
    const Verdict verdict = decider_->Line(chunk, i, scratch, &chunk.decisions_out);
    CountReason(verdict.outcome, verdict.reason, 1, &chunk.counts);
    const bool allowed = verdict.outcome == lawful::v1::OUTCOME_ALLOW;
    if (allowed ? options_.allowed_path.empty() : options_.denied_path.empty()) continue;
    const ChunkContact& c = chunk.contacts[i];
    std::string& split = allowed ? chunk.allowed_out : chunk.denied_out;
    split.append(text.data() + c.text_begin, c.text_end - c.text_begin);
    if (c.text_end == text.size() && (text.empty() || text.back() != '\n')) split.push_back('\n');
  }
  chunk.times.format = ThreadCpuNanos() - t0;
}

bool WriteAll(FILE* file, const std::string& bytes) {
  return file == nullptr || bytes.empty() ||
         std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
}

absl::Status EvalRun::Audit(Chunk& chunk) {
  if (audit_log_ == nullptr || chunk.views.empty()) return absl::OkStatus();
  audit_messages_.Clear();
  decider_->Messages(chunk, &audit_messages_);
  // The caller is whoever runs the command on this machine; the request is this run.
  static const std::string caller = [] {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const char* user = std::getenv("USER");
    return absl::StrCat("lawful eval: ", user != nullptr ? user : absl::StrCat("uid ", getuid()),
                        "@", host);
  }();
  static const std::string request_id =
      absl::StrFormat("eval-%x-%d", absl::ToUnixNanos(absl::Now()), getpid());
  audit::Request request;
  request.caller = caller;
  request.request_id = request_id;
  request.rule_set = decider_->version();
  request.purpose = options_.purpose;
  request.channel = options_.channel;
  request.notice_type = options_.notice_type;
  request.at = decider_->at();
  audit::Log::Session session =
      audit_log_->Begin(request, static_cast<size_t>(audit_messages_.size()));
  session.Append(0, session.size(), [&](size_t i, audit::DecisionRecord* record) {
    audit::RecordOf(audit_messages_.Get(static_cast<int>(i)), record);
  });
  return session.Commit();
}

absl::Status EvalRun::Emit(Chunk& chunk, FILE* allowed, FILE* denied, FILE* rejects) {
  if (absl::Status recorded = Audit(chunk); !recorded.ok()) {
    return absl::UnavailableError(absl::StrCat("the audit log cannot be written (",
                                               recorded.message(),
                                               "); no decision is written without its record"));
  }
  const int64_t t0 = ThreadCpuNanos();
  // The one place every chunk's decisions pass, in input order, with the contacts' wire bytes
  // (chunk.views into chunk.wire) still alive: an audit log (--audit_log) attaches here. The
  // decisions are the engine's in-process (chunk.verdicts, chunk.ids; the rule
  // set's ToProto makes messages of them) and lawfuld's messages with --server
  // (chunk.decisions); chunk.contacts[i].index is each one's position in the input.
  if (!WriteAll(stdout, chunk.decisions_out) || !WriteAll(allowed, chunk.allowed_out) ||
      !WriteAll(denied, chunk.denied_out) || !WriteAll(rejects, chunk.rejects_out)) {
    write_failed_ = true;
  }
  for (const std::string& message : chunk.reject_messages) {
    if (reported_++ >= kMaxReportedRejects) break;
    if (progress_shown_) std::fputs("\r\x1b[K", stderr);
    std::fprintf(stderr, "lawful eval: %s\n", message.c_str());
  }
  decided_ += chunk.contacts.size();
  rejected_ += chunk.rejected;
  blank_ += chunk.blank;
  seen_ += chunk.seen;
  for (const ReasonCount& c : chunk.counts) CountReason(c.outcome, c.reason, c.count, &counts_);
  times_.parse += chunk.times.parse;
  times_.decide += chunk.times.decide;
  times_.format += chunk.times.format;
  write_cpu_ += ThreadCpuNanos() - t0;
  return absl::OkStatus();
}

namespace {

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace

void EvalRun::Progress(bool final) {
  if (final) {
    if (progress_shown_) std::fputs("\r\x1b[K", stderr);
    return;
  }
  const absl::Time now = absl::Now();
  if (now - last_progress_ < absl::Milliseconds(200)) return;
  last_progress_ = now;
  const double elapsed = absl::ToDoubleSeconds(now - start_);
  const double rate = elapsed > 0 ? static_cast<double>(seen_) / elapsed : 0;
  std::string line = "\r\x1b[Klawful eval: ";
  const uint64_t read = bytes_read_.load(std::memory_order_relaxed);
  const bool sized = input_size_ > 0 && read > 0;
  // The share read runs ahead of the share decided by at most the chunks in flight.
  const double fraction = sized ? std::min(1.0, static_cast<double>(read) / input_size_) : 0;
  if (sized) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    absl::StrAppend(&line, "[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ",
                    absl::StrFormat("%5.1f%% ", 100 * fraction));
  }
  absl::StrAppendFormat(&line, "%d %s, %.0f/s", seen_,
                        input_format_ == Format::kCsv ? "rows" : "lines", rate);
  if (sized && fraction > 0) {
    absl::StrAppend(&line, ", ETA ", FormatDuration(elapsed * (1 - fraction) / fraction));
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  progress_shown_ = true;
}

void EvalRun::Summary(bool stopped) {
  const char* unit = input_format_ == Format::kCsv ? "rows" : "lines";
  std::fprintf(stderr, "lawful eval: %s: %llu %s = %llu decided + %llu rejected + %llu blank%s\n",
               input_name_.c_str(), static_cast<unsigned long long>(seen_), unit,
               static_cast<unsigned long long>(decided_),
               static_cast<unsigned long long>(rejected_), static_cast<unsigned long long>(blank_),
               stopped ? " (stopped at the first rejected line: --strict)" : "");
  std::fprintf(stderr, "lawful eval: %s by %s at %s, rule set %s\n", options_.purpose.c_str(),
               options_.channel.c_str(), FormatAt(decider_->at()).c_str(),
               decider_->version().c_str());
  std::vector<ReasonCount> rows = counts_;
  std::sort(rows.begin(), rows.end(), [](const ReasonCount& a, const ReasonCount& b) {
    if (a.count != b.count) return a.count > b.count;
    if (a.outcome != b.outcome) return a.outcome < b.outcome;
    return a.reason < b.reason;
  });
  if (rejected_ > 0) rows.push_back({-1, "(malformed line)", rejected_});
  if (rows.empty()) return;
  const uint64_t contacts = decided_ + rejected_;
  size_t reason_width = 6;
  for (const ReasonCount& row : rows) reason_width = std::max(reason_width, row.reason.size());
  std::string table =
      absl::StrFormat("\n  %-8s  %-*s  %10s  %7s\n", "outcome", static_cast<int>(reason_width),
                      "reason", "contacts", "share");
  for (const ReasonCount& row : rows) {
    const char* outcome = row.outcome == lawful::v1::OUTCOME_ALLOW   ? "allow"
                          : row.outcome == lawful::v1::OUTCOME_DENY  ? "deny"
                          : row.outcome == lawful::v1::OUTCOME_ERROR ? "error"
                          : row.outcome < 0                          ? "rejected"
                                                                     : "?";
    absl::StrAppendFormat(&table, "  %-8s  %-*s  %10d  %6.2f%%\n", outcome,
                          static_cast<int>(reason_width), row.reason, row.count,
                          100.0 * static_cast<double>(row.count) / static_cast<double>(contacts));
  }
  std::fputs(table.c_str(), stderr);
}

int EvalRun::Run(int fd, int64_t input_size, std::string pending, uint64_t first_line,
                 FILE* allowed, FILE* denied, FILE* rejects) {
  start_ = absl::Now();
  input_size_ = input_size;
  bytes_read_ = pending.size();
  const int threads = options_.threads > 0
                          ? options_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < 2 * threads + 2; ++i) {
    chunks_.push_back(std::make_unique<Chunk>());
    free_.push_back(chunks_.back().get());
  }
  const bool show_progress = isatty(STDERR_FILENO) == 1;

  std::thread reader([&] { Reader(fd, std::move(pending), first_line); });
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([&] { Worker(); });

  absl::Status failure;
  bool stopped = false;
  uint64_t next = 0;
  while (true) {
    Chunk* chunk = nullptr;
    {
      std::unique_lock lock(mu_);
      done_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
        return done_.contains(next) || (reading_done_ && next == chunk_count_);
      });
      if (auto it = done_.find(next); it != done_.end()) {
        chunk = it->second;
        done_.erase(it);
      } else if (reading_done_ && next == chunk_count_) {
        if (!read_failure_.ok()) failure = read_failure_;
        break;
      }
    }
    if (show_progress) Progress(false);
    if (chunk == nullptr) continue;
    if (!chunk->failure.ok()) {
      failure = chunk->failure;
      break;
    }
    if (absl::Status emitted = Emit(*chunk, allowed, denied, rejects); !emitted.ok()) {
      failure = emitted;
      break;
    }
    if (chunk->stopped) {
      stopped = true;
      if (progress_shown_) std::fputs("\r\x1b[K", stderr);
      std::fprintf(stderr, "lawful eval: --strict: stopped at %s\n", chunk->stop_message.c_str());
      break;
    }
    ++next;
    std::lock_guard lock(mu_);
    free_.push_back(chunk);
    free_cv_.notify_all();
  }
  Cancel();
  reader.join();
  for (std::thread& worker : workers) worker.join();
  Progress(true);
  const absl::Duration wall = absl::Now() - start_;

  for (FILE* file : {stdout, allowed, denied, rejects}) {
    if (file != nullptr && (std::fflush(file) != 0 || std::ferror(file))) write_failed_ = true;
  }
  if (!failure.ok()) {
    std::fprintf(stderr,
                 "lawful eval: %s; the output stops after the first %llu decided contacts\n",
                 failure.ToString().c_str(), static_cast<unsigned long long>(decided_));
    return kEvalExitFailed;
  }
  if (write_failed_) {
    std::fprintf(stderr, "lawful eval: cannot write the output: %s\n", std::strerror(errno));
    return kEvalExitFailed;
  }
  if (!stopped && seen_ != records_read_) {
    // Every record read must have been decided, rejected or found blank: never silently dropped.
    std::fprintf(stderr, "lawful eval: internal error: %llu records read but %llu accounted for\n",
                 static_cast<unsigned long long>(records_read_),
                 static_cast<unsigned long long>(seen_));
    return kEvalExitFailed;
  }
  if (reported_ > kMaxReportedRejects) {
    std::fprintf(stderr, "lawful eval: %llu more rejected lines not shown%s\n",
                 static_cast<unsigned long long>(rejected_ - kMaxReportedRejects),
                 rejects == nullptr ? " (--rejects=FILE lists them all)" : "");
  }
  Summary(stopped);
  if (options_.timings) {
    const double parse = static_cast<double>(times_.parse) / 1e9;
    const double decide = static_cast<double>(times_.decide) / 1e9;
    const double format = static_cast<double>(times_.format) / 1e9;
    const double read = static_cast<double>(read_cpu_) / 1e9;
    const double write = static_cast<double>(write_cpu_) / 1e9;
    const double total = parse + decide + format + read + write;
    const double seconds = absl::ToDoubleSeconds(wall);
    auto share = [&](double part) { return total > 0 ? 100 * part / total : 0.0; };
    std::fprintf(stderr,
                 "lawful eval: timings: %.3f s wall, %.0f contacts/s, %d threads; CPU s by stage: "
                 "read %.3f (%.1f%%), parse %.3f (%.1f%%), decide %.3f (%.1f%%), format %.3f "
                 "(%.1f%%), write %.3f (%.1f%%)\n",
                 seconds, seconds > 0 ? static_cast<double>(decided_) / seconds : 0.0, threads,
                 read, share(read), parse, share(parse), decide, share(decide), format,
                 share(format), write, share(write));
  }
  return rejected_ > 0 ? kEvalExitRejects : kEvalExitOk;
}

}  // namespace lawful::cli
