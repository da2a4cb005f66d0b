// The pipeline of `lawful eval`: a reader, worker threads, and the writer on the calling thread.
#pragma once

#include "contact_input.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "eval.h"
#include "eval_decider.h"
#include "eval_records.h"
#include "lawful/audit.h"

namespace lawful::cli {

// A null `file` is an output nobody asked for: writing to it succeeds.
bool WriteAll(FILE* file, const std::string& bytes);

class EvalRun {
 public:
  EvalRun(const EvalOptions& options, Format input_format, Format output_format,
          std::string input_name, Decider* decider,
          std::shared_ptr<const CsvContactMapping> mapping, char delimiter)
      : options_(options),
        input_format_(input_format),
        output_format_(output_format),
        input_name_(std::move(input_name)),
        decider_(decider),
        mapping_(std::move(mapping)),
        delimiter_(delimiter) {}

  // Reads `fd` (whose first `pending` bytes, `first_line` and on, were already read), decides,
  // writes and summarizes. Returns the exit code.
  int Run(int fd, int64_t input_size, std::string pending, uint64_t first_line, FILE* allowed,
          FILE* denied, FILE* rejects);

  // Every decision is recorded in `log` before its line is written (--audit_log).
  void RecordIn(audit::Log* log) { audit_log_ = log; }

 private:
  void Reader(int fd, std::string carry, uint64_t first_line);
  void Worker();
  void Process(Chunk& chunk, JsonTranscoder& transcoder, CsvRowConverter* csv, std::string& json,
               WorkerScratch& scratch);
  void Reject(Chunk& chunk, uint64_t line, std::string_view record, const FieldError& error);
  // Records the chunk's decisions when auditing, then writes its outputs. An error (the audit
  // log cannot be written) leaves the chunk's outputs unwritten.
  absl::Status Emit(Chunk& chunk, FILE* allowed, FILE* denied, FILE* rejects);
  absl::Status Audit(Chunk& chunk);
  void Progress(bool final);
  void Summary(bool stopped);

  Chunk* AcquireFree();
  void Cancel();

  const EvalOptions& options_;
  const Format input_format_;
  const Format output_format_;
  const std::string input_name_;
  Decider* const decider_;
  const std::shared_ptr<const CsvContactMapping> mapping_;
  const char delimiter_;

  std::mutex mu_;
  std::condition_variable free_cv_;  // the reader waits for a free chunk
  std::condition_variable work_cv_;  // workers wait for work
  std::condition_variable done_cv_;  // the writer waits for the next chunk in order
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::deque<Chunk*> free_;
  std::deque<Chunk*> work_;
  std::map<uint64_t, Chunk*> done_;
  bool reading_done_ = false;
  uint64_t chunk_count_ = 0;
  uint64_t records_read_ = 0;  // as the reader counted them
  absl::Status read_failure_;
  bool cancelled_ = false;
  int64_t read_cpu_ = 0;

  // The writer's (main thread's) own state.
  std::atomic<uint64_t> bytes_read_{0};
  int64_t input_size_ = -1;
  absl::Time start_;
  absl::Time last_progress_ = absl::InfinitePast();
  bool progress_shown_ = false;
  uint64_t decided_ = 0;
  uint64_t rejected_ = 0;
  uint64_t blank_ = 0;
  uint64_t seen_ = 0;
  int reported_ = 0;
  std::vector<ReasonCount> counts_;
  StageTimes times_;
  int64_t write_cpu_ = 0;
  bool write_failed_ = false;
  audit::Log* audit_log_ = nullptr;
  DecisionBatch audit_messages_;  // reused from chunk to chunk
};

}  // namespace lawful::cli
