// What flows through `lawful eval` (chunks of input) and the two ways of deciding them.
#pragma once

#include "contact_input.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/arena.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "decision_lines.h"
#include "decision_output.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/v1/service.pb.h"

namespace lawful::cli {

using DecisionBatch = google::protobuf::RepeatedPtrField<lawful::v1::Decision>;

// ---------------------------------------------------------------------------------------------
// Chunks: the unit that flows from the reader through a worker to the writer
// ---------------------------------------------------------------------------------------------

// Input bytes followed by kJsonPadding readable bytes, as simdjson needs past a document.
class TextBuffer {
 public:
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return std::string_view(data_.get(), size_); }
  void resize(size_t size) { size_ = size; }  // within capacity()
  // Room for `capacity` bytes, keeping the contents.
  void Reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<char[]> bigger(new char[capacity + kJsonPadding]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    std::memset(bigger.get() + capacity, 0, kJsonPadding);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// One parsed contact of a chunk: where its wire bytes and its input record are.
struct ChunkContact {
  size_t wire_begin = 0;
  size_t wire_end = 0;
  size_t text_begin = 0;
  size_t text_end = 0;  // including its line break
  uint64_t index = 0;
};

// Decisions per outcome and reason. A handful of distinct pairs: a linear scan beats hashing.
struct ReasonCount {
  int outcome = 0;
  std::string reason;
  uint64_t count = 0;
};
void CountReason(int outcome, std::string_view reason, uint64_t n,
                 std::vector<ReasonCount>* counts);

// CPU time per stage, summed over threads (CLOCK_THREAD_CPUTIME_ID).
struct StageTimes {
  int64_t parse = 0;   // JSON or CSV to contact wire bytes
  int64_t decide = 0;  // required-field checks and the engine (or the DecideBatch calls)
  int64_t format = 0;  // decision lines, allowed/denied copies, counts
};

struct Chunk {
  Chunk() : arena_block(new char[kArenaBlockBytes]) { ResetOutputs(); }

  // Set by the reader.
  uint64_t sequence = 0;
  uint64_t first_line = 1;   // 1-based number of the first line of `text`
  uint64_t first_index = 0;  // position in the input of the first record of `text`
  uint64_t records = 0;      // records in `text`, as the reader counted them
  TextBuffer text;           // whole records

  // Set by a worker.
  std::string wire;  // the parsed contacts' wire bytes, back to back
  std::vector<ChunkContact> contacts;
  std::vector<std::string_view> views;  // each contact's wire bytes
  // In-process decisions, with each contact's id (a view into `wire`).
  std::vector<Decision> verdicts;
  std::vector<std::string_view> ids;
  // lawfuld's decisions, on an arena whose first block is kept from chunk to chunk.
  static constexpr size_t kArenaBlockBytes = 1 << 20;
  std::unique_ptr<char[]> arena_block;
  std::optional<google::protobuf::Arena> arena;
  DecisionBatch* decisions = nullptr;

  std::string decisions_out;
  std::string allowed_out;
  std::string denied_out;
  std::string rejects_out;
  std::vector<std::string> reject_messages;  // the first few, for stderr
  std::vector<ReasonCount> counts;
  uint64_t blank = 0;
  uint64_t rejected = 0;
  uint64_t seen = 0;     // records looked at: decided + rejected + blank
  bool stopped = false;  // --strict: stopped at a rejected line
  std::string stop_message;
  absl::Status failure;
  StageTimes times;

  void ResetOutputs() {
    decisions = nullptr;
    arena.reset();
    google::protobuf::ArenaOptions options;
    options.initial_block = arena_block.get();
    options.initial_block_size = kArenaBlockBytes;
    arena.emplace(options);
    decisions = google::protobuf::Arena::CreateMessage<lawful::v1::DecideBatchResponse>(&*arena)
                    ->mutable_decisions();
    wire.clear();
    contacts.clear();
    views.clear();
    decisions_out.clear();
    allowed_out.clear();
    denied_out.clear();
    rejects_out.clear();
    reject_messages.clear();
    counts.clear();
    blank = rejected = seen = 0;
    stopped = false;
    stop_message.clear();
    failure = absl::OkStatus();
    times = StageTimes{};
  }
};

// A worker thread's scratch, reused from chunk to chunk.
struct WorkerScratch {
  explicit WorkerScratch(bool csv_output) : csv(csv_output) {}
  const bool csv;
  Evaluator evaluator;
  std::unique_ptr<DecisionLineWriter> lines;  // in-process decisions
  ProtoJsonPrinter printer{lawful::v1::Decision::descriptor()};
  lawful::v1::Decision message;
};

// ---------------------------------------------------------------------------------------------
// Deciding
// ---------------------------------------------------------------------------------------------

// What a decision line says, for the summary and the allowed/denied split.
struct Verdict {
  int outcome = 0;  // lawful.v1.Outcome
  std::string_view reason;
};

// Decides chunks of contacts. Safe to call from many threads at once, each with its own scratch.
class Decider {
 public:
  virtual ~Decider() = default;
  // Decides the contacts chunk.views, keeping the decisions in the chunk.
  virtual absl::Status Decide(Chunk& chunk, WorkerScratch& scratch) = 0;
  // Appends the line of the chunk's i-th decision to `out`.
  virtual Verdict Line(Chunk& chunk, size_t i, WorkerScratch& scratch, std::string* out) = 0;
  // The chunk's decisions as lawful.v1.Decision messages, in order, with their input positions:
  // what the audit log records.
  virtual void Messages(Chunk& chunk, DecisionBatch* out) = 0;
  virtual const std::string& version() const = 0;
  virtual absl::Time at() const = 0;
};

// Decides in this process with `loaded`'s rules for `outreach` (EngineDecider).
std::unique_ptr<Decider> MakeEngineDecider(dsl::LoadedRuleSet loaded, PreparedOutreach outreach);

// Decides with the lawfuld at `address`, pinned to the rule set and instant of its first answer
// (ServerDecider::Connect).
absl::StatusOr<std::unique_ptr<Decider>> ConnectServerDecider(const std::string& address,
                                                              lawful::v1::Outreach outreach);

}  // namespace lawful::cli
