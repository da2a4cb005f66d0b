// lawful's audit log: a tamper-evident, append-only file of every decision lawfuld (or
// `lawful eval`) returned, written before the answer leaves, so that a decision is never given
// without its record.
// Depends on Abseil, OpenSSL, lawful/text.h and the lawful.v1 messages (for RecordOf at the end):
// it knows nothing of the engine or of gRPC.
//
// The format (one JSON object per line, "JSONL", so that a regulator can grep it), version 2:
//
//   {"event":"start","time":"…","log":"lawful audit v2","key":"<key id>","prev":"<32 hex>",
//    "seq":0,"mac":"<32 hex>"}
//   {"event":"request","time":"2026-03-02T09:00:00.5Z","caller":"CN=crm","request_id":"r-1",
//    "rule_set":"e0fd…","purpose":"newsletter","channel":"email","at":"2026-03-02T09:00:00Z",
//    "decisions":2,"seq":1,"mac":"…"}
//   {"contact":"<22 base64url>","index":0,"outcome":"allow","reason":"consent",
//    "rule":"marketing.consent","evidence":"consents[0]","record":"<22 base64url>",
//    "facts":"<64 hex>","seq":2,"mac":"…"}
//   {"contact":"<22 base64url>","index":1,"outcome":"deny","reason":"objection",…,
//    "seq":3,"mac":"…"}
//
// - `seq` counts every line of the chain, across files, from 0. Every line ends with its seq and
//   its mac, found by position.
// - Each batch (a Session) writes one `request` line with what its decisions share (when, who
//   asked, the rule-set version, the outreach), then one line per decision, all with one
//   write(): a decision line belongs to the request line before it. Repeating the shared fields on
//   every line would make each line a third longer, and the chain hashes every byte: `Find` joins
//   them back into whole records.
// - `mac` = HMAC-SHA256(chain key, this line's bytes up to `,"mac":"` || the previous line's mac
//   (16 bytes)), its first 128 bits (RFC 2104 §5; so are the pseudonyms). The varying parts come
//   last (seq, previous mac) so that most of each line is hashed before its place in the chain
//   is known, on many threads; only the rest is hashed in chain order.
// - The first line of every file is a `start` event carrying the previous file's last mac in
//   `prev` (zeros for the first file), so the chain spans rotated files, the key id, and the
//   format (`log`) of every line in the file.
//   Without the key nobody can alter, remove, reorder or add a line without `Verify` naming it.
//   Cutting records off the end at a line boundary is the one change the file alone cannot show:
//   anchor `Head()` elsewhere (e.g. `lawful audit head` from cron) and pass it to `Verify`.
// - No identifier a caller chose for a person is written in clear. `contact` is the contact id's
//   pseudonym: HMAC-SHA256(pseudonym key, id), 128 bits in unpadded base64url (Key::Pseudonym),
//   so the file holds no direct identifier and survives the person's erasure from the CRM.
//   `record` is the evidence's record id (a consent's or objection's id, which callers fill with
//   contact ids or e-mail addresses) through the same function: equal ids give equal pseudonyms,
//   so a record id that is the contact id shows as the contact's pseudonym. `Find` recomputes
//   both from the ids it is given to answer an access request.
//   What stays in clear is chosen by the operator or the rule set, not about the person decided
//   on: `caller` (who asked, which accountability needs in clear: the mTLS certificate subject of
//   a calling service, else its peer address; `lawful eval`'s user and host), `request_id`
//   (the caller's x-request-id or one lawfuld made: it must match the caller's own logs without
//   the key, so callers must not put personal data in it), the rule-set version, purpose (a
//   purpose the rule set declares), channel, notice type, the outcome, reason and rule, the
//   evidence's field and index (`consents[0]`: a place in the request, not a value), and the
//   facts digest (which leaves the contact id out, so it cannot confirm a guessed id).
// - Version 1 ("lawful audit v1", before record ids were pseudonymised) wrote the record id in
//   clear inside `evidence` ("consents[0] id=k-1") and had no `record`; everything else is the
//   same. `Verify` and `Find` read both; a file naming any other format fails `Verify` (unknown
//   format). `Open` on a live file of version 1 rotates it (`path.<seq>`, as any rotation) and
//   continues the chain in a new version-2 file, so that each file holds one format.
// - The rule is named, not located: its file and line are in the rule set the record names
//   (archived, lawfuld --archive_dir). A decision without evidence leaves `evidence` and `record`
//   out; evidence without a record id leaves `record` out.
// - The chain key and the pseudonym key are derived from the key file by domain separation
//   (HMAC(key file bytes, "lawful audit chain v1" / "lawful audit pseudonym v1")).
// - A `repair` event records that `Open` cut a torn final record left by a crash.
//
// Writing is one Session a batch: Log::Begin(request, count), then Session::Append formats the
// decision lines (pseudonyms included) outside the log's lock, on as many of the caller's threads
// as it lends (parts of kPartRecords), then Session::Write gives each line its seq and chain mac
// under the lock, the one step that must be serial, and writes the batch with one write(); then
// Session::Wait fdatasync()s outside the lock and only then returns OK (Commit is Write then
// Wait). Syncs are group commits: batches written while one fdatasync runs are covered by the
// next, so concurrent callers share them and one caller's formatting overlaps another's sync, and
// a caller can do other work between Write and Wait (lawfuld serializes its answer).
//
// Durability: on a failed write the file is truncated back to the end of the batch before, so the
// chain never continues past a hole; when that truncation or an fdatasync fails (after which the
// kernel's page cache cannot be trusted), every batch not yet synced fails, the log is marked
// broken, and the next Write first reopens it as `Open` does (re-reading and re-verifying the
// live file, cutting what was not synced); until that succeeds every Write fails. After a crash,
// complete lines of the batch that was being written may survive (Open cuts only what does not
// verify), but a caller never receives a decision whose record is not on disk.
//
// Files: `path` is the live file. Before a Write finds it at `max_file_bytes` or more, it is
// renamed to `path.<seq of its first line, 12 digits>` and a new live file is started (so a file
// exceeds the limit by at most one batch). Rotated files whose last modification is older than
// `retention` (measured on the injected clock) are deleted at `Open` and after each rotation; the
// live file never is. One process writes a log at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::audit {

