// lawful's deciding layer: everything between a request's bytes and its answer that every front
// door shares, and nothing of any transport (no gRPC, no HTTP). lawfuld's methods, `lawful eval`,
// `diff`, `explain` and `test` are adapters over it, so a contact gets one answer whatever door
// it came through.
//
// Fail closed: a request whose envelope or outreach cannot be read is refused (InvalidArgument
// naming the field); anything wrong inside a contact makes that contact's own ERROR decision,
// with the field's path, and the other contacts are decided:
// - a malformed field, or one of the wrong wire type (only unknown field numbers are skipped);
// - invalid UTF-8 in any string of the contact, read by the rules or not;
// - a required field left unset (the `required` option in contact.proto);
// - a timestamp outside 0001-01-01..9999-12-31, or nanos outside 0..999999999;
// - in a field the rules read (the engine's fact decoder): an enum number the proto does not
//   declare, a date that is not YYYY-MM-DD.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "lawful/audit.h"
#include "lawful/engine.h"
#include "lawful/v1/service.pb.h"

namespace lawful::decide {

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

struct ContactProblem {
  std::string field_path;  // e.g. "consents[2].purpose"; empty for the contact as a whole
  std::string message;
};

// Checks a serialized lawful.v1.Contact against its schema (see the list above; enums and dates
// are the engine's). Returns the problem that comes first in field-number order, so the answer
// does not depend on the order of the fields on the wire. `id` gets the contact's id, a view
// into `bytes`, or empty when it is not valid UTF-8 (an answer never echoes invalid text).
std::optional<ContactProblem> CheckContact(std::string_view bytes, std::string_view* id);

// Checks, then decides one contact. `id` gets the id to echo (see CheckContact).
Decision DecideContact(Evaluator& evaluator, const PreparedOutreach& outreach,
                       std::string_view contact_bytes, std::string_view* id);

// The decision as the API answers it, as lawful.v1.Decision wire bytes appended to `out`: the
// contact's id, its position in the request, then RuleSet::AppendDecision's fields (with the
// contact's bytes, so evidence quotes the record as sent). Every door answers with these bytes.
void AppendDecision(const RuleSet& rule_set, const Decision& decision,
                    std::string_view contact_bytes, std::string_view id, uint32_t index,
                    std::string* out);

// The same decision as a message: AppendDecision's bytes, parsed.
void ToMessage(const RuleSet& rule_set, const Decision& decision, std::string_view contact_bytes,
               std::string_view id, uint32_t index, lawful::v1::Decision* out);

// The audit record of a decision (lawful/audit.h), with views into `decision`, `id`, the rule
// set and `facts_hex` (the facts digest in hex, empty when the decision has none).
void RecordOf(const RuleSet& rule_set, const Decision& decision, std::string_view id,
              uint64_t index, std::string_view facts_hex, audit::DecisionRecord* record);

// ---------------------------------------------------------------------------------------------
// Requests, read on their wire bytes
// ---------------------------------------------------------------------------------------------

// What a deciding request carries: DecideRequest, ExplainRequest and DecideBatchRequest share
// their field numbers (outreach 1, contact(s) 2, rule_set_version 3); a stream's start carries
// the outreach and the version, its chunks the contacts.
struct Request {
  bool has_outreach = false;
  lawful::v1::Outreach outreach;
  std::string rule_set_version;
  // Views into the request's bytes (or into `joined`: a singular contact given more than once
  // is merged, as a parse merges it). Each is checked by CheckContact when decided.
  std::vector<std::string_view> contacts;
  std::string joined;
};

// A DecideRequest or ExplainRequest (one contact at most).
absl::Status ReadSingleRequest(std::string_view bytes, Request* out);
// A DecideBatchRequest.
absl::Status ReadBatchRequest(std::string_view bytes, Request* out);

// A DecideStreamRequest: a start (the outreach) or a chunk of contacts.
enum class StreamPart { kNone, kStart, kContacts };
absl::StatusOr<StreamPart> ReadStreamRequest(std::string_view bytes, Request* out);

// ---------------------------------------------------------------------------------------------
// Outreach
// ---------------------------------------------------------------------------------------------

struct ResolvedOutreach {
  PreparedOutreach prepared;
  absl::Time at;  // the outreach's `at`, or `now` when it has none
};

// Checks a request's outreach (InvalidArgument naming the field) and its pinned version
// (FailedPrecondition when it is not `rule_set`'s), then prepares it against `rule_set`.
absl::StatusOr<ResolvedOutreach> ResolveOutreach(const RuleSet& rule_set, const Request& request,
                                                 absl::Time now);

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

// Contacts decided between two calls of a batch's `still_wanted`: large enough for the pool to
// split well, small enough that an abandoned call stops within a few milliseconds.
inline constexpr size_t kSliceContacts = 8192;

// Counts decisions per outcome and reason, over one batch or a whole stream.
class ReasonTally {
 public:
  void Add(Outcome outcome, std::string_view reason, uint64_t count);
  void Add(const ReasonTally& other);
  // Most frequent first; ties in a fixed order, so equal batches get equal summaries.
  void Summarize(google::protobuf::RepeatedPtrField<lawful::v1::ReasonCount>* summary) const;

