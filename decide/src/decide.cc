// Deciding: one contact, a batch on the pool with its audit records, the summary, explaining.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lawful/decide.h"

namespace lawful::decide {

Decision DecideContact(Evaluator& evaluator, const PreparedOutreach& outreach,
                       std::string_view contact_bytes, std::string_view* id) {
  if (std::optional<ContactProblem> problem = CheckContact(contact_bytes, id)) {
    Decision error;
    error.outcome = Outcome::kError;
    error.error_path = std::move(problem->field_path);
    error.error_message = std::move(problem->message);
    return error;
  }
  return evaluator.Decide(outreach, contact_bytes);
}

void ToMessage(const RuleSet& rule_set, const Decision& decision, std::string_view contact_bytes,
               std::string_view id, uint32_t index, lawful::v1::Decision* out) {
  rule_set.ToProto(decision, out, contact_bytes);
  out->set_contact_id(id.data(), id.size());
  out->set_index(index);
}

absl::Status DecideBatch(BatchEvaluator& pool, const PreparedOutreach& outreach,
                         const std::vector<std::string_view>& contacts, uint64_t first_index,
                         google::protobuf::RepeatedPtrField<lawful::v1::Decision>* out,
                         audit::Log::Session* audit_session,
                         absl::FunctionRef<absl::Status(size_t done)> still_wanted) {
  const size_t total = contacts.size();
  const int base = out->size();
  out->Reserve(base + static_cast<int>(total));
  for (size_t i = 0; i < total; ++i) out->Add();  // filled in parallel below
  constexpr size_t kPart = audit::Log::Session::kPartRecords;
  static_assert(kSliceContacts % kPart == 0);
  const RuleSet& rule_set = *outreach.rule_set;
  for (size_t begin = 0; begin < total; begin += kSliceContacts) {
    if (absl::Status wanted = still_wanted(begin); !wanted.ok()) {
      out->DeleteSubrange(base + static_cast<int>(begin), static_cast<int>(total - begin));
      return wanted;
    }
    const size_t end = std::min(total, begin + kSliceContacts);
    // One pass a part: decide, build the answer, format its audit lines, on the thread that
    // decided it, while the part is in its cache.
    pool.ParallelFor(end - begin, kPart, [&](size_t from, size_t to) {
      thread_local Evaluator evaluator;
      const size_t first = begin + from, last = begin + to;
      for (size_t i = first; i < last; ++i) {
        std::string_view id;
        const Decision decision = DecideContact(evaluator, outreach, contacts[i], &id);
        ToMessage(rule_set, decision, contacts[i], id, static_cast<uint32_t>(first_index + i),
                  out->Mutable(base + static_cast<int>(i)));
      }
      if (audit_session != nullptr) {
        audit_session->Append(first, last, [&](size_t i, audit::DecisionRecord* record) {
          audit::RecordOf(out->Get(base + static_cast<int>(i)), record);
        });
      }
    });
  }
  return absl::OkStatus();
}

void DecideContacts(BatchEvaluator& pool, const PreparedOutreach& outreach,
                    const std::vector<std::string_view>& contacts, std::vector<Decision>& out) {
  out.resize(contacts.size());
  pool.ParallelFor(contacts.size(), 256, [&](size_t begin, size_t end) {
    thread_local Evaluator evaluator;
    std::string_view id;
    for (size_t i = begin; i < end; ++i)
      out[i] = DecideContact(evaluator, outreach, contacts[i], &id);
  });
}

void ReasonTally::Add(const google::protobuf::RepeatedPtrField<lawful::v1::Decision>& decisions) {
  // Runs of one reason are common (a list washed for one purpose): count them before the lookup.
  const lawful::v1::Decision* run = nullptr;
  uint64_t length = 0;
  for (const lawful::v1::Decision& decision : decisions) {
    if (run != nullptr && decision.outcome() == run->outcome() &&
        decision.reason() == run->reason()) {
      ++length;
      continue;
    }
    if (run != nullptr) counts_[{run->outcome(), run->reason()}] += length;
    run = &decision;
    length = 1;
  }
  if (run != nullptr) counts_[{run->outcome(), run->reason()}] += length;
}

void ReasonTally::Summarize(
    google::protobuf::RepeatedPtrField<lawful::v1::ReasonCount>* summary) const {
  std::vector<std::pair<std::pair<int, std::string>, uint64_t>> sorted(counts_.begin(),
                                                                       counts_.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  summary->Reserve(static_cast<int>(sorted.size()));
  for (const auto& [key, count] : sorted) {
    lawful::v1::ReasonCount* entry = summary->Add();
    entry->set_outcome(static_cast<lawful::v1::Outcome>(key.first));
    entry->set_reason(key.second);
    entry->set_count(count);
  }
}

void Explain(const ResolvedOutreach& outreach, std::string_view contact_bytes,
             lawful::v1::Explanation* out) {
  const RuleSet& rule_set = *outreach.prepared.rule_set;
  std::string_view id;
  if (std::optional<ContactProblem> problem = CheckContact(contact_bytes, &id)) {
    Decision error;
    error.outcome = Outcome::kError;
    error.error_path = problem->field_path;
    error.error_message = problem->message;
    ToMessage(rule_set, error, contact_bytes, id, 0, out->mutable_decision());
    out->mutable_decision()->set_rule_set_version(rule_set.version());
    out->set_rule_set_version(rule_set.version());
    ToProto(outreach.at, out->mutable_at());
    out->set_summary(absl::StrCat(
        "Not decided: the contact's ", problem->field_path.empty() ? "bytes" : problem->field_path,
        " is invalid (", problem->message, "). An invalid contact is never treated as allowed."));
    return;
  }
  rule_set.Explain(outreach.prepared, contact_bytes, out);
  out->mutable_decision()->set_contact_id(id.data(), id.size());
}

}  // namespace lawful::decide