namespace internal {
struct KeyAccess;
}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Key
// ---------------------------------------------------------------------------------------------

// The secret behind the chain and the pseudonyms. Holds only keys derived from the key file.
class Key {
 public:
  // Key file contents: hex (an even number of hex digits, at least 64, optionally followed by one
  // newline) or raw bytes (at least 32). `source` names the file in error messages.
  static absl::StatusOr<Key> FromKeyFile(absl::string_view contents, absl::string_view source);

  // 16 hex digits identifying the key in each file's `start` event; reveals nothing of it.
  const std::string& id() const { return id_; }
  bool valid() const { return !id_.empty(); }

  // The pseudonym of a contact id as written in `contact`, or of a record id as written in
  // `record` (one function for both): 22 base64url characters.
  std::string Pseudonym(absl::string_view id) const;

 private:
  friend struct internal::KeyAccess;
  std::string chain_key_;
  std::string pseudonym_key_;
  std::string id_;
};

// Reads and checks an --audit_key_file (see Key::FromKeyFile).
absl::StatusOr<Key> LoadKey(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Head: the last line of the chain, to anchor elsewhere
// ---------------------------------------------------------------------------------------------

struct Head {
  uint64_t seq = 0;
  std::string mac;  // 32 hex digits

  std::string ToString() const;  // "SEQ:MAC"
  friend bool operator==(const Head&, const Head&) = default;
};
absl::StatusOr<Head> ParseHead(absl::string_view text);

// ---------------------------------------------------------------------------------------------
// Files, behind an interface so that tests can inject ENOSPC, EROFS or EIO
// ---------------------------------------------------------------------------------------------

// A file the log appends to.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Writes all of `data` at the end, or returns an error (part of it may have been written).
  virtual absl::Status Append(absl::string_view data) = 0;
  virtual absl::Status Sync() = 0;  // fdatasync
  virtual absl::Status Truncate(uint64_t size) = 0;
};

// A file read from its start.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Up to `size` bytes into `buffer`; 0 at the end of the file.
  virtual absl::StatusOr<size_t> Read(char* buffer, size_t size) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // NotFoundError when `path` does not exist.
  virtual absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) = 0;
  // Creates the file when it does not exist.
  virtual absl::StatusOr<std::unique_ptr<AppendFile>> OpenForAppend(const std::string& path) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // Makes renames and creations in `dir` durable (fsync of the directory).
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // The names (not paths) in `dir`.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual absl::StatusOr<absl::Time> ModTime(const std::string& path) = 0;
};

