#include "decision_lines.h"

#include "lawful/text.h"

#include "absl/strings/str_cat.h"

namespace lawful::cli {
namespace {

void AppendHex(const uint8_t* bytes, size_t size, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * size);
  char* p = out->data() + at;
  for (size_t i = 0; i < size; ++i) {
    p[2 * i] = kHex[bytes[i] >> 4];
    p[2 * i + 1] = kHex[bytes[i] & 15];
  }
}

// An instant of the VM (ns since the epoch) as a Timestamp's seconds and non-negative nanos.
void SplitInstant(int64_t instant, int64_t* seconds, int32_t* nanos) {
  int64_t s = instant / 1000000000;
  int64_t n = instant % 1000000000;
  if (n < 0) {
    s -= 1;
    n += 1000000000;
  }
  *seconds = s;
  *nanos = static_cast<int32_t>(n);
}

}  // namespace

DecisionLineWriter::DecisionLineWriter(const RuleSet& rule_set, bool csv)
    : rule_set_(rule_set), csv_(csv), printer_(lawful::v1::Decision::descriptor()) {
  const Program& program = rule_set.program();
  for (const Rule& rule : program.rules) {
    Decision decision;
    decision.outcome = rule.outcome;
    decision.rule = &rule;
    scratch_.Clear();
    rule_set.ToProto(decision, &scratch_);
    std::string part;
    if (csv_) {
      AppendDecisionCsvRuleColumns(scratch_, &part);
    } else {
      printer_.Print(scratch_, &part);
      part = part.substr(1, part.size() - 2);  // the fields, without the object's braces
    }
    rule_parts_.push_back(std::move(part));
  }

  // Every rule, with each per-contact field present and absent, at odd values: the shortcut
  // must print what the definition prints, or it is not used.
  fast_ = true;
  const std::string_view ids[] = {"", "c,\"1\" <é>"};
  const int64_t instants[] = {kMissing, 1772442000123456789, -86400000000001};
  for (const Rule& rule : program.rules) {
    for (int variant = 0; variant < 12 && fast_; ++variant) {
      Decision decision;
      decision.outcome = rule.outcome;
      decision.rule = &rule;
      decision.valid_until = instants[variant % 3];
      decision.has_facts_digest = variant % 2 == 1;
      for (int i = 0; i < 32; ++i)
        decision.facts_digest[i] = static_cast<uint8_t>(i * 37 + variant);
      const std::string_view id = ids[variant % 4 / 2];
      const uint32_t index = variant < 6 ? 0 : 4000000000u;
      std::string expected, ours;
      AppendByDefinition(decision, {}, id, index, &expected);
      AppendFast(decision, id, index, &ours);
      fast_ = ours == expected;
    }
  }
}

void DecisionLineWriter::Append(const Decision& decision, std::string_view contact_bytes,
                                std::string_view contact_id, uint32_t index, std::string* out) {
  if (fast_ && decision.outcome != Outcome::kError && decision.rule != nullptr &&
      decision.evidence_index < 0) {
    AppendFast(decision, contact_id, index, out);
  } else {
    AppendByDefinition(decision, contact_bytes, contact_id, index, out);
  }
}

void DecisionLineWriter::AppendMessage(const lawful::v1::Decision& decision, std::string* out) {
  if (csv_) {
    AppendDecisionCsv(decision, out);
  } else {
    printer_.Print(decision, out);
    out->push_back('\n');
  }
}

void DecisionLineWriter::AppendByDefinition(const Decision& decision,
                                            std::string_view contact_bytes,
                                            std::string_view contact_id, uint32_t index,
                                            std::string* out) {
  scratch_.Clear();
  rule_set_.ToProto(decision, &scratch_, contact_bytes);
  scratch_.set_contact_id(contact_id.data(), contact_id.size());
  scratch_.set_index(index);
  AppendMessage(scratch_, out);
}

void DecisionLineWriter::AppendFast(const Decision& decision, std::string_view contact_id,
                                    uint32_t index, std::string* out) {
  const Program& program = rule_set_.program();
  const Rule& rule = *decision.rule;
  const std::string& part = rule_parts_[static_cast<size_t>(&rule - program.rules.data())];
  int64_t seconds = 0;
  int32_t nanos = 0;
  if (decision.valid_until != kMissing) SplitInstant(decision.valid_until, &seconds, &nanos);
  const size_t start = out->size();

  if (csv_) {
    absl::StrAppend(out, index, ",");
    AppendCsvCell(contact_id, out);
    out->push_back(',');
    out->append(part);
    out->append(",,,");  // no evidence: this path takes none
    if (decision.valid_until != kMissing && !text::AppendRfc3339(seconds, nanos, out)) {
      out->resize(start);
      AppendByDefinition(decision, {}, contact_id, index, out);
      return;
    }
    out->append(",,\n");
    return;
  }

  bool ok = true;
  out->push_back('{');
  if (!contact_id.empty()) {
    out->append("\"contactId\":");
    ok = text::AppendJsonString(contact_id, text::JsonEscaping::kProtobuf, out);
    out->push_back(',');
  }
  if (index != 0) absl::StrAppend(out, "\"index\":", index, ",");
  out->append(part);
  if (decision.valid_until != kMissing) {
    out->append(",\"validUntil\":\"");
    ok = ok && text::AppendRfc3339(seconds, nanos, out);
    out->push_back('"');
  }
  if (decision.has_facts_digest) {
    out->append(",\"factsDigest\":\"");
    AppendHex(decision.facts_digest, sizeof decision.facts_digest, out);
    out->push_back('"');
  }
  out->append("}\n");
  if (!ok) {  // not UTF-8, out of the Timestamp range: whatever the definition makes of it
    out->resize(start);
    AppendByDefinition(decision, {}, contact_id, index, out);
  }
}

}  // namespace lawful::cli
