#include "service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lawful/dsl.h"
#include "validate.h"

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

void ToProto(const RuleSet& rule_set, const Decision& decision, std::string_view contact_id,
             uint32_t index, lawful::v1::Decision* out) {
  rule_set.ToProto(decision, out);
  out->set_contact_id(contact_id.data(), contact_id.size());
  out->set_index(index);
}

void ToProto(const RuleSet& rule_set, const Decision& decision, const lawful::v1::Contact& contact,
             uint32_t index, lawful::v1::Decision* out) {
  ToProto(rule_set, decision, std::string_view(contact.id()), index, out);
}

// The engine decodes contacts from their wire bytes (only the fields the rules read); gRPC has
// already parsed the request, so the contacts [begin, end) are serialized back, once, into one
// buffer.
std::vector<std::string_view> SerializeContacts(
    const google::protobuf::RepeatedPtrField<lawful::v1::Contact>& contacts, int begin, int end,
    std::string* buffer) {
  size_t total = 0;
  for (int i = begin; i < end; ++i) total += contacts.Get(i).ByteSizeLong();
  buffer->resize(total);
  std::vector<std::string_view> views;
  views.reserve(static_cast<size_t>(end - begin));
  uint8_t* const start = reinterpret_cast<uint8_t*>(buffer->data());
  uint8_t* next = start;
  for (int i = begin; i < end; ++i) {
    uint8_t* const after = contacts.Get(i).SerializeWithCachedSizesToArray(next);
    views.emplace_back(reinterpret_cast<const char*>(next), static_cast<size_t>(after - next));
    next = after;
  }
  return views;
}

// A contact missing a required field is answered with its own ERROR decision, never decided.
void ToProto(const ContactProblem& problem, std::string_view contact_id, uint64_t index,
             lawful::v1::Decision* out) {
  out->set_outcome(lawful::v1::OUTCOME_ERROR);
  out->mutable_error()->set_field_path(problem.field_path);
  out->mutable_error()->set_message(problem.message);
  out->set_contact_id(contact_id.data(), contact_id.size());
  out->set_index(static_cast<uint32_t>(index));
}

void ToProto(const ContactProblem& problem, const lawful::v1::Contact& contact, uint64_t index,
             lawful::v1::Decision* out) {
  ToProto(problem, std::string_view(contact.id()), index, out);
}

// The one decision path for a single contact: validation first, then the engine.
void DecideOne(const Snapshot& snapshot, const PreparedOutreach& prepared,
               const lawful::v1::Contact& contact, uint64_t index, lawful::v1::Decision* out) {
  if (std::optional<ContactProblem> problem = ValidateContact(contact)) {
    ToProto(*problem, contact, index, out);
    return;
  }
  ToProto(*snapshot.rule_set, ThreadEvaluator().Decide(prepared, contact), contact,
          static_cast<uint32_t>(index), out);
}

// DEADLINE_EXCEEDED once the caller's deadline has passed, CANCELLED once the call is gone.
// Checked between slices of a batch so that abandoned work stops within one slice.
grpc::Status CheckStillWanted(grpc::CallbackServerContext* context, int64_t done, int64_t total) {
  if (context->deadline() <= std::chrono::system_clock::now()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrFormat("deadline exceeded after %d of %d contacts", done, total));
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled");
  return grpc::Status::OK;
}

// Contacts decided between two deadline checks: large enough for the pool to split well, small
// enough that an expired call stops within a few milliseconds.
constexpr int kSliceContacts = 8192;

