// Deciding: one contact, a batch on the pool with its audit records, the summary, explaining.
#include <algorithm>
#include <array>

#include "absl/container/inlined_vector.h"

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

void AppendDecision(const RuleSet& rule_set, const Decision& decision,
                    std::string_view contact_bytes, std::string_view id, uint32_t index,
                    std::string* out) {
  wire::AppendStringIfSet(lawful::v1::Decision::kContactIdFieldNumber, id, out);
  wire::AppendVarintIfSet(lawful::v1::Decision::kIndexFieldNumber, index, out);
  rule_set.AppendDecision(decision, contact_bytes, out);
}

void ToMessage(const RuleSet& rule_set, const Decision& decision, std::string_view contact_bytes,
               std::string_view id, uint32_t index, lawful::v1::Decision* out) {
  std::string bytes;
  AppendDecision(rule_set, decision, contact_bytes, id, index, &bytes);
  out->Clear();
  out->ParseFromString(bytes);  // cannot fail: the bytes are AppendDecision's
}

namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The outcomes' short names ("allow", "deny", "error"), looked up once.
absl::string_view OutcomeWord(Outcome outcome) {
  static const std::array<absl::string_view, 3> words = {
      OutcomeName(Outcome::kError), OutcomeName(Outcome::kAllow), OutcomeName(Outcome::kDeny)};
  switch (outcome) {
    case Outcome::kAllow:
      return words[1];
    case Outcome::kDeny:
      return words[2];
    default:
      return words[0];
  }
}

// The reason a summary counts a decision under: the deciding rule's, none for an ERROR.
std::string_view ReasonOf(const Decision& decision) {
  return decision.outcome != Outcome::kError && decision.rule != nullptr
             ? std::string_view(decision.rule->reason)
             : std::string_view();
}

// One part's counts, before they join the batch's tally: a handful of distinct reasons, counted
// by run without a map lookup a decision.
class PartTally {
 public:
  void Add(const Decision& decision) {
    const std::string_view reason = ReasonOf(decision);
    for (Entry& e : entries_) {
      if (e.outcome == decision.outcome && e.reason == reason) {
        ++e.count;
        return;
      }
    }
    entries_.push_back(Entry{decision.outcome, reason, 1});
  }
  void AddTo(ReasonTally& tally) const {
    for (const Entry& e : entries_) tally.Add(e.outcome, e.reason, e.count);
  }

 private:
  struct Entry {
    Outcome outcome;
    std::string_view reason;  // the rule set's
    uint64_t count;
  };
  absl::InlinedVector<Entry, 8> entries_;
};

// A part's decisions while its answers and audit records are written; per thread, reused.
struct Decided {
  Decision decision;
  std::string_view id;
  size_t facts_at = 0;  // where the digest's hex starts in the part's bytes (0: none)
};

}  // namespace

void RecordOf(const RuleSet& rule_set, const Decision& decision, std::string_view id,
              uint64_t index, std::string_view facts_hex, audit::DecisionRecord* r) {
  r->contact_id = View(id);
  r->index = static_cast<int64_t>(index);
  r->outcome = OutcomeWord(decision.outcome);
  if (decision.outcome == Outcome::kError) {
    // No rule decided: the record says which field made the contact invalid.
    r->reason = View(decision.error_path);
    return;
  }
  if (decision.rule == nullptr) return;
  const Rule& rule = *decision.rule;
  r->reason = View(rule.reason);
  r->rule_policy = View(rule.policy);  // written as "policy.name", without a copy here
  r->rule = View(rule.name);
  if (decision.evidence_index >= 0 && rule.evidence_list >= 0) {
    r->evidence_field = View(rule_set.program().layout.lists[rule.evidence_list].name);
    r->evidence_index = decision.evidence_index;
    r->evidence_id = View(decision.evidence_id);
  }
  r->facts = View(facts_hex);
}

absl::Status DecideBatch(BatchEvaluator& pool, const PreparedOutreach& outreach,
                         const std::vector<std::string_view>& contacts, uint64_t first_index,
                         BatchAnswers* out, audit::Log::Session* audit_session,
                         absl::FunctionRef<absl::Status(size_t done)> still_wanted) {
  constexpr size_t kPart = audit::Log::Session::kPartRecords;
  static_assert(kSliceContacts % kPart == 0);
  const size_t total = contacts.size();
  out->parts.assign((total + kPart - 1) / kPart, std::string());
  std::vector<PartTally> tallies(out->parts.size());
  const RuleSet& rule_set = *outreach.rule_set;
  for (size_t begin = 0; begin < total; begin += kSliceContacts) {
    if (absl::Status wanted = still_wanted(begin); !wanted.ok()) {
      out->parts.resize(begin / kPart);
      for (size_t p = 0; p < out->parts.size(); ++p) tallies[p].AddTo(out->tally);
      return wanted;
    }
    const size_t end = std::min(total, begin + kSliceContacts);
    // One pass a part: decide, write the answers, format their audit lines, on the thread that
    // decided them, while the part is in its cache.
    pool.ParallelFor(end - begin, kPart, [&](size_t from, size_t to) {
      thread_local Evaluator evaluator;
      thread_local std::vector<Decided> decided;
      thread_local std::string body;
      const size_t first = begin + from, last = begin + to;
      const size_t part_index = first / kPart;
      std::string& part = out->parts[part_index];
      PartTally& tally = tallies[part_index];
      if (decided.size() < last - first) decided.resize(last - first);
      for (size_t i = first; i < last; ++i) {
        Decided& d = decided[i - first];
        d.decision = DecideContact(evaluator, outreach, contacts[i], &d.id);
        tally.Add(d.decision);
        body.clear();
        AppendDecision(rule_set, d.decision, contacts[i], d.id,
                       static_cast<uint32_t>(first_index + i), &body);
        wire::AppendBytesField(kDecisionsField, body, &part);
        // The digest's hex is the body's last field when the decision has one.
        d.facts_at =
            d.decision.has_facts_digest ? part.size() - 2 * sizeof d.decision.facts_digest : 0;
      }
      if (audit_session != nullptr) {
        audit_session->Append(first, last, [&](size_t i, audit::DecisionRecord* record) {
          const Decided& d = decided[i - first];
          const std::string_view facts =
              d.facts_at == 0
                  ? std::string_view()
                  : std::string_view(part).substr(d.facts_at, 2 * sizeof d.decision.facts_digest);
          RecordOf(rule_set, d.decision, d.id, first_index + i, facts, record);
        });
      }
    });
  }
  for (const PartTally& tally : tallies) tally.AddTo(out->tally);
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

void ReasonTally::Add(Outcome outcome, std::string_view reason, uint64_t count) {
  counts_[{static_cast<int>(outcome), std::string(reason)}] += count;
}

void ReasonTally::Add(const ReasonTally& other) {
  for (const auto& [key, count] : other.counts_) counts_[key] += count;
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