// The real one (POSIX calls; files created 0640).
FileSystem& PosixFileSystem();

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// What every decision of one call shares. The views must outlive the session's Write.
struct Request {
  absl::Time time = absl::InfinitePast();  // when decided; InfinitePast: the log's clock
  absl::string_view caller;                // mTLS subject, or the peer address
  absl::string_view request_id;
  absl::string_view rule_set;  // the rule-set version that decided
  absl::string_view purpose;
  absl::string_view channel;      // "email", "sms", "post", "phone"
  absl::string_view notice_type;  // written only when set
  absl::Time at;                  // the outreach's instant
};

// One decision, as Session::Append asks for it. The views need only outlive that call (e.g. they
// can point into the response being built).
struct DecisionRecord {
  absl::string_view contact_id;  // in clear: only its pseudonym is written
  int64_t index = 0;             // position in the request
  absl::string_view outcome;     // "allow", "deny", "error"
  absl::string_view reason;
  absl::string_view rule_policy;  // with rule: "rule":"policy.rule"; may be empty
  absl::string_view rule;
  absl::string_view evidence_field;  // with the index: "consents[2]"; empty: no evidence
  int64_t evidence_index = 0;
  absl::string_view evidence_id;  // the record's id, in clear: only its pseudonym is written

  absl::string_view facts;  // the facts digest
};

struct Options {
  std::string path;  // the live file
  Key key;
  uint64_t max_file_bytes = 0;                          // rotate at this size; 0: never
  absl::Duration retention = absl::InfiniteDuration();  // delete rotated files older than this
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  FileSystem* file_system = nullptr;  // nullptr: PosixFileSystem()
  // Told of torn tails cut at Open, rotations and deleted files (never of contact data), e.g. to
  // print them in the server's log. May be empty.
  std::function<void(absl::string_view)> notice;
};

// What Open cut off the live file: a torn final record a crash left, never acknowledged.
struct Recovery {
  uint64_t bytes_cut = 0;  // 0: nothing
  uint64_t offset = 0;     // where the file was cut
  int64_t line = 0;        // the first line cut (1-based)
  std::string reason;      // e.g. "incomplete final line"
};

class Log {
 public:
  // Opens (or creates) the live file, cuts a torn tail, resumes the chain from its last line (or,
  // when there is no live file, from the newest rotated file) and applies retention. Fails, and
  // changes nothing, when the file was written with another key or is damaged before its tail (a
  // line that does not verify is followed by lines that do): `lawful audit verify` tells more.
  static absl::StatusOr<std::unique_ptr<Log>> Open(Options options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // The one way to record decisions: a session for a batch of `count` decisions that share
  // `request` (see Session). Whole batches from concurrent sessions never interleave; each is
  // chained in the order of the Writes.
  class Session;
  Session Begin(const Request& request, size_t count);

  // The last line written: to anchor elsewhere.
  Head head() const;
  const Recovery& recovery() const { return recovery_; }
  const std::string& path() const { return options_.path; }

 private:
  struct Chain;
  struct Batch;  // a session's lines as formatted (src/log_state.h)
  // Where a written batch ended in the chain's bytes, and what Sync needs to know of it.
  struct Written {
    uint64_t end = 0;      // bytes written before it and with it, across files and reopenings
    size_t epoch = 0;      // reopenings of the log before it
    size_t decisions = 0;  // 0: nothing was written; otherwise for the error message
  };
  explicit Log(Options options);
  void Recycle(std::unique_ptr<Batch> batch);  // keeps a batch's buffers for the next one
  // Chains and writes a batch (under mu_).
  absl::Status WriteBatch(const Request& request, Batch& batch, Written* written);
  // Returns once the batch is on disk (group commit, under sync_mu_).
  absl::Status Sync(const Written& written);
  // Reads the live file, cuts a torn tail (and, reopening after a failure, whatever lies past
  // `acknowledged`), resumes the chain, and writes a start or repair record.
  absl::StatusOr<std::optional<Recovery>> OpenLive(std::optional<uint64_t> acknowledged);
  absl::Status Rotate();
  void ApplyRetention();
  absl::Status WriteEvent(absl::string_view event, absl::string_view fields);
  void Notice(absl::string_view message) const;

  Options options_;
  FileSystem* fs_;
  Recovery recovery_;
  // std::mutex, not absl::Mutex: ThreadSanitizer sees inside it. sync_mu_ is taken before mu_.
  mutable std::mutex mu_;
  std::mutex sync_mu_;
  std::unique_ptr<Chain> chain_;
  // Batches' buffers kept for the next session: a batch of 10,000 records is megabytes, and
  // allocating it anew each time costs more than filling it.
  std::mutex spare_mu_;
  std::vector<std::unique_ptr<Batch>> spare_;
};

// A batch being recorded, in three steps:
//
//   Log::Session session = log.Begin(request, count);
//   session.Append(first, last, record);  // on any threads, for disjoint parts
//   absl::Status written = session.Write();  // chained and written, under the log's lock
//   ... other work (lawfuld serializes its answer) ...
//   absl::Status synced = session.Wait();    // OK once the batch is on disk
//
// or Commit() for Write then Wait. The decisions must not be acted on (answered) before Wait or
// Commit returns OK. A session dropped before Write records nothing, and a failed Write writes
// nothing of its batch; either way the batch's buffers go back to the log for the next one. The
// log must outlive its sessions; a moved-from session may only be destroyed or assigned to.
class Log::Session {
 public:
  // Records a part: the unit of Append's ranges.
  static constexpr size_t kPartRecords = 512;

  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  ~Session();