// Decides `contacts` into `out` (appended, numbered from `first_index`), in slices with a
// deadline check before each. On a non-OK status `out` holds a prefix of the decisions.
grpc::Status DecideContacts(grpc::CallbackServerContext* context, BatchEvaluator& evaluator,
                            const Snapshot& snapshot, const PreparedOutreach& prepared,
                            const google::protobuf::RepeatedPtrField<lawful::v1::Contact>& contacts,
                            uint64_t first_index,
                            google::protobuf::RepeatedPtrField<lawful::v1::Decision>* out) {
  const int total = contacts.size();
  out->Reserve(out->size() + total);
  std::string buffer;
  std::vector<Decision> decided;
  for (int begin = 0; begin < total; begin += kSliceContacts) {
    if (grpc::Status status = CheckStillWanted(context, begin, total); !status.ok()) return status;
    const int end = std::min(total, begin + kSliceContacts);
    evaluator.Decide(prepared, SerializeContacts(contacts, begin, end, &buffer), decided);
    for (int i = begin; i < end; ++i) {
      const lawful::v1::Contact& contact = contacts.Get(i);
      const uint64_t index = first_index + static_cast<uint64_t>(i);
      if (std::optional<ContactProblem> problem = ValidateContact(contact)) {
        ToProto(*problem, contact, index, out->Add());
      } else {
        ToProto(*snapshot.rule_set, decided[i - begin], contact, static_cast<uint32_t>(index),
                out->Add());
      }
    }
  }
  return grpc::Status::OK;
}

using ReasonCounts = absl::flat_hash_map<std::pair<int, std::string>, uint64_t>;

void Count(const google::protobuf::RepeatedPtrField<lawful::v1::Decision>& decisions,
           ReasonCounts* counts) {
  for (const lawful::v1::Decision& decision : decisions) {
    ++(*counts)[{decision.outcome(), decision.reason()}];
  }
}

