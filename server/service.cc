#include "service.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "lawful/dsl.h"

namespace lawful::server {
namespace {

// google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinTimestampSeconds && ts.seconds() <= kMaxTimestampSeconds &&
         ts.nanos() >= 0 && ts.nanos() <= 999999999;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  // ToUnixSeconds rounds towards the past, so the nanos are never negative.
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

lawful::v1::Outcome ToProto(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllow:
      return lawful::v1::OUTCOME_ALLOW;
    case Outcome::kDeny:
      return lawful::v1::OUTCOME_DENY;
    case Outcome::kError:
      return lawful::v1::OUTCOME_ERROR;
  }
  return lawful::v1::OUTCOME_UNSPECIFIED;
}

grpc::Status ToGrpc(const absl::Status& status) {
  // absl::StatusCode and grpc::StatusCode share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// What GetRuleSet reports for a rule set; computed once per load, copied per call.
lawful::v1::RuleSetInfo DescribeRuleSet(const RuleSet& rule_set, absl::Time loaded_at) {
  const Program& program = rule_set.program();
  lawful::v1::RuleSetInfo info;
  info.set_version(rule_set.version());
  ToProto(loaded_at, info.mutable_loaded_at());
  for (const std::string& file : program.files) info.add_files(file);
  for (const std::string& purpose : program.purposes) info.add_purposes(purpose);
  for (const Policy& policy : program.policies) {
    lawful::v1::PolicyInfo* policy_info = info.add_policies();
    policy_info->set_name(policy.name);
    for (int32_t purpose : policy.purposes) {
      if (purpose >= 0 && static_cast<size_t>(purpose) < program.purposes.size()) {
        policy_info->add_purposes(program.purposes[purpose]);
      }
    }
    for (int channel = lawful::v1::Channel_MIN; channel <= lawful::v1::Channel_MAX; ++channel) {
      if (channel != lawful::v1::CHANNEL_UNSPECIFIED && (policy.channels & (1u << channel)) != 0) {
        policy_info->add_channels(static_cast<lawful::v1::Channel>(channel));
      }
    }
    for (int32_t index : policy.rules) {
      if (index < 0 || static_cast<size_t>(index) >= program.rules.size()) continue;
      const Rule& rule = program.rules[index];
      lawful::v1::RuleInfo* rule_info = policy_info->add_rules();
      lawful::v1::RuleRef* ref = rule_info->mutable_rule();
      ref->set_name(rule.name);
      ref->set_policy(rule.policy);
      if (rule.span.file < program.files.size()) ref->set_file(program.files[rule.span.file]);
      ref->set_line(rule.span.line);
      rule_info->set_outcome(ToProto(rule.outcome));
      rule_info->set_reason(rule.reason);
      rule_info->set_citation(rule.citation);
      rule_info->set_note(rule.note);
      for (const std::string& o : rule.obligations) rule_info->add_obligations(o);
    }
  }
  return info;
}

// For Decide, the evaluator's scratch is per thread: gRPC runs callbacks on a pool and a thread
// decides one request at a time, so no locking is needed and steady state allocates nothing.
Evaluator& ThreadEvaluator() {
  thread_local Evaluator evaluator;
  return evaluator;
}

// An outreach checked against the request rules and resolved against one snapshot.
struct ResolvedOutreach {
  PreparedOutreach prepared;
  absl::Time at;
};

// Checks what every deciding RPC shares: the outreach and the pinned rule-set version.
absl::StatusOr<ResolvedOutreach> ResolveOutreach(const Snapshot& snapshot, bool has_outreach,
                                                 const lawful::v1::Outreach& outreach,
                                                 const std::string& pinned_version) {
  if (!has_outreach) return absl::InvalidArgumentError("outreach is required");
  if (outreach.purpose().empty()) return absl::InvalidArgumentError("outreach.purpose is required");
  if (outreach.channel() == lawful::v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("outreach.channel is required");
  }
  if (!lawful::v1::Channel_IsValid(outreach.channel())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("outreach.channel: unknown channel %d", outreach.channel()));
  }
  if (!lawful::v1::NoticeType_IsValid(outreach.notice_type())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("outreach.notice_type: unknown notice type %d", outreach.notice_type()));
  }
  if (outreach.has_at() && !IsValidTimestamp(outreach.at())) {
    return absl::InvalidArgumentError("outreach.at is not a valid timestamp");
  }
  const std::string& served = snapshot.rule_set->version();
  if (!pinned_version.empty() && pinned_version != served) {
    return absl::FailedPreconditionError(
        absl::StrFormat("rule_set_version: requested %s, serving %s", pinned_version, served));
  }
  ResolvedOutreach resolved;
  resolved.at = outreach.has_at() ? FromProto(outreach.at()) : absl::Now();
  absl::StatusOr<PreparedOutreach> prepared = snapshot.rule_set->Prepare(
      Outreach{outreach.purpose(), outreach.channel(), outreach.notice_type(), resolved.at});
  if (!prepared.ok()) return prepared.status();
  resolved.prepared = *std::move(prepared);
  return resolved;
}

