// The bridge from lawful.v1 messages to audit records (RecordOf, the enums' names): one place
// for lawfuld and `lawful eval`, so both logs read alike.
#include <array>
#include <string_view>

#include "lawful/audit.h"
#include "lawful/v1/names.h"

namespace lawful::audit {
namespace {

// The outcome as records spell it: its short name (lawful/v1/names.h), "unspecified" for a number
// the proto does not declare, as for OUTCOME_UNSPECIFIED. Named once a decision: the names are
// read from the descriptors once, into a table by number.
absl::string_view OutcomeWord(lawful::v1::Outcome outcome) {
  using Names = std::array<absl::string_view, lawful::v1::Outcome_ARRAYSIZE>;
  static const Names names = [] {
    Names out;
    for (size_t i = 0; i < out.size(); ++i) {
      const std::string_view name = lawful::v1::ShortName(static_cast<lawful::v1::Outcome>(i));
      out[i] = name.empty() ? "unspecified" : absl::string_view(name.data(), name.size());
    }
    return out;
  }();
  const int number = static_cast<int>(outcome);
  return number >= 0 && number < lawful::v1::Outcome_ARRAYSIZE ? names[static_cast<size_t>(number)]
                                                               : "unspecified";
}

}  // namespace

absl::string_view ChannelName(lawful::v1::Channel channel) {
  const std::string_view name = lawful::v1::ShortName(channel);
  return name.empty() ? "unspecified" : absl::string_view(name.data(), name.size());
}

absl::string_view NoticeTypeName(lawful::v1::NoticeType notice_type) {
  if (notice_type == lawful::v1::NOTICE_TYPE_UNSPECIFIED) return "";  // not written
  const std::string_view name = lawful::v1::ShortName(notice_type);
  return absl::string_view(name.data(), name.size());
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

}  // namespace lawful::audit