// Counts per outcome and reason, most frequent first; ties in a fixed order so equal batches
// always get equal summaries.
void Summarize(const ReasonCounts& counts,
               google::protobuf::RepeatedPtrField<lawful::v1::ReasonCount>* summary) {
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

// One line per RPC. The line carries no request content: contact ids, e-mail addresses and the
// like are personal data and must not end up in server logs.
void LogCall(const char* method, int64_t contacts, absl::Time start, const grpc::Status& status) {
  const std::string line =
      absl::StrFormat("lawfuld: %s contacts=%d status=%s duration_ms=%.3f\n", method, contacts,
                      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                      absl::ToDoubleMilliseconds(absl::Now() - start));
  // One write per line keeps lines from concurrent RPCs whole (stderr is unbuffered).
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// Logs the RPC and completes it.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const char* method,
                                 int64_t contacts, absl::Time start, const grpc::Status& status) {
  LogCall(method, contacts, start, status);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status NoRuleSet() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no rule set loaded");
}

using StreamRequest = lawful::v1::DecideStreamRequest;
using StreamResponse = lawful::v1::DecideStreamResponse;

// One DecideStream call. At most one operation is outstanding at any time — a read, or the write
// of the answer to the chunk just read — and the next chunk is read only when that write has
// completed. A client that sends faster than it reads is thereby slowed by gRPC's flow control
// instead of growing this server's memory, however long the stream.
class DecideStreamReactor final : public grpc::ServerBidiReactor<StreamRequest, StreamResponse> {
 public:
  DecideStreamReactor(grpc::CallbackServerContext* context,
                      std::shared_ptr<const Snapshot> snapshot, BatchEvaluator* evaluator,
                      int64_t max_chunk_size)
      : context_(context),
        snapshot_(std::move(snapshot)),
        evaluator_(evaluator),
        max_chunk_size_(max_chunk_size) {
    if (snapshot_ == nullptr) {
      Stop(NoRuleSet());
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      EndOfRequests();
    } else if (!outreach_.has_value()) {
      Begin();
    } else {
      DecideChunk();
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Stop(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    } else if (summary_sent_) {
      Stop(grpc::Status::OK);
    } else {
      StartRead(&request_);
    }
  }

  void OnDone() override {
    LogCall("DecideStream", contacts_, start_, status_);
    delete this;
  }

 private:
  void Stop(const grpc::Status& status) {
    status_ = status;
    Finish(status);
  }

  void Begin() {
    if (request_.kind_case() != StreamRequest::kStart) {
      Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "start: the first DecideStreamRequest must be a start (the outreach)"));
      return;
    }
    const lawful::v1::StreamStart& start = request_.start();
    absl::StatusOr<ResolvedOutreach> outreach = ResolveOutreach(
        *snapshot_, start.has_outreach(), start.outreach(), start.rule_set_version());
    if (!outreach.ok()) {
      // The shared checks name fields of a request's top level; here they sit in the start.
      Stop(grpc::Status(static_cast<grpc::StatusCode>(outreach.status().code()),
                        absl::StrCat("start.", outreach.status().message())));
      return;
    }
    outreach_ = *std::move(outreach);
    StartRead(&request_);
  }

  void DecideChunk() {
    if (request_.kind_case() != StreamRequest::kContacts) {
      Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        request_.kind_case() == StreamRequest::kStart
                            ? "start: only the first DecideStreamRequest may be a start"
                            : "kind: a DecideStreamRequest must carry a start or contacts"));
      return;
    }
    const auto& contacts = request_.contacts().contacts();
    if (contacts.size() > max_chunk_size_) {
      Stop(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrFormat("contacts: a chunk of %d contacts exceeds the limit of %d "
                                        "(--max_batch_size); send smaller chunks",
                                        contacts.size(), max_chunk_size_)));
      return;
    }
    // Reused: after the first chunks the decisions' storage is recycled, not reallocated.
    auto* decisions = response_.mutable_decisions()->mutable_decisions();
    decisions->Clear();
    const grpc::Status status = DecideContacts(context_, *evaluator_, *snapshot_,
                                               outreach_->prepared, contacts, contacts_, decisions);
    if (!status.ok()) {
      Stop(status);
      return;
    }
    Count(*decisions, &counts_);
    contacts_ += contacts.size();
    StartWrite(&response_);
  }

  void EndOfRequests() {
    if (context_->IsCancelled()) {
      Stop(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
      return;
    }
    if (!outreach_.has_value()) {
      Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "start: the stream ended before its start (the outreach)"));
      return;
    }
    lawful::v1::StreamSummary* summary = response_.mutable_summary();
    Summarize(counts_, summary->mutable_summary());
    summary->set_contacts(static_cast<uint64_t>(contacts_));
    summary->set_rule_set_version(snapshot_->rule_set->version());
    ToProto(outreach_->at, summary->mutable_at());
    summary_sent_ = true;
    StartWrite(&response_);
  }

  grpc::CallbackServerContext* const context_;
  // The one rule set the whole stream is decided with, whatever reloads happen meanwhile.
  const std::shared_ptr<const Snapshot> snapshot_;
  BatchEvaluator* const evaluator_;
  const int64_t max_chunk_size_;
  const absl::Time start_ = absl::Now();
  std::optional<ResolvedOutreach> outreach_;  // set by the start
  StreamRequest request_;
  StreamResponse response_;
  ReasonCounts counts_;
  int64_t contacts_ = 0;
  bool summary_sent_ = false;
  grpc::Status status_;
};

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

  DecideOne(*snapshot, outreach->prepared, request->contact(), 0, response->mutable_decision());
  response->set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, response->mutable_at());
  return Finish(context, "Decide", contacts, start, grpc::Status::OK);
}