void ToProto(const RuleSet& rule_set, const Decision& decision, const lawful::v1::Contact& contact,
             uint32_t index, lawful::v1::Decision* out) {
  rule_set.ToProto(decision, out);
  out->set_contact_id(contact.id());
  out->set_index(index);
}

// The engine decodes contacts from their wire bytes (only the fields the rules read); gRPC has
// already parsed the request, so the contacts are serialized back, once, into one buffer.
std::vector<std::string_view> SerializeContacts(
    const google::protobuf::RepeatedPtrField<lawful::v1::Contact>& contacts, std::string* buffer) {
  size_t total = 0;
  for (const lawful::v1::Contact& contact : contacts) total += contact.ByteSizeLong();
  buffer->resize(total);
  std::vector<std::string_view> views;
  views.reserve(contacts.size());
  uint8_t* const begin = reinterpret_cast<uint8_t*>(buffer->data());
  uint8_t* end = begin;
  for (const lawful::v1::Contact& contact : contacts) {
    uint8_t* const next = contact.SerializeWithCachedSizesToArray(end);
    views.emplace_back(reinterpret_cast<const char*>(end), static_cast<size_t>(next - end));
    end = next;
  }
  return views;
}

// Counts per outcome and reason, most frequent first; ties in a fixed order so equal batches
// always get equal summaries.
void Summarize(const google::protobuf::RepeatedPtrField<lawful::v1::Decision>& decisions,
               google::protobuf::RepeatedPtrField<lawful::v1::ReasonCount>* summary) {
  absl::flat_hash_map<std::pair<int, std::string>, uint64_t> counts;
  for (const lawful::v1::Decision& decision : decisions) {
    ++counts[{decision.outcome(), decision.reason()}];
  }
  std::vector<lawful::v1::ReasonCount> sorted;
  sorted.reserve(counts.size());
  for (const auto& [key, count] : counts) {
    lawful::v1::ReasonCount& entry = sorted.emplace_back();
    entry.set_outcome(static_cast<lawful::v1::Outcome>(key.first));
    entry.set_reason(key.second);
    entry.set_count(count);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const lawful::v1::ReasonCount& a, const lawful::v1::ReasonCount& b) {
              if (a.count() != b.count()) return a.count() > b.count();
              if (a.outcome() != b.outcome()) return a.outcome() < b.outcome();
              return a.reason() < b.reason();
            });
  summary->Reserve(static_cast<int>(sorted.size()));
  for (lawful::v1::ReasonCount& entry : sorted) *summary->Add() = std::move(entry);
}

// Logs the RPC and completes it. The log line carries no request content: contact ids, e-mail
// addresses and the like are personal data and must not end up in server logs.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const char* method,
                                 int64_t contacts, absl::Time start, const grpc::Status& status) {
  const std::string line =
      absl::StrFormat("lawfuld: %s contacts=%d status=%s duration_ms=%.3f\n", method, contacts,
                      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                      absl::ToDoubleMilliseconds(absl::Now() - start));
  // One write per line keeps lines from concurrent RPCs whole (stderr is unbuffered).
  std::fwrite(line.data(), 1, line.size(), stderr);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status NoRuleSet() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no rule set loaded");
}

}  // namespace

RuleSetStore::RuleSetStore(std::string rules_dir) : rules_dir_(std::move(rules_dir)) {}

