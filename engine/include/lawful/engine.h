// lawful's engine: the program format the rules compile to, its verifier and disassembler, the VM
// that runs it against one contact, and the rule set the server and CLI hold. Knows nothing of the
// rules language's grammar and nothing of gRPC.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lawful/text.h"
#include "lawful/v1/decision.pb.h"
#include "lawful/v1/service.pb.h"

namespace lawful {

// ---------------------------------------------------------------------------------------------
// The protobuf wire format, read in place: the project's one reader (the fact decoder, the
// requests' and contacts' checks, evidence quoting). Malformed input is `false`, never a crash.
// ---------------------------------------------------------------------------------------------

namespace wire {

enum Type : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// The largest field number protobuf allows (2^29 - 1).
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ >= end_; }

  bool Varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const uint8_t byte = *p_++;
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // The next field's number and wire type. False at a tag protobuf's parser refuses too: a
  // truncated one, field number 0 or above kMaxFieldNumber, wire type 6 or 7.
  bool Tag(uint32_t& number, uint32_t& type) {
    uint64_t tag;
    if (!Varint(tag) || (tag >> 3) == 0 || (tag >> 3) > kMaxFieldNumber || (tag & 7) > kFixed32) {
      return false;
    }
    number = static_cast<uint32_t>(tag >> 3);
    type = static_cast<uint32_t>(tag & 7);
    return true;
  }

  bool Bytes(std::string_view& out) {
    uint64_t size;
    if (!Varint(size) || size > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(size));
    p_ += size;
    return true;
  }

  // Skips the value of the field whose tag (`number`, `type`) was just read. A group is skipped
  // to its matching end, nested at most 100 deep as protobuf's parser allows; an end-group
  // without its start is malformed.
  bool Skip(uint32_t number, uint32_t type, int depth = 0) {
    uint64_t ignored;
    std::string_view body;
    switch (type) {
      case kVarint:
        return Varint(ignored);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return Bytes(body);
      case kFixed32:
        return Advance(4);
      case kStartGroup: {
        if (depth >= 100) return false;
        uint32_t inner_number, inner_type;
        while (Tag(inner_number, inner_type)) {
          if (inner_type == kEndGroup) return inner_number == number;
          if (!Skip(inner_number, inner_type, depth + 1)) return false;
        }
        return false;
      }
      default:
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

// Writing, for answers built straight as wire bytes (no message objects on the hot path).
inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
inline void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void AppendTag(uint32_t number, Type type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(number) << 3) | type, out);
}
// A length-delimited field's tag and length; its `size` bytes of body follow.
inline void AppendLengthPrefix(uint32_t number, size_t size, std::string* out) {
  AppendTag(number, kLengthDelimited, out);
  AppendVarint(size, out);
}
inline void AppendBytesField(uint32_t number, std::string_view bytes, std::string* out) {
  AppendLengthPrefix(number, bytes.size(), out);
  out->append(bytes);
}
// The encoded size of a length-delimited field of `size` body bytes.
inline size_t LengthDelimitedSize(uint32_t number, size_t size) {
  return VarintSize(static_cast<uint64_t>(number) << 3) + VarintSize(size) + size;
}
// Proto3 semantics: a scalar at its default (0, empty) is not written.
inline void AppendStringIfSet(uint32_t number, std::string_view s, std::string* out) {
  if (!s.empty()) AppendBytesField(number, s, out);
}
inline size_t StringIfSetSize(uint32_t number, std::string_view s) {
  return s.empty() ? 0 : LengthDelimitedSize(number, s.size());
}
inline void AppendVarintIfSet(uint32_t number, uint64_t v, std::string* out) {
  if (v == 0) return;
  AppendTag(number, kVarint, out);
  AppendVarint(v, out);
}
inline size_t VarintIfSetSize(uint32_t number, uint64_t v) {
  return v == 0 ? 0 : VarintSize(static_cast<uint64_t>(number) << 3) + VarintSize(v);
}

}  // namespace wire

