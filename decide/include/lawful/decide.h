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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

// The decision as the API answers it: RuleSet::ToProto (with the contact's bytes, so evidence
// quotes the record as sent), the contact's id and its position in the request.
void ToMessage(const RuleSet& rule_set, const Decision& decision, std::string_view contact_bytes,
               std::string_view id, uint32_t index, lawful::v1::Decision* out);

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

// The batch loop. Decides `contacts` into `out` (appended, numbered from `first_index`) on
// `pool`'s threads, a part at a time; with `lines`, each part's audit records are formatted by
// the thread that decided it, while they are in its cache (audit::Log::Lines, indexed from 0).
// `still_wanted(done)` is asked before each slice of kSliceContacts; its error stops the loop
// and is returned, with `out` holding a prefix of the decisions.
absl::Status DecideBatch(BatchEvaluator& pool, const PreparedOutreach& outreach,
                         const std::vector<std::string_view>& contacts, uint64_t first_index,
                         google::protobuf::RepeatedPtrField<lawful::v1::Decision>* out,
                         audit::Log::Lines* lines,
                         absl::FunctionRef<absl::Status(size_t done)> still_wanted);

// The batch loop without answers, for tools that compare the engine's decisions themselves
// (`lawful diff`): out[i] is DecideContact of contacts[i], decided on `pool`'s threads.
void DecideContacts(BatchEvaluator& pool, const PreparedOutreach& outreach,
                    const std::vector<std::string_view>& contacts, std::vector<Decision>& out);

// Counts decisions per outcome and reason, over one batch or a whole stream.
class ReasonTally {
 public:
  void Add(const google::protobuf::RepeatedPtrField<lawful::v1::Decision>& decisions);
  // Most frequent first; ties in a fixed order, so equal batches get equal summaries.
  void Summarize(google::protobuf::RepeatedPtrField<lawful::v1::ReasonCount>* summary) const;

 private:
  std::map<std::pair<int, std::string>, uint64_t> counts_;
};

// ---------------------------------------------------------------------------------------------
// Explaining
// ---------------------------------------------------------------------------------------------

// Decides one contact and explains it (RuleSet::Explain); a contact with a problem is explained
// as not decided. The explanation's decision is the one DecideContact gives.
void Explain(const ResolvedOutreach& outreach, std::string_view contact_bytes,
             lawful::v1::Explanation* out);

}  // namespace lawful::decide
