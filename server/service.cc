#include "service.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "call.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "stream.h"

namespace lawful::server {

using lawful::ToProto;

LawfulService::LawfulService(const RuleSetStore* store, ServiceOptions options)
    : store_(store),
      options_(options),
      batch_evaluator_(options.batch_threads),
      call_limiter_(options.limits.max_concurrent_calls) {}

// Decide and Explain: one contact under one outreach. Parses the request, checks that the caller
// may ask about its purpose, takes a call slot, picks the rule set (`replay`: the one the request
// pins, served or archived; otherwise the one served, which a pinned version must match),
// resolves the outreach and requires the contact. Then `answer(snapshot, outreach)` fills the
// response and returns its decision, which is recorded before the response leaves.
template <typename Response, typename Answer>
grpc::ServerUnaryReactor* LawfulService::AboutOneContact(const char* method,
                                                         grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request_bytes,
                                                         grpc::ByteBuffer* response_bytes,
                                                         bool replay, Answer answer) {
  const absl::Time start = absl::Now();
  std::vector<grpc::Slice> slices;
  std::string joined;
  std::string_view bytes;
  if (!RequestBytes(*request_bytes, &slices, &joined, &bytes)) {
    return Finish(context, method, 0, start,
                  grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request"));
  }
  decide::Request request;
  if (const absl::Status read = decide::ReadSingleRequest(bytes, &request); !read.ok()) {
    return Finish(context, method, 0, start, ToGrpc(read));
  }
  const int64_t contacts = static_cast<int64_t>(request.contacts.size());
  const auto finish = [&](const grpc::Status& status) {
    return Finish(context, method, contacts, start, status);
  };
  if (grpc::Status denied = Authorize(options_.authorizer, *context, request.outreach.purpose());
      !denied.ok()) {
    return finish(denied);
  }
  const absl::StatusOr<CallLimiter::Slot> slot = call_limiter_.Admit();
  if (!slot.ok()) return finish(ToGrpc(slot.status()));
  std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (replay && !request.rule_set_version.empty()) {
    absl::StatusOr<std::shared_ptr<const Snapshot>> pinned =
        store_->Version(request.rule_set_version);
    if (!pinned.ok()) return finish(ToGrpc(pinned.status()));
    snapshot = *std::move(pinned);
  }
  if (snapshot == nullptr) return finish(NoRuleSet());
  const std::string& version = snapshot->rule_set->version();
  absl::StatusOr<decide::ResolvedOutreach> outreach =
      decide::ResolveOutreach(*snapshot->rule_set, request, absl::Now());
  if (!outreach.ok()) return finish(ToGrpc(outreach.status()));
  if (request.contacts.empty()) {
    return finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "contact is required"));
  }
  Response response;
  const lawful::v1::Decision* decision = answer(request.contacts[0], *outreach, response);
  const grpc::Status audited = Audit(options_.audit_log, Identify(context), version,
                                     request.outreach, outreach->at, *decision);
  return finish(audited.ok() ? SerializeResponse(response, response_bytes) : audited);
}

grpc::ServerUnaryReactor* LawfulService::Decide(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request_bytes,
                                                grpc::ByteBuffer* response_bytes) {
  return AboutOneContact<lawful::v1::DecideResponse>(
      "Decide", context, request_bytes, response_bytes, /*replay=*/false,
      [](std::string_view contact, const decide::ResolvedOutreach& outreach,
         lawful::v1::DecideResponse& response) {
        const RuleSet& rule_set = *outreach.prepared.rule_set;
        std::string_view id;
        const Decision decision =
            decide::DecideContact(ThreadEvaluator(), outreach.prepared, contact, &id);
        decide::ToMessage(rule_set, decision, contact, id, 0, response.mutable_decision());
        response.set_rule_set_version(rule_set.version());
        ToProto(outreach.at, response.mutable_at());
        return &response.decision();
      });
}

grpc::ServerUnaryReactor* LawfulService::DecideBatch(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  const absl::Time start = absl::Now();
  const absl::StatusOr<CallLimiter::Slot> slot = call_limiter_.Admit();
  if (!slot.ok()) return Finish(context, "DecideBatch", 0, start, ToGrpc(slot.status()));
  std::vector<grpc::Slice> slices;
  std::string joined;
  std::string_view bytes;
  if (!RequestBytes(*request, &slices, &joined, &bytes)) {
    return Finish(context, "DecideBatch", 0, start,
                  grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request"));
  }

  int64_t contacts = 0;
  std::optional<audit::Log::Session> audit_session;
  grpc::Status status = options_.parse_only
                            ? ParseOnlyBatch(bytes, response, &contacts)
                            : DecideRawBatch(context, bytes, response, &contacts, &audit_session);
  // Nothing is answered before its records are on disk: a failed sync answers UNAVAILABLE.
  if (audit_session.has_value()) {
    if (const absl::Status synced = audit_session->Wait(); !synced.ok()) {
      status = AuditFailed(synced);
    }
  }
  return Finish(context, "DecideBatch", contacts, start, status);
}

grpc::Status LawfulService::ParseOnlyBatch(std::string_view bytes, grpc::ByteBuffer* response,
                                           int64_t* contacts) const {
  lawful::v1::DecideBatchRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the request is malformed");
  }
  *contacts = request.contacts_size();
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return NoRuleSet();
  lawful::v1::DecideBatchResponse answer;
  answer.set_rule_set_version(snapshot->rule_set->version());
  return SerializeResponse(answer, response);
}