  size_t size() const { return size_; }  // the batch's `count`

  // Formats records [first, last) (their pseudonyms, JSON and most of their chain macs), asking
  // `record(i, &out)` for each, on this thread. `first` is a multiple of kPartRecords; `last` is
  // one too, or size(). Disjoint ranges may be appended on several threads at once (as a pool
  // lends them: lawful::BatchEvaluator::ParallelFor(size(), kPartRecords, …)), so that each part
  // is formatted where it was made, while its data is in that core's cache. Anything else, and
  // Append after Write, aborts.
  void Append(size_t first, size_t last,
              absl::FunctionRef<void(size_t i, DecisionRecord* out)> record);

  // Gives each line its seq and chain mac and writes the batch, after the request line, with one
  // write(). FailedPrecondition, and nothing written, if a record was not appended or Write was
  // called before; UNAVAILABLE when the log cannot be written (see the top of this file).
  absl::Status Write();
  // Returns OK once what Write wrote is on disk (a group commit: one fdatasync covers every batch
  // written before it started); UNAVAILABLE when that sync fails, or Write's error if it failed.
  absl::Status Wait();
  // Write, then Wait.
  absl::Status Commit();

 private:
  friend class Log;
  Session(Log* log, const Request& request, std::unique_ptr<Batch> batch, size_t size);
  void Release();  // gives the batch's buffers back to the log

  enum class State { kAppending, kWritten, kFailed };
  Log* log_ = nullptr;
  Request request_;
  std::unique_ptr<Batch> batch_;  // until Write
  size_t size_ = 0;
  State state_ = State::kAppending;
  Written written_;
  absl::Status failed_;  // Write's error
};

// ---------------------------------------------------------------------------------------------
// Reading: verify, find, head
// ---------------------------------------------------------------------------------------------

// The files of the chain `paths` name, in chain order: each path, plus the rotated files beside
// it (`path.<digits>`), ordered by the seq of their first line. NotFoundError when a path does
// not exist and has no rotated files.
absl::StatusOr<std::vector<std::string>> ChainFiles(const std::vector<std::string>& paths);

enum class ProblemKind {
  kAltered,        // the line's mac does not verify: changed, forged, or not a record
  kRemoved,        // a seq is missing: records were deleted
  kReordered,      // a seq appears out of order (moved, swapped or duplicated)
  kTruncated,      // an incomplete final line, or fewer records than an anchored head
  kMissingFile,    // a file of the chain is missing (or the anchor lies before the files given)
  kWrongKey,       // the file was written with another key
  kUnknownFormat,  // the file's start line names a format this code does not read (a newer one)
};
absl::string_view ProblemKindName(ProblemKind kind);  // "altered", "removed", ...

// The first line that breaks the chain.
struct Problem {
  ProblemKind kind = ProblemKind::kAltered;
  std::string file;
  int64_t line = 0;             // 1-based; 0 when the problem is not one line (a missing tail)
  std::optional<uint64_t> seq;  // the seq the line claims, when readable
  std::string message;          // one sentence

