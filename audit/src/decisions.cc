// The bridge from lawful.v1.Decision messages to audit records: one place for lawfuld and
// `lawful eval`, so both logs read alike.
#include "absl/strings/str_cat.h"
#include "lawful/audit.h"

namespace lawful::audit {
namespace {

absl::string_view OutcomeWord(lawful::v1::Outcome outcome) {
  switch (outcome) {
    case lawful::v1::OUTCOME_ALLOW:
      return "allow";
    case lawful::v1::OUTCOME_DENY:
      return "deny";
    case lawful::v1::OUTCOME_ERROR:
      return "error";
    default:
      return "unspecified";
  }
}

}  // namespace

absl::string_view ChannelName(lawful::v1::Channel channel) {
  switch (channel) {
    case lawful::v1::CHANNEL_EMAIL:
      return "email";
    case lawful::v1::CHANNEL_SMS:
      return "sms";
    case lawful::v1::CHANNEL_POST:
      return "post";
    case lawful::v1::CHANNEL_PHONE:
      return "phone";
    default:
      return "unspecified";
  }
}

absl::string_view NoticeTypeName(lawful::v1::NoticeType notice_type) {
  switch (notice_type) {
    case lawful::v1::NOTICE_TYPE_CONTRACT:
      return "contract";
    case lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION:
      return "legal_obligation";
    case lawful::v1::NOTICE_TYPE_VITAL_INTEREST:
      return "vital_interest";
    case lawful::v1::NOTICE_TYPE_PUBLIC_TASK:
      return "public_task";
    default:
      return "";
  }
}

absl::Status AppendDecisions(Log& log, const Request& request,
                             absl::Span<const lawful::v1::Decision* const> decisions,
                             const ParallelFor* parallel_for) {
  absl::StatusOr<Log::Pending> pending = BeginDecisions(log, request, decisions, parallel_for);
  if (!pending.ok()) return pending.status();
  return log.Commit(*pending);
}

void RecordOf(const lawful::v1::Decision& d, DecisionRecord* r) {
  r->contact_id = d.contact_id();
  r->index = d.index();
  r->outcome = OutcomeWord(d.outcome());
  if (d.outcome() == lawful::v1::OUTCOME_ERROR) {
    // No rule decided: the record says which field made the contact invalid.
    r->reason = d.error().field_path();
  } else {
    r->reason = d.reason();
  }
  if (d.has_rule()) {
    r->rule_policy = d.rule().policy();  // written as "policy.name", without a copy here
    r->rule = d.rule().name();
  }
  if (d.has_evidence()) {
    r->evidence_field = d.evidence().field();
    r->evidence_index = d.evidence().index();
    r->evidence_id = d.evidence().record_id();
  }
  r->facts = d.facts_digest();
}

absl::StatusOr<Log::Pending> BeginDecisions(Log& log, const Request& request,
                                            absl::Span<const lawful::v1::Decision* const> decisions,
                                            const ParallelFor* parallel_for) {
  return log.Begin(
      request, decisions.size(), [&](size_t i, DecisionRecord* r) { RecordOf(*decisions[i], r); },
      parallel_for);
}

}  // namespace lawful::audit