absl::Status RuleSetStore::Reload() {
  // Serializes reloads so that a slower, older load can never replace a newer one.
  absl::MutexLock reload_lock(&reload_mu_);
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(rules_dir_);
  if (!loaded.ok()) {
    absl::MutexLock lock(&mu_);
    last_reload_error_ = std::string(loaded.status().message());
    return loaded.status();
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->rule_set = std::move(loaded->rule_set);
  snapshot->loaded_at = absl::Now();
  if (!loaded->warnings.empty()) {
    snapshot->warnings = dsl::FormatDiagnostics(loaded->warnings, loaded->sources);
  }
  snapshot->info = DescribeRuleSet(*snapshot->rule_set, snapshot->loaded_at);
  absl::MutexLock lock(&mu_);
  current_ = std::move(snapshot);
  last_reload_error_.clear();
  return absl::OkStatus();
}

std::shared_ptr<const Snapshot> RuleSetStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::string RuleSetStore::last_reload_error() const {
  absl::MutexLock lock(&mu_);
  return last_reload_error_;
}

LawfulService::LawfulService(const RuleSetStore* store, ServiceOptions options)
    : store_(store), options_(options), batch_evaluator_(options.batch_threads) {}

grpc::ServerUnaryReactor* LawfulService::Decide(grpc::CallbackServerContext* context,
                                                const lawful::v1::DecideRequest* request,
                                                lawful::v1::DecideResponse* response) {
  const absl::Time start = absl::Now();
  const int64_t contacts = request->has_contact() ? 1 : 0;
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return Finish(context, "Decide", contacts, start, NoRuleSet());

  absl::StatusOr<ResolvedOutreach> outreach = ResolveOutreach(
      *snapshot, request->has_outreach(), request->outreach(), request->rule_set_version());
  if (!outreach.ok()) return Finish(context, "Decide", contacts, start, ToGrpc(outreach.status()));
  if (!request->has_contact()) {
    return Finish(context, "Decide", contacts, start,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "contact is required"));
  }

  ToProto(*snapshot->rule_set, ThreadEvaluator().Decide(outreach->prepared, request->contact()),
          request->contact(), 0, response->mutable_decision());
  response->set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, response->mutable_at());
  return Finish(context, "Decide", contacts, start, grpc::Status::OK);
}

grpc::ServerUnaryReactor* LawfulService::DecideBatch(grpc::CallbackServerContext* context,
                                                     const lawful::v1::DecideBatchRequest* request,
                                                     lawful::v1::DecideBatchResponse* response) {
  const absl::Time start = absl::Now();
  const int64_t contacts = request->contacts_size();
  if (contacts > options_.max_batch_size) {
    return Finish(context, "DecideBatch", contacts, start,
                  grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               absl::StrFormat("contacts: %d contacts exceed the limit of %d per "
                                               "batch (--max_batch_size); split the batch",
                                               contacts, options_.max_batch_size)));
  }
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return Finish(context, "DecideBatch", contacts, start, NoRuleSet());

  absl::StatusOr<ResolvedOutreach> outreach = ResolveOutreach(
      *snapshot, request->has_outreach(), request->outreach(), request->rule_set_version());
  if (!outreach.ok()) {
    return Finish(context, "DecideBatch", contacts, start, ToGrpc(outreach.status()));
  }

  std::string buffer;
  const std::vector<std::string_view> serialized = SerializeContacts(request->contacts(), &buffer);
  std::vector<Decision> decided;
  batch_evaluator_.Decide(outreach->prepared, serialized, decided);
  auto* decisions = response->mutable_decisions();
  decisions->Reserve(request->contacts_size());
  for (int i = 0; i < request->contacts_size(); ++i) {
    ToProto(*snapshot->rule_set, decided[i], request->contacts(i), static_cast<uint32_t>(i),
            decisions->Add());
  }
  Summarize(*decisions, response->mutable_summary());
  response->set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, response->mutable_at());
  return Finish(context, "DecideBatch", contacts, start, grpc::Status::OK);
}

grpc::ServerUnaryReactor* LawfulService::GetRuleSet(
    grpc::CallbackServerContext* context, const lawful::v1::GetRuleSetRequest* /*request*/,
    lawful::v1::RuleSetInfo* response) {
  const absl::Time start = absl::Now();
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return Finish(context, "GetRuleSet", 0, start, NoRuleSet());
  *response = snapshot->info;
  response->set_last_reload_error(store_->last_reload_error());
  return Finish(context, "GetRuleSet", 0, start, grpc::Status::OK);
}

}  // namespace lawful::server