 private:
  std::map<std::pair<int, std::string>, uint64_t> counts_;
};

// A batch's answers as wire bytes. Concatenated in order, `parts` are the repeated `decisions`
// field (number 1 of both DecideBatchResponse and DecisionChunk), so a front door answers with
// them as they are: no message is built per decision. Each part holds the decisions of at most
// audit::Log::Session::kPartRecords contacts, written by the thread that decided them.
inline constexpr uint32_t kDecisionsField = 1;
struct BatchAnswers {
  std::vector<std::string> parts;
  ReasonTally tally;  // the decisions' outcomes and reasons
  size_t bytes() const {
    size_t n = 0;
    for (const std::string& part : parts) n += part.size();
    return n;
  }
  // The parts as one string: a DecideBatchResponse holding just the decisions, for a caller
  // that wants messages (tests, JSON answers).
  std::string Joined() const {
    std::string joined;
    joined.reserve(bytes());
    for (const std::string& part : parts) joined += part;
    return joined;
  }
};

// The batch loop. Decides `contacts` into `out` (numbered from `first_index`) on `pool`'s
// threads, a part at a time; with `audit_session` (begun for contacts.size() decisions), each
// part's audit records are appended by the thread that decided it, while they are in its cache
// (Session::Append, indexed from 0). The caller then writes and waits for them.
// `still_wanted(done)` is asked before each slice of kSliceContacts; its error stops the loop
// and is returned, with `out` holding the parts decided before it.
absl::Status DecideBatch(BatchEvaluator& pool, const PreparedOutreach& outreach,
                         const std::vector<std::string_view>& contacts, uint64_t first_index,
                         BatchAnswers* out, audit::Log::Session* audit_session,
                         absl::FunctionRef<absl::Status(size_t done)> still_wanted);

// The batch loop without answers, for tools that compare the engine's decisions themselves
// (`lawful diff`): out[i] is DecideContact of contacts[i], decided on `pool`'s threads.
void DecideContacts(BatchEvaluator& pool, const PreparedOutreach& outreach,
                    const std::vector<std::string_view>& contacts, std::vector<Decision>& out);

// ---------------------------------------------------------------------------------------------
// Explaining
// ---------------------------------------------------------------------------------------------

// Decides one contact and explains it (RuleSet::Explain); a contact with a problem is explained
// as not decided. The explanation's decision is the one DecideContact gives.
void Explain(const ResolvedOutreach& outreach, std::string_view contact_bytes,
             lawful::v1::Explanation* out);

// ---------------------------------------------------------------------------------------------
// Contacts from proto JSON and CSV, to wire bytes (what `lawful eval` reads; any door taking
// JSON or CSV reuses them)
// ---------------------------------------------------------------------------------------------

// The kinds of field values `lawful eval` reads and writes in proto JSON, for the JSON
// transcoder, the decision printer and the CSV mapping alike.

enum class ValueKind : uint8_t {
  kString,
  kBool,
  kEnum,
  kInt32,
  kInt64,  // written as a quoted string in proto JSON
  kUInt32,
  kUInt64,  // quoted
  kMessage,
  kTimestamp,    // google.protobuf.Timestamp: an RFC 3339 string
  kUnsupported,  // double, bytes, maps, sint/fixed encodings, other well-known types
};

// The kind of one value of `field` (of each element, when repeated).
inline ValueKind ValueKindOf(const google::protobuf::FieldDescriptor* field) {
  namespace pb = google::protobuf;
  if (field->is_map()) return ValueKind::kUnsupported;
  switch (field->type()) {
    case pb::FieldDescriptor::TYPE_STRING:
      return ValueKind::kString;
    case pb::FieldDescriptor::TYPE_BOOL:
      return ValueKind::kBool;
    case pb::FieldDescriptor::TYPE_ENUM:
      // NullValue's JSON form is `null`, which means "not set" here.
      return field->enum_type()->full_name() == "google.protobuf.NullValue"
                 ? ValueKind::kUnsupported
                 : ValueKind::kEnum;
    case pb::FieldDescriptor::TYPE_INT32:
      return ValueKind::kInt32;
    case pb::FieldDescriptor::TYPE_INT64:
      return ValueKind::kInt64;
    case pb::FieldDescriptor::TYPE_UINT32:
      return ValueKind::kUInt32;
    case pb::FieldDescriptor::TYPE_UINT64:
      return ValueKind::kUInt64;
    case pb::FieldDescriptor::TYPE_MESSAGE: {
      const std::string& name = field->message_type()->full_name();
      if (name == "google.protobuf.Timestamp") return ValueKind::kTimestamp;
      // The other well-known types have JSON forms of their own.
      if (name.rfind("google.protobuf.", 0) == 0 && name != "google.protobuf.Empty") {
        return ValueKind::kUnsupported;
      }
      return ValueKind::kMessage;
    }
    default:
      return ValueKind::kUnsupported;
  }
}

// Proto JSON to protobuf wire bytes without building a message: `lawful eval` parses each input
// line with simdjson and writes the lawful.v1.Contact bytes the engine decodes, driven by the
// message's descriptor. It accepts what protobuf's JsonStringToMessage accepts for the types a
// contact uses (lowerCamelCase or original field names, enums by name or number, Timestamps as
// RFC 3339 strings, null as "not set"), writes the bytes SerializeToString would write for the
// same message, and rejects unknown fields as protobuf does by default. It is stricter in a few
// corners protobuf lets through: a field given twice, a single value where an array belongs, a
// Timestamp given as an object, and date parts without their leading zeros.

// What is wrong with one input document: the field at fault as a path of proto field names
// ("consents[1].granted_at"; empty when the document as a whole is wrong) and why.
struct FieldError {
  std::string path;
  std::string message;
  std::string column;  // CSV input: the column the value came from
};

// The bytes simdjson may read past the end of a document (simdjson::SIMDJSON_PADDING), so that
// callers can size their buffers without including simdjson.
extern const size_t kJsonPadding;

// One per thread: holds simdjson's parser and scratch space, reused from line to line.
class JsonTranscoder {
 public:
  // `message` is the type every document is read as (lawful.v1.Contact for eval).
  explicit JsonTranscoder(const google::protobuf::Descriptor* message);
  ~JsonTranscoder();
  JsonTranscoder(const JsonTranscoder&) = delete;
  JsonTranscoder& operator=(const JsonTranscoder&) = delete;

