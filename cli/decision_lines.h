// The decision lines of in-process evaluation, written straight from the engine's Decision.
//
// A line is defined as RuleSet::ToProto (given the contact's bytes, as lawfuld gives them)
// followed by ProtoJsonPrinter (JSONL) or AppendDecisionCsv (CSV) — what `lawful eval --server`
// prints from lawfuld's answers. Building a protobuf message per contact costs more than deciding
// it, so this writer prints the same bytes without one: the part of a line only the deciding rule
// sets (outcome, reason, citation, rule, obligations) is printed once per rule through that
// definition, the rest (contact id, index, valid_until, facts digest) per contact. The
// constructor checks every rule of the rule set against the definition, with and without each
// per-contact field, and falls back to it for every line if any byte differs. Decisions naming
// evidence (whose record ToProto copies from the contact) and contact errors always take the
// definition.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decision_output.h"
#include "lawful/engine.h"

namespace lawful::cli {

class DecisionLineWriter {
 public:
  // One per thread. `rule_set` must outlive the writer.
  DecisionLineWriter(const RuleSet& rule_set, bool csv);

  // Appends the line of `decision` for the contact `contact_bytes` (its id `contact_id`) at input
  // position `index`.
  void Append(const Decision& decision, std::string_view contact_bytes, std::string_view contact_id,
              uint32_t index, std::string* out);

  // Appends the line of a decision message (a contact error), by the definition.
  void AppendMessage(const lawful::v1::Decision& decision, std::string* out);

  // Whether the per-rule shortcut is in use (false: every line by the definition).
  bool fast() const { return fast_; }

 private:
  void AppendByDefinition(const Decision& decision, std::string_view contact_bytes,
                          std::string_view contact_id, uint32_t index, std::string* out);
  void AppendFast(const Decision& decision, std::string_view contact_id, uint32_t index,
                  std::string* out);

  const RuleSet& rule_set_;
  const bool csv_;
  bool fast_ = false;
  ProtoJsonPrinter printer_;
  lawful::v1::Decision scratch_;
  std::vector<std::string> rule_parts_;  // per rule: its printed outcome..obligations
};

}  // namespace lawful::cli