  std::string ToString() const;  // "FILE:LINE: seq N: KIND: MESSAGE"
};

struct VerifyReport {
  std::vector<std::string> files;  // in chain order
  uint64_t decisions = 0;          // decision lines verified
  uint64_t requests = 0;           // request lines verified
  uint64_t events = 0;             // start and repair lines verified
  uint64_t first_seq = 0;    // > 0: the files given start later (earlier ones deleted by retention)
  std::optional<Head> head;  // the last line verified
  std::optional<Problem> problem;  // the first one; nothing after it is counted
  bool ok() const { return !problem.has_value(); }
};

struct VerifyOptions {
  // A head anchored earlier: the chain must still hold that record, unchanged.
  std::optional<Head> anchor;
};

// Verifies the chain of `paths` (see ChainFiles). A Status error only when a file cannot be read.
absl::StatusOr<VerifyReport> Verify(const Key& key, const std::vector<std::string>& paths,
                                    const VerifyOptions& options = {});

// One decision line as read back (fields as written; `contact` and `record` are pseudonyms).
struct Record {
  std::string file;
  int64_t line = 0;
  uint64_t seq = 0;
  uint64_t request_seq = 0;  // seq of the request line the fields from `time` to `at` come from
  std::string time, caller, request_id, rule_set, purpose, channel, notice_type, at, contact;
  int64_t index = 0;
  // `evidence` as written: "consents[0]"; in a version-1 file "consents[0] id=k-1", the record
  // id in clear. `record`: the record id's pseudonym (version 2; empty in version 1).
  std::string outcome, reason, rule, evidence, record, facts, mac;
  // The record id in clear when Find knows it: `record` is the pseudonym of one of the ids it was
  // given (FindOptions::record_ids, or the contact id), or the file is of version 1.
  std::string record_id;
  std::string text;       // the decision line, without its newline
  bool verified = false;  // the chain is intact from its first line up to this one
};
// One JSON object with every field of the record (request and decision joined), e.g. to hand
// to a data subject. `record` and `record_id` only when set.
std::string FormatRecord(const Record& record);

struct FindOptions {
  // The person's record ids (the ids of their consents and objections the caller sent, e.g. an
  // e-mail address): decisions whose evidence is one of these records are found too, even about
  // another contact id, and each record found shows its id in clear (`record_id`).
  std::vector<std::string> record_ids;
};

struct FindResult {
  std::vector<Record> records;  // every decision found, in chain order
  VerifyReport report;          // the chain checked along the way
};

// Every decision about `contact_id` (an Art. 15 access request), and every decision whose
// evidence is one of `options.record_ids` (with record ids given, an empty `contact_id` looks for
// those records only).
// Reads files of both versions. Records after the first problem are still returned, with
// `verified` false.
absl::StatusOr<FindResult> Find(const Key& key, absl::string_view contact_id,
                                const std::vector<std::string>& paths,
                                const FindOptions& options = {});

// The last complete line of the chain, read without the key (so without verifying).
absl::StatusOr<Head> ReadHead(const std::vector<std::string>& paths);

// ---------------------------------------------------------------------------------------------
// Recording lawful.v1 decisions (what lawfuld and `lawful eval` answer)
// ---------------------------------------------------------------------------------------------

// The lawful.v1 enums as records spell them: their short names (lawful/v1/names.h, from the
// proto's descriptors). RecordOf names a decision's outcome so ("allow", "deny", "error"); an
// outcome or a channel the proto does not declare is "unspecified".
// The outreach's channel: "email", "sms", "post", "phone".
absl::string_view ChannelName(lawful::v1::Channel channel);
// Its notice type: "contract", "legal_obligation", "vital_interest", "public_task"; empty when
// unspecified (and then not written).
absl::string_view NoticeTypeName(lawful::v1::NoticeType notice_type);

// The record of one decision (contact id and evidence record id to be pseudonymized, rule as
// policy.name, evidence as field[index], the facts digest; an error's field path as its reason):
// views into `decision`, which must outlive it. What Session::Append asks for, e.g.
//   session.Append(first, last, [&](size_t i, DecisionRecord* r) { RecordOf(decisions[i], r); });
void RecordOf(const lawful::v1::Decision& decision, DecisionRecord* record);

}  // namespace lawful::audit
