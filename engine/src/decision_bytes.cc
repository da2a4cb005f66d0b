// A decision as lawful.v1.Decision wire bytes, written without a message object: the batch
// paths answer thousands of decisions a call, and building, serializing and freeing a message
// tree for each cost more than deciding it. ToProto parses these same bytes, so there is one
// writer of a decision's fields.
#include <cstring>

#include "calendar.h"
#include "catalog.h"
#include "lawful/engine.h"

namespace lawful {
namespace {

// lawful.v1.Decision, RuleRef, Evidence, ContactError and google.protobuf.Timestamp field numbers
// (decision.proto); DecisionBytesTest checks the bytes against protobuf's own serialization.
namespace field {
constexpr uint32_t kOutcome = 3, kReason = 4, kCitation = 5, kRule = 6, kObligations = 7,
                   kEvidence = 8, kValidUntil = 9, kError = 10, kFactsDigest = 11;
constexpr uint32_t kRuleName = 1, kRulePolicy = 2, kRuleFile = 3, kRuleLine = 4;
constexpr uint32_t kEvidenceField = 1, kEvidenceIndex = 2, kEvidenceRecordId = 3;
constexpr uint32_t kErrorFieldPath = 1, kErrorMessage = 2;
constexpr uint32_t kSeconds = 1, kNanos = 2;
}  // namespace field

void AppendTimestamp(uint32_t number, int64_t instant, std::string* out) {
  // As lawful::ToProto(absl::Time, Timestamp*) splits it: seconds toward the past, nanos >= 0.
  const absl::Time t = calendar::ToTime(instant);
  const int64_t seconds = absl::ToUnixSeconds(t);
  const int64_t nanos = absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds));
  const size_t size = wire::VarintIfSetSize(field::kSeconds, static_cast<uint64_t>(seconds)) +
                      wire::VarintIfSetSize(field::kNanos, static_cast<uint64_t>(nanos));
  wire::AppendLengthPrefix(number, size, out);
  wire::AppendVarintIfSet(field::kSeconds, static_cast<uint64_t>(seconds), out);
  wire::AppendVarintIfSet(field::kNanos, static_cast<uint64_t>(nanos), out);
}

}  // namespace

void RuleSet::AppendDecision(const Decision& d, std::string_view contact_bytes,
                             std::string* out) const {
  // The outcome's enum number is lawful.v1.Outcome's (see ToProto(Outcome)).
  wire::AppendVarintIfSet(field::kOutcome, static_cast<uint64_t>(d.outcome), out);
  if (d.outcome == Outcome::kError) {
    // Present even when both strings are empty: an ERROR always says it has an error.
    wire::AppendLengthPrefix(field::kError,
                             wire::StringIfSetSize(field::kErrorFieldPath, d.error_path) +
                                 wire::StringIfSetSize(field::kErrorMessage, d.error_message),
                             out);
    wire::AppendStringIfSet(field::kErrorFieldPath, d.error_path, out);
    wire::AppendStringIfSet(field::kErrorMessage, d.error_message, out);
    return;
  }
  if (d.rule == nullptr) return;
  const Rule& r = *d.rule;
  wire::AppendStringIfSet(field::kReason, r.reason, out);
  wire::AppendStringIfSet(field::kCitation, r.citation, out);
  const std::string_view file =
      r.span.file < program_.files.size() ? std::string_view(program_.files[r.span.file]) : "";
  wire::AppendLengthPrefix(field::kRule,
                           wire::StringIfSetSize(field::kRuleName, r.name) +
                               wire::StringIfSetSize(field::kRulePolicy, r.policy) +
                               wire::StringIfSetSize(field::kRuleFile, file) +
                               wire::VarintIfSetSize(field::kRuleLine, r.span.line),
                           out);
  wire::AppendStringIfSet(field::kRuleName, r.name, out);
  wire::AppendStringIfSet(field::kRulePolicy, r.policy, out);
  wire::AppendStringIfSet(field::kRuleFile, file, out);
  wire::AppendVarintIfSet(field::kRuleLine, r.span.line, out);
  for (const std::string& o : r.obligations) wire::AppendBytesField(field::kObligations, o, out);
  if (d.evidence_index >= 0 && r.evidence_list >= 0) {
    const std::string& list_name = program_.layout.lists[r.evidence_list].name;
    const ListInfo& list = catalog_->lists[r.evidence_list];
    std::string_view record;
    const bool quoted = !contact_bytes.empty() && list.number != 0 &&
                        list.evidence_field != nullptr &&
                        NthField(contact_bytes, list.number, d.evidence_index, record);
    const uint32_t record_number =
        quoted ? static_cast<uint32_t>(list.evidence_field->number()) : 0;
    wire::AppendLengthPrefix(
        field::kEvidence,
        wire::StringIfSetSize(field::kEvidenceField, list_name) +
            wire::VarintIfSetSize(field::kEvidenceIndex, static_cast<uint64_t>(d.evidence_index)) +
            wire::StringIfSetSize(field::kEvidenceRecordId, d.evidence_id) +
            (quoted ? wire::LengthDelimitedSize(record_number, record.size()) : 0),
        out);
    wire::AppendStringIfSet(field::kEvidenceField, list_name, out);
    wire::AppendVarintIfSet(field::kEvidenceIndex, static_cast<uint64_t>(d.evidence_index), out);
    wire::AppendStringIfSet(field::kEvidenceRecordId, d.evidence_id, out);
    // The record as sent: the contact was checked whole (lawful/decide.h), so these bytes parse.
    if (quoted) wire::AppendBytesField(record_number, record, out);
  }
  if (d.valid_until != kMissing) AppendTimestamp(field::kValidUntil, d.valid_until, out);
  if (d.has_facts_digest) {
    wire::AppendLengthPrefix(field::kFactsDigest, 2 * sizeof d.facts_digest, out);
    AppendHex(d.facts_digest, sizeof d.facts_digest, out);
  }
}

}  // namespace lawful