// google.protobuf.Timestamp's range, the one protobuf's JSON mapping allows (lawful/text.h).
using text::IsValidUtf8;
using text::kMaxTimestampSeconds;
using text::kMinTimestampSeconds;
inline constexpr bool IsValidTimestamp(int64_t seconds, int64_t nanos) {
  return seconds >= kMinTimestampSeconds && seconds <= kMaxTimestampSeconds && nanos >= 0 &&
         nanos <= 999'999'999;
}
// What is wrong with a timestamp outside that range, or nullptr: what an ERROR decision says.
inline constexpr const char* TimestampProblem(int64_t seconds, int64_t nanos) {
  if (nanos < 0 || nanos > 999'999'999) return "the timestamp's nanos are outside 0..999999999";
  if (!IsValidTimestamp(seconds, nanos)) {
    return "the timestamp is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z";
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Program format
// ---------------------------------------------------------------------------------------------

enum class Op : uint8_t {
#define LAWFUL_OP(name, shape, pops, pushes, doc) name,
#include "lawful/opcodes.def"
#undef LAWFUL_OP
};

// What an instruction's operands mean; drives the verifier's range checks and the disassembler.
enum class OperandShape : uint8_t {
  kNone,        // no operand
  kImm,         // b: an immediate int
  kConstInt,    // b: index into Program::ints
  kConstStr,    // b: index into Program::strings
  kSlot,        // b: contact fact slot
  kReg,         // b: request register
  kLocal,       // b: local variable
  kListField,   // a: list, b: field slot within that list's records
  kLocalField,  // a: local holding a record index, c: list, b: field slot
  kLocalImm,    // a: local, b: an immediate int
  kJump,        // b: target pc
  kLoop,        // a: local (the index), c: list, b: target pc on exhaustion
  kDuration,    // b: index into Program::durations
  kZone,        // b: index into Program::zones
  kSet,         // b: index into Program::sets
  kList,        // b: list
  kRule,        // b: index into Program::rules
};

struct OpInfo {
  const char* name;  // "push_int"
  OperandShape shape;
  int pops;
  int pushes;
  const char* doc;
};
const OpInfo& GetOpInfo(Op op);
inline constexpr int kNumOps = 0
#define LAWFUL_OP(name, shape, pops, pushes, doc) +1
#include "lawful/opcodes.def"
#undef LAWFUL_OP
    ;

struct Instr {
  Op op;
  uint8_t c = 0;
  uint16_t a = 0;
  int32_t b = 0;
};
static_assert(sizeof(Instr) == 8);

// The missing value of optional facts (an unset instant, an unknown birth date).
inline constexpr int64_t kMissing = std::numeric_limits<int64_t>::min();

// The rules' integer arithmetic, shared by the VM and the rules compiler's constant folding so
// that a `const` means exactly what the same expression would at run time. Each stores the result
// in *r and returns true, or returns false when the result has no value: it overflows, divides by
// zero, or would be kMissing (INT64_MIN is reserved for missing, so the numbers rules hold run from
// -INT64_MAX to INT64_MAX). Missing operands are the caller's business: the VM checks them first.
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* r) {
  return !__builtin_add_overflow(a, b, r) && *r != kMissing;
}
inline bool CheckedSub(int64_t a, int64_t b, int64_t* r) {
  return !__builtin_sub_overflow(a, b, r) && *r != kMissing;
}
inline bool CheckedMul(int64_t a, int64_t b, int64_t* r) {
  return !__builtin_mul_overflow(a, b, r) && *r != kMissing;
}
// INT64_MIN / -1 does not fit (and traps on x86): checked before dividing, as is division by zero.
inline bool CheckedDiv(int64_t a, int64_t b, int64_t* r) {
  if (b == 0 || (a == kMissing && b == -1)) return false;
  *r = a / b;
  return *r != kMissing;
}
inline bool CheckedNeg(int64_t a, int64_t* r) {
  if (a == kMissing) return false;  // -INT64_MIN does not fit
  *r = -a;
  return true;
}

// Request registers every program can read; hoisted `at`-dependent values follow them.
enum RequestRegister : int32_t {
  kRegAt = 0,          // the outreach's instant, ns since epoch
  kRegPurpose = 1,     // purpose id (index into Program::purposes)
  kRegChannel = 2,     // lawful.v1.Channel number
  kRegNoticeType = 3,  // lawful.v1.NoticeType number, UNSPECIFIED already mapped to CONTRACT
  kNumFixedRegisters = 4,
};

// The VM's frame: the verifier refuses a program that needs more, and the compiler reports the
// rule that would take a rule set past them.
inline constexpr int kMaxStack = 1024;
inline constexpr int kMaxLocals = 4096;
inline constexpr int kMaxRegisters = 65536;

// A place in a rule file.
struct SourceSpan {
  uint32_t file = 0;  // index into Program::files
  uint32_t line = 0;  // 1-based
  uint32_t column = 0;
  uint32_t end_line = 0;
  uint32_t end_column = 0;
};

// A calendar duration: months move the calendar date keeping the time of day (clamped to the
// month's last day), days move by whole calendar days; both in UTC.
struct CalendarDuration {
  int32_t months = 0;
  int32_t days = 0;
  friend bool operator==(const CalendarDuration&, const CalendarDuration&) = default;
};

enum class Outcome : uint8_t { kAllow = 1, kDeny = 2, kError = 3 };

// "allow", "deny" or "error": how tools and fixtures spell an outcome.
const char* OutcomeName(Outcome outcome);

// The API's spelling of the engine's outcomes and instants; every caller converts through these.
lawful::v1::Outcome ToProto(Outcome outcome);
// `t` as a Timestamp: seconds rounded towards the past, so the nanos are never negative.
void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromProto(const google::protobuf::Timestamp& ts);

struct Rule {
  std::string name;    // unique within its policy; names the rule in decisions
  std::string reason;  // the reason code reported (the name unless the rule says otherwise)
  std::string policy;  // the enclosing policy's name
  Outcome outcome = Outcome::kDeny;
  std::string citation;
  std::vector<std::string> obligations;
  std::string note;
  SourceSpan span;
  int32_t evidence_list = -1;  // the list whose record the rule names as evidence, or -1
  int32_t entry = -1;          // pc where checking the rule begins (Explain traces from it)
};

struct Policy {
  std::string name;
  std::vector<int32_t> purposes;       // purpose ids the policy covers
  uint32_t channels = 0;               // bit (1 << lawful.v1.Channel) per covered channel
  int64_t effective_from = kMissing;   // instant; kMissing = since always
  int64_t effective_until = kMissing;  // instant, exclusive; kMissing = for ever
  int32_t entry = 0;                   // pc of the policy's first rule
  std::vector<int32_t> rules;          // indices into Program::rules, in checking order
  SourceSpan span;
};

// How one proto field of the contact (or of a record inside it) is read into the VM's slots.
enum class FactKind : uint8_t {
  kInt,  // any integer field
  kBool,
  kEnum,
  kInstant,  // google.protobuf.Timestamp
  kDate,     // "YYYY-MM-DD" string
  kString,
  kPurpose,     // a purpose name, stored as its id (-1 when undeclared)
  kMessage,     // a singular nested message whose fields share the enclosing slot space
  kRecordList,  // repeated message: each element is a record of the list
  kScalarList,  // repeated scalar (enum, purpose, int, string)
};

struct FactField {
  uint32_t number = 0;  // proto field number in its message
  FactKind kind = FactKind::kInt;
  FactKind element = FactKind::kInt;  // for kScalarList: the element kind
  int32_t slot = -1;                  // scalar: slot; kRecordList/kScalarList: list index
  int32_t message = -1;               // kMessage/kRecordList: index into FactLayout::messages
  std::string name;                   // proto field name, for error paths
};

struct MessageLayout {
  std::vector<FactField> fields;  // sorted by number
};

struct ListLayout {
  std::string name;      // field path, e.g. "consents"
  bool records = false;  // records (repeated message) or scalars
  int32_t width = 1;     // slots per record
  int32_t id_slot = -1;  // a record's caller-side `id` slot, for evidence
};

// Which contact fields the program reads and where they land. Fields no rule reads are skipped
// by the decoder, so the cost of a contact grows with the rules, not with the schema.
struct FactLayout {
  std::vector<MessageLayout> messages;  // [0] is lawful.v1.Contact
  int32_t contact_slots = 0;
  std::vector<ListLayout> lists;
};

struct Program {
  std::vector<Instr> code;
  std::vector<SourceSpan> spans;  // parallel to code
  int32_t prelude = 0;            // pc of the per-request prelude (ends in kHalt)
  int32_t num_registers = kNumFixedRegisters;
  int32_t num_locals = 0;
  // Locals [0, num_memo_flags) say whether a memoized value was computed for this contact; the
  // evaluator clears them before each contact (every other local is written before it is read).
  int32_t num_memo_flags = 0;
  int32_t max_stack = 0;  // filled in by the verifier

  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<CalendarDuration> durations;
  std::vector<std::string> zones;          // IANA names, e.g. "Europe/Stockholm"
  std::vector<std::vector<int64_t>> sets;  // sorted
  std::vector<std::string> purposes;       // declared purpose names; the id is the index
  std::vector<std::string> files;          // rule files, relative to the rule set's root
  std::vector<std::string> sources;        // their texts, parallel to files (may be empty)
  // What each request register holds, for Explain's display: registers below kNumFixedRegisters
  // are the request's own; hoisted ones hold the value of the expression at `span`.
  struct RegisterInfo {
    FactKind kind = FactKind::kInt;  // how to show the value (kInt when not a time, text, ...)
    SourceSpan span;                 // the expression's extent, when it sits on one line
  };
  std::vector<RegisterInfo> registers;
  std::vector<Rule> rules;
  std::vector<Policy> policies;
  FactLayout layout;
};

// Checks a program before anything runs it: every operand in range, every jump inside the code,
// a consistent stack depth on every path within bounds, every policy path ending in a decision.
absl::Status Verify(Program& program);

// Whether `name` has the shape of an IANA time zone name ("UTC", "Europe/Stockholm",
// "America/Argentina/Buenos_Aires", "Etc/GMT+1"). The tz database is read from files named after
// the zone, so nothing else (an absolute path such as "/dev/stdin", a `..`) may reach
// absl::LoadTimeZone: the checker and the verifier both refuse it.
bool IsTimeZoneName(std::string_view name);

// Readable bytecode, one instruction a line, with the source line each block came from.
// `sources` are the rule files' texts, parallel to Program::files (may be empty).
std::string Disassemble(const Program& program, const std::vector<std::string>& sources = {});

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

// An outreach as the engine sees it, before validation against a rule set.
struct Outreach {
  std::string purpose;
  lawful::v1::Channel channel = lawful::v1::CHANNEL_UNSPECIFIED;
  lawful::v1::NoticeType notice_type = lawful::v1::NOTICE_TYPE_UNSPECIFIED;
  absl::Time at;
  // Whether decisions carry the digest of the facts they were computed from (a SHA-256 over the
  // facts the rules read: about as costly as evaluating the policy). Benchmarks of the bare VM
  // turn it off; everything that answers callers keeps it.
  bool facts_digest = true;
};

class RuleSet;
class FactDecoder;

// An outreach resolved against one rule set: its policy chosen and its cut-offs computed once.
struct PreparedOutreach {
  const RuleSet* rule_set = nullptr;
  const Policy* policy = nullptr;
  absl::Time at;
  std::vector<int64_t> registers;
  bool facts_digest = true;
};

// The decision for one contact. Strings live in the rule set; nothing is copied per contact.
struct Decision {
  Outcome outcome = Outcome::kError;
  const Rule* rule = nullptr;      // the deciding rule; null for kError
  int32_t evidence_index = -1;     // record index in rule->evidence_list, or -1
  std::string evidence_id;         // that record's caller-side id, if any
  int64_t valid_until = kMissing;  // instant, when the rule declares one
  bool has_facts_digest = false;   // set unless the outreach turned digests off, or kError
  uint8_t facts_digest[32] = {};   // SHA-256 of the facts the rules read (see FactsDigest)
  std::string error_path;          // kError: the offending field, e.g. "consents[2].granted_at"
  std::string error_message;       // kError: what is wrong with it
};

// One contact's facts decoded under one rule set's layout: decode once, evaluate under any
// outreach prepared from the same rule set. Reusable: decoding into it again reuses its storage.
// Holds views into the bytes it was decoded from, which must outlive it.
class ContactFacts {
 public:
  ContactFacts();
  ~ContactFacts();
  ContactFacts(ContactFacts&&) noexcept;
  ContactFacts& operator=(ContactFacts&&) noexcept;

 private:
  friend class Evaluator;
  friend class RuleSet;
  struct Storage;
  std::unique_ptr<Storage> storage_;
  const RuleSet* rule_set_ = nullptr;
};

// Per-thread scratch: the decoded facts and the VM's stack. Reused across contacts so steady
// state allocates nothing. Not thread-safe; one per thread.
class Evaluator {
 public:
  Evaluator();
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Decides one contact given as serialized lawful.v1.Contact bytes.
  Decision Decide(const PreparedOutreach& outreach, std::string_view contact_bytes);
  // Convenience for callers holding a parsed message (serializes it first).
  Decision Decide(const PreparedOutreach& outreach, const lawful::v1::Contact& contact);
  // Runs the policy on facts decoded by RuleSet::Decode from the same rule set.
  Decision Evaluate(const PreparedOutreach& outreach, const ContactFacts& facts);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The batch path: a fixed pool of worker threads, created once (never per request), that decides
// a batch of contacts for one prepared outreach. Decisions come back in input order and are
// identical to deciding each contact alone. Safe to call from many threads at once.
class BatchEvaluator {
 public:
  // `threads` workers besides the calling thread; 0 means one per hardware thread, minus one.
  explicit BatchEvaluator(int threads = 0);
  ~BatchEvaluator();
  BatchEvaluator(const BatchEvaluator&) = delete;
  BatchEvaluator& operator=(const BatchEvaluator&) = delete;

  // out[i] = the decision for contacts[i]. The outreach pins one rule-set snapshot for the batch.
  void Decide(const PreparedOutreach& outreach, const std::vector<std::string_view>& contacts,
              std::vector<Decision>& out);

  // Runs body(begin, end) over [0, n) cut into ranges of `grain`, on the workers and the calling
  // thread at once; returns when every range is done. For the work that goes with a batch's
  // decisions, on the same cores (the audit log formats a batch's records here).
  void ParallelFor(size_t n, size_t grain,
                   const std::function<void(size_t begin, size_t end)>& body);

  int workers() const;

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

// A compiled, verified rule set with its identity. Immutable once built; shared by readers.
class RuleSet {
 public:
  // Verifies `program`; fails if it is malformed.
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Create(Program program,
                                                               std::string version);

  const Program& program() const { return program_; }
  // Hex hash of the rule files' bytes.
  const std::string& version() const { return version_; }

  // Resolves the purpose, picks the policy in force at `at`, and computes the request's cut-offs.
  // InvalidArgument naming the field when the purpose is undeclared, the channel unspecified, or
  // no policy covers the outreach.
  absl::StatusOr<PreparedOutreach> Prepare(const Outreach& outreach) const;

  // Decodes a contact's bytes into `facts` for Evaluator::Evaluate. On malformed facts returns
  // false and fills `error` (an kError decision naming the field).
  bool Decode(std::string_view contact_bytes, ContactFacts& facts, Decision& error) const;

  // The rule's location as "file:line".
  std::string Location(const Rule& rule) const;

  // Fills a decision message: reason, citation, rule reference, obligations, evidence, facts
  // digest. With the contact's bytes, the evidence also carries the record itself (every field
  // the caller sent, e.g. the consent's source).
  // It is AppendDecision's bytes, parsed.
  void ToProto(const Decision& decision, lawful::v1::Decision* out,
               std::string_view contact_bytes = {}) const;

  // The same, as lawful.v1.Decision wire bytes appended to `out` (fields outcome through
  // facts_digest, in field order, as protobuf would serialize them), without building a message:
  // what the batch paths answer with. The evidence quotes the record's bytes as sent.
  void AppendDecision(const Decision& decision, std::string_view contact_bytes,
                      std::string* out) const;

  // Decides one contact and explains it: every rule of the policy checked, in order, the values
  // its condition read and whether it fired, and a summary for a reader without the rule files.
  // The decision in the explanation is the one Evaluator::Decide gives for the same input.
  void Explain(const PreparedOutreach& outreach, std::string_view contact_bytes,
               lawful::v1::Explanation* out) const;

 private:
  friend class Evaluator;
  RuleSet(Program program, std::string version);
  Program program_;
  std::string version_;
  std::vector<absl::TimeZone> zones_;     // loaded once, parallel to Program::zones
  std::unique_ptr<FactDecoder> decoder_;  // built from Program::layout

 public:
  struct Catalog;  // names, kinds and descriptors of the facts; engine-internal (src/catalog.h)

 private:
  std::unique_ptr<const Catalog> catalog_;

 public:
  ~RuleSet();
};

// The rule-set version: hex SHA-256 over (name, bytes) pairs in the order given, each framed by
// its length so no two different sets of files hash alike.
std::string ContentVersion(const std::vector<std::pair<std::string, std::string>>& parts);

}  // namespace lawful