grpc::ServerUnaryReactor* LawfulService::DecideBatch(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  const absl::Time start = absl::Now();
  // A request usually arrives as one slice and is read in place; otherwise it is joined once.
  std::vector<grpc::Slice> slices;
  std::string joined;
  std::string_view bytes;
  if (!request->Dump(&slices).ok()) {
    return Finish(context, "DecideBatch", 0, start,
                  grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request"));
  }
  if (slices.size() == 1) {
    bytes = std::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size());
  } else {
    joined.reserve(request->Length());
    for (const grpc::Slice& slice : slices) {
      joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    bytes = joined;
  }

  lawful::v1::DecideBatchResponse answer;
  int64_t contacts = 0;
  grpc::Status status = options_.parse_only ? ParseOnlyBatch(bytes, &answer, &contacts)
                                            : DecideRawBatch(context, bytes, &answer, &contacts);
  if (status.ok()) {
    bool own_buffer = false;
    status = grpc::SerializationTraits<lawful::v1::DecideBatchResponse>::Serialize(answer, response,
                                                                                   &own_buffer);
  }
  return Finish(context, "DecideBatch", contacts, start, status);
}

grpc::Status LawfulService::ParseOnlyBatch(std::string_view bytes,
                                           lawful::v1::DecideBatchResponse* response,
                                           int64_t* contacts) const {
  lawful::v1::DecideBatchRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the request is malformed");
  }
  *contacts = request.contacts_size();
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return NoRuleSet();
  response->set_rule_set_version(snapshot->rule_set->version());
  return grpc::Status::OK;
}

grpc::Status LawfulService::DecideRawBatch(grpc::CallbackServerContext* context,
                                           std::string_view bytes,
                                           lawful::v1::DecideBatchResponse* response,
                                           int64_t* contacts_count) {
  lawful::v1::DecideBatchRequest header;
  std::vector<std::string_view> contacts;
  if (absl::Status split = SplitBatchRequest(bytes, &header, &contacts); !split.ok()) {
    return ToGrpc(split);
  }
  const int64_t total = static_cast<int64_t>(contacts.size());
  *contacts_count = total;
  if (total > options_.max_batch_size) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrFormat("contacts: %d contacts exceed the limit of %d per "
                                        "batch (--max_batch_size); split the batch",
                                        total, options_.max_batch_size));
  }
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return NoRuleSet();
  absl::StatusOr<ResolvedOutreach> outreach = ResolveOutreach(
      *snapshot, header.has_outreach(), header.outreach(), header.rule_set_version());
  if (!outreach.ok()) return ToGrpc(outreach.status());

  // Every contact is checked before any is decided: a malformed one fails the whole call, as
  // a failed parse of the request did, and costs no engine work.
  std::vector<std::string_view> ids(contacts.size());
  std::vector<std::pair<size_t, ContactProblem>> problems;  // rare: by contact index
  for (size_t i = 0; i < contacts.size(); ++i) {
    std::optional<ContactProblem> problem;
    if (!ValidateContactBytes(contacts[i], &ids[i], &problem)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrFormat("contacts[%d]: malformed message", i));
    }
    if (problem.has_value()) problems.emplace_back(i, *std::move(problem));
  }

  auto* out = response->mutable_decisions();
  out->Reserve(static_cast<int>(total));
  std::vector<std::string_view> slice;
  std::vector<Decision> decided;
  auto next_problem = problems.begin();
  for (int64_t begin = 0; begin < total; begin += kSliceContacts) {
    if (grpc::Status status = CheckStillWanted(context, begin, total); !status.ok()) {
      response->Clear();
      return status;
    }
    const int64_t end = std::min(total, begin + kSliceContacts);
    slice.assign(contacts.begin() + begin, contacts.begin() + end);
    batch_evaluator_.Decide(outreach->prepared, slice, decided);
    for (int64_t i = begin; i < end; ++i) {
      lawful::v1::Decision* decision = out->Add();
      if (next_problem != problems.end() && next_problem->first == static_cast<size_t>(i)) {
        ToProto(next_problem->second, ids[i], static_cast<uint64_t>(i), decision);
        ++next_problem;
      } else {
        ToProto(*snapshot->rule_set, decided[i - begin], ids[i], static_cast<uint32_t>(i),
                decision);
      }
    }
  }
  ReasonCounts counts;
  Count(response->decisions(), &counts);
  Summarize(counts, response->mutable_summary());
  response->set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, response->mutable_at());
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<lawful::v1::DecideStreamRequest, lawful::v1::DecideStreamResponse>*
LawfulService::DecideStream(grpc::CallbackServerContext* context) {
  return new DecideStreamReactor(context, store_->Current(), &batch_evaluator_,
                                 options_.max_batch_size);
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