  // Appends the wire bytes of the message `json` describes to `out`. `json` must be followed by
  // kJsonPadding readable bytes (they are not part of the document). On failure `out` is left as
  // it was and `error` says which field is at fault.
  bool Transcode(std::string_view json, std::string* out, FieldError* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// CSV input for `lawful eval`: RFC 4180 records, and the mapping of a header's columns onto
// lawful.v1.Contact fields (README, "CSV input"). Each row is turned into the contact's proto
// JSON and read by the same JsonTranscoder as a JSONL line, so both formats accept the same
// values and name the same field paths; CSV errors also name the column.
//
// Columns, by field name (proto or lowerCamelCase), nested fields joined with dots:
//   id, email, birth_date, last_activity_at, relationship.is_customer, ...   one value per cell
//   consents.0.purpose, consents.0.granted_at, consents.1.purpose, ...       indexed records
//   consents, objections, relationship                                       a proto JSON cell
//   suppressions, collection_purposes, relationship.opted_out_channels       values split by |
// An empty cell is an unset field; a record whose cells are all empty is left out. Enums take
// the proto name (CHANNEL_EMAIL), the short name in any case (email) or the number; booleans
// true/false/yes/no/1/0; instants RFC 3339.

// The delimiter of a header row: the first of `,` `;` and TAB outside quotes (spreadsheets set
// to a locale with decimal commas export with `;`), else `,`.
char DetectCsvDelimiter(std::string_view header);

// Splits one record, without its line terminator, into cells (RFC 4180: a quoted cell may hold
// the delimiter, line breaks and doubled quotes). Unquoted cells are views into `record`, quoted
// ones into `scratch`, which must not change until the cells are used. False, with `error`, on a
// stray quote.
bool SplitCsvRecord(std::string_view record, char delimiter, std::vector<std::string_view>* cells,
                    std::string* scratch, std::string* error);

class CsvContactMapping;

// One per thread: turns rows into proto JSON under a shared mapping.
class CsvRowConverter {
 public:
  CsvRowConverter(std::shared_ptr<const CsvContactMapping> mapping, char delimiter);
  ~CsvRowConverter();
  CsvRowConverter(const CsvRowConverter&) = delete;
  CsvRowConverter& operator=(const CsvRowConverter&) = delete;

  // Writes the proto JSON of the contact in `record` (one row, without its line terminator) to
  // `json`, replacing its contents. False with `error` (its column set) when a cell cannot be
  // read or the row has the wrong number of cells.
  bool ToJson(std::string_view record, std::string* json, FieldError* error);

  // Sets `error->column` for an error the JsonTranscoder found in the last row's JSON.
  void NameColumn(FieldError* error) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How a header's columns map onto the contact's fields; immutable, shared by the threads.
class CsvContactMapping {
 public:
  // InvalidArgument naming the first column that names no field (unless listed in `ignored`;
  // columns with an empty name are ignored too), a column given twice, or a repeated field given
  // both as a JSON cell and as indexed columns.
  static absl::StatusOr<std::shared_ptr<const CsvContactMapping>> Create(
      const std::vector<std::string>& header, const std::vector<std::string>& ignored,
      const google::protobuf::Descriptor* message);
  ~CsvContactMapping();

  size_t columns() const;

 private:
  friend class CsvRowConverter;
  struct Tree;
  CsvContactMapping();
  std::unique_ptr<Tree> tree_;
};

}  // namespace lawful::decide