grpc::Status LawfulService::DecideRawBatch(grpc::CallbackServerContext* context,
                                           std::string_view bytes, grpc::ByteBuffer* response,
                                           int64_t* contacts_count,
                                           std::optional<audit::Log::Session>* audit_session) {
  decide::Request request;
  if (absl::Status read = decide::ReadBatchRequest(bytes, &request); !read.ok()) {
    return ToGrpc(read);
  }
  if (grpc::Status denied = Authorize(options_.authorizer, *context, request.outreach.purpose());
      !denied.ok()) {
    return denied;
  }
  const std::vector<std::string_view>& contacts = request.contacts;
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
  absl::StatusOr<decide::ResolvedOutreach> outreach =
      decide::ResolveOutreach(*snapshot->rule_set, request, absl::Now());
  if (!outreach.ok()) return ToGrpc(outreach.status());

  // The batch's audit session: its records are appended where they are decided, written here,
  // and waited for by the caller once the answer is serialized. Its request line's views point
  // into `who`, `snapshot` and `request` until the Write below.
  audit::Log* const log = options_.audit_log;
  std::optional<CallIdentity> who;
  if (log != nullptr && total > 0) {
    who = Identify(context);
    audit_session->emplace(log->Begin(
        AuditRequest(*who, snapshot->rule_set->version(), request.outreach, outreach->at),
        static_cast<size_t>(total)));
  }
  decide::BatchAnswers answers;
  const absl::Status decided = decide::DecideBatch(
      batch_evaluator_, outreach->prepared, contacts, 0, &answers,
      audit_session->has_value() ? &**audit_session : nullptr,
      [&](size_t done) { return CheckStillWanted(context, static_cast<int64_t>(done), total); });
  if (!decided.ok()) {
    audit_session->reset();  // nothing recorded: nothing answered
    return ToGrpc(decided);
  }
  if (audit_session->has_value()) {
    if (const absl::Status written = (*audit_session)->Write(); !written.ok()) {
      audit_session->reset();
      return AuditFailed(written);
    }
  }
  // The decisions go out as they were written; the response's other fields follow them.
  lawful::v1::DecideBatchResponse rest;
  answers.tally.Summarize(rest.mutable_summary());
  rest.set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, rest.mutable_at());
  *response = AnswerBuffer(std::string(), std::move(answers.parts), rest.SerializeAsString());
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* LawfulService::DecideStream(
    grpc::CallbackServerContext* context) {
  return NewDecideStreamReactor(context, store_->Current(), &batch_evaluator_,
                                options_.max_batch_size, call_limiter_.Admit(), options_.authorizer,
                                options_.limits.max_stream_contacts_per_second, options_.audit_log);
}

grpc::ServerUnaryReactor* LawfulService::GetRuleSet(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request_bytes,
                                                    grpc::ByteBuffer* response_bytes) {
  const absl::Time start = absl::Now();
  grpc::ByteBuffer bytes(*request_bytes);  // a reference, not a copy of the bytes
  lawful::v1::GetRuleSetRequest request;
  if (grpc::Status status = ParseRequest(&bytes, &request); !status.ok()) {
    return Finish(context, "GetRuleSet", 0, start, status);
  }
  const std::shared_ptr<const Snapshot> snapshot = store_->Current();
  if (snapshot == nullptr) return Finish(context, "GetRuleSet", 0, start, NoRuleSet());
  lawful::v1::RuleSetInfo response = snapshot->info;
  response.set_last_reload_error(store_->last_reload_error());
  return Finish(context, "GetRuleSet", 0, start, SerializeResponse(response, response_bytes));
}

// A pinned version is explained under that rule set, served or archived: a replay.
grpc::ServerUnaryReactor* LawfulService::Explain(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request_bytes,
                                                 grpc::ByteBuffer* response_bytes) {
  return AboutOneContact<lawful::v1::Explanation>(
      "Explain", context, request_bytes, response_bytes, /*replay=*/true,
      [](std::string_view contact, const decide::ResolvedOutreach& outreach,
         lawful::v1::Explanation& response) {
        decide::Explain(outreach, contact, &response);
        return &response.decision();
      });
}

}  // namespace lawful::server
