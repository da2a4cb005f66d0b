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

#include <grpcpp/alarm.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"

namespace lawful::server {
namespace {

// The engine's conversions, alongside this file's own ToProto overloads for decisions.
using lawful::ToProto;

grpc::Status ToGrpc(const absl::Status& status) {
  // absl::StatusCode and grpc::StatusCode share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// For Decide, the evaluator's scratch is per thread: gRPC runs callbacks on a pool and a thread
// decides one request at a time, so no locking is needed and steady state allocates nothing.
Evaluator& ThreadEvaluator() {
  thread_local Evaluator evaluator;
  return evaluator;
}

// DEADLINE_EXCEEDED once the caller's deadline has passed, CANCELLED once the call is gone.
// Asked between slices of a batch so that abandoned work stops within one slice.
absl::Status CheckStillWanted(grpc::CallbackServerContext* context, int64_t done, int64_t total) {
  if (context->deadline() <= std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError(
        absl::StrFormat("deadline exceeded after %d of %d contacts", done, total));
  }
  if (context->IsCancelled()) return absl::CancelledError("call cancelled");
  return absl::OkStatus();
}

// A request's bytes: read in place when gRPC holds them in one slice, else joined once into
// `joined`. The views of a request read from them live as long as `slices` and `joined`.
bool RequestBytes(const grpc::ByteBuffer& buffer, std::vector<grpc::Slice>* slices,
                  std::string* joined, std::string_view* bytes) {
  slices->clear();
  if (!buffer.Dump(slices).ok()) return false;
  if (slices->size() == 1) {
    *bytes = std::string_view(reinterpret_cast<const char*>((*slices)[0].begin()), (*slices)[0].size());
    return true;
  }
  joined->clear();
  joined->reserve(buffer.Length());
  for (const grpc::Slice& slice : *slices) {
    joined->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  *bytes = *joined;
  return true;
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

// Decide and DecideStream are served raw and parse their requests here: gRPC's callback API would
// answer a Decide request that does not parse with UNIMPLEMENTED and no message, and end a stream
// at a chunk that does not parse as if the client had half-closed (summary and OK, the rest of
// the campaign silently undecided). Parsing here makes both INVALID_ARGUMENT.
template <typename Message>
grpc::Status ParseRequest(grpc::ByteBuffer* bytes, Message* message) {
  if (grpc::SerializationTraits<Message>::Deserialize(bytes, message).ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("the ", Message::descriptor()->name(),
                                   " does not parse (truncated, not that message, or a string "
                                   "that is not UTF-8)"));
}

template <typename Message>
grpc::Status SerializeResponse(const Message& message, grpc::ByteBuffer* bytes) {
  bool own_buffer = false;
  return grpc::SerializationTraits<Message>::Serialize(message, bytes, &own_buffer);
}

// Who asked, for the audit log: the client certificate's subject under mutual TLS, else the
// peer address; and the request id the caller sent in `x-request-id` metadata, or one made here.
// Either way the id is sent back as `x-request-id` initial metadata, so the caller can file it.
struct CallIdentity {
  std::string caller;
  std::string request_id;
};

CallIdentity Identify(grpc::CallbackServerContext* context) {
  CallIdentity who;
  if (const auto auth = context->auth_context(); auth != nullptr) {
    if (std::vector<std::string> names = PeerIdentities(*auth); !names.empty()) who.caller = names.front();
  }
  if (who.caller.empty()) who.caller = context->peer();
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    // Only short printable ids are taken as given: the value lands in the audit log.
    const std::string_view sent(it->second.data(), it->second.size());
    const bool printable = std::all_of(sent.begin(), sent.end(), [](char c) { return c > ' ' && c < 127; });
    if (!sent.empty() && sent.size() <= 128 && printable) who.request_id = std::string(sent);
  }
  if (who.request_id.empty()) {
    static const int64_t boot = absl::ToUnixNanos(absl::Now());
    static std::atomic<uint64_t> next{0};
    who.request_id = absl::StrFormat("lawfuld-%x-%d", boot, next.fetch_add(1) + 1);
  }
  context->AddInitialMetadata("x-request-id", who.request_id);
  return who;
}

absl::Span<const lawful::v1::Decision* const> AsSpan(
    const google::protobuf::RepeatedPtrField<lawful::v1::Decision>& decisions) {
  return absl::MakeConstSpan(decisions.data(), static_cast<size_t>(decisions.size()));
}

// What a failed audit append answers: UNAVAILABLE, and the decisions are not returned at all.
grpc::Status AuditFailed(const absl::Status& status) {
  // The status names the file and the system error, never a record's content.
  const std::string line = absl::StrCat("lawfuld: audit log write failed, answering UNAVAILABLE: ",
                                        status.message(), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the audit log cannot be written, and no decision is given without its "
                      "record; retry later");
}

// The second half of an Audit given `pending`: OK once the records are on disk.
grpc::Status AuditCommitted(audit::Log* log, const std::optional<audit::Log::Pending>& pending) {
  if (log == nullptr || !pending.has_value()) return grpc::Status::OK;
  if (const absl::Status committed = log->Commit(*pending); !committed.ok()) return AuditFailed(committed);
  return grpc::Status::OK;
}

// What a call's decisions share, as its audit request line records it: views into `who`,
// `rule_set_version` and `outreach`, which must outlive it.
audit::Request AuditRequest(const CallIdentity& who, const std::string& rule_set_version,
                            const lawful::v1::Outreach& outreach, absl::Time at) {
  audit::Request request;
  request.notice_type = audit::NoticeTypeName(outreach.notice_type());
  request.caller = who.caller;
  request.request_id = who.request_id;
  request.rule_set = rule_set_version;
  request.purpose = outreach.purpose();
  request.channel = audit::ChannelName(outreach.channel());
  request.at = at;
  return request;
}

// After the first half of an audit append (Log::Begin): with `pending`, hands it to the caller,
// who must pass it to AuditCommitted before it answers and may do other work meanwhile;
// without, commits at once.
grpc::Status AuditBegun(audit::Log* log, const absl::StatusOr<audit::Log::Pending>& begun,
                        std::optional<audit::Log::Pending>* pending) {
  if (!begun.ok()) return AuditFailed(begun.status());
  if (pending == nullptr) return AuditCommitted(log, *begun);
  *pending = *begun;
  return grpc::Status::OK;
}

// Records the decisions answered by one call, on disk, before the answer leaves. A batch's
// records are formatted on `pool`'s threads, as its decisions were made.
grpc::Status Audit(audit::Log* log, const CallIdentity& who, const std::string& rule_set_version,
                   const lawful::v1::Outreach& outreach, absl::Time at,
                   absl::Span<const lawful::v1::Decision* const> decisions,
                   BatchEvaluator* pool = nullptr) {
  if (log == nullptr || decisions.empty()) return grpc::Status::OK;
  audit::ParallelFor parallel_for;
  if (pool != nullptr) {
    parallel_for = [pool](size_t n, const std::function<void(size_t, size_t)>& body) {
      pool->ParallelFor(n, 1, body);
    };
  }
  return AuditBegun(log,
                    audit::BeginDecisions(*log, AuditRequest(who, rule_set_version, outreach, at),
                                          decisions, &parallel_for),
                    /*pending=*/nullptr);
}

using StreamRequest = lawful::v1::DecideStreamRequest;
using StreamResponse = lawful::v1::DecideStreamResponse;

// One DecideStream call. At most one operation is outstanding at any time — a read, or the write
// of the answer to the chunk just read — and the next chunk is read only when that write has
// completed. A client that sends faster than it reads is thereby slowed by gRPC's flow control
// instead of growing this server's memory, however long the stream.
class DecideStreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  DecideStreamReactor(grpc::CallbackServerContext* context,
                      std::shared_ptr<const Snapshot> snapshot, BatchEvaluator* evaluator,
                      int64_t max_chunk_size, absl::StatusOr<CallLimiter::Slot> slot,
                      const Authorizer* authorizer, int64_t contacts_per_second,
                      audit::Log* audit_log)
      : audit_log_(audit_log),
        context_(context),
        snapshot_(std::move(snapshot)),
        evaluator_(evaluator),
        max_chunk_size_(max_chunk_size),
        slot_(std::move(slot)),
        authorizer_(authorizer),
        pacer_(contacts_per_second) {
    if (!slot_.ok()) {
      Stop(ToGrpc(slot_.status()));
      return;
    }
    if (snapshot_ == nullptr) {
      Stop(NoRuleSet());
      return;
    }
    StartRead(&raw_request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      EndOfRequests();
      return;
    }
    std::string_view bytes;
    if (!RequestBytes(raw_request_, &slices_, &joined_, &bytes)) {
      Stop(grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request"));
      return;
    }
    absl::StatusOr<decide::StreamPart> part = decide::ReadStreamRequest(bytes, &request_);
    if (!part.ok()) {
      Stop(ToGrpc(part.status()));
    } else if (!outreach_.has_value()) {
      Begin(*part);
    } else {
      DecideChunk(*part);
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Stop(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    } else if (summary_sent_) {
      Stop(grpc::Status::OK);
    } else {
      ReadNextChunk();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&pause_mu_);
    cancelled_ = true;
    if (pause_ != nullptr) pause_->Cancel();  // its callback's read then fails at once
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

  void WriteResponse() {
    raw_response_.Clear();  // the last write has completed; gRPC serializes into an empty buffer
    if (grpc::Status serialized = SerializeResponse(response_, &raw_response_); !serialized.ok()) {
      Stop(serialized);
      return;
    }
    StartWrite(&raw_response_);
  }

  // Reads the next chunk once the stream is back within --max_stream_contacts_per_second.
  void ReadNextChunk() {
    const absl::Duration wait = pacer_.Admit(last_chunk_contacts_, absl::Now());
    absl::MutexLock lock(&pause_mu_);
    if (wait <= absl::ZeroDuration() || cancelled_) {
      StartRead(&raw_request_);
      return;
    }
    // A new alarm each time: the last one's callback may still be returning on another thread.
    pause_ = std::make_unique<grpc::Alarm>();
    pause_->Set(absl::ToChronoTime(absl::Now() + wait), [this](bool) { StartRead(&raw_request_); });
  }

  void Begin(decide::StreamPart part) {
    if (part != decide::StreamPart::kStart) {
      Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "start: the first DecideStreamRequest must be a start (the outreach)"));
      return;
    }
    if (grpc::Status denied = Authorize(authorizer_, *context_, request_.outreach.purpose());
        !denied.ok()) {
      Stop(denied);
      return;
    }
    absl::StatusOr<decide::ResolvedOutreach> outreach =
        decide::ResolveOutreach(*snapshot_->rule_set, request_, absl::Now());
    if (!outreach.ok()) {
      // The shared checks name fields of a request's top level; here they sit in the start.
      Stop(grpc::Status(static_cast<grpc::StatusCode>(outreach.status().code()),
                        absl::StrCat("start.", outreach.status().message())));
      return;
    }
    outreach_ = *std::move(outreach);
    outreach_message_ = request_.outreach;
    who_ = Identify(context_);
    StartRead(&raw_request_);
  }

  void DecideChunk(decide::StreamPart part) {
    if (part != decide::StreamPart::kContacts) {
      Stop(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        part == decide::StreamPart::kStart
                            ? "start: only the first DecideStreamRequest may be a start"
                            : "kind: a DecideStreamRequest must carry a start or contacts"));
      return;
    }
    const std::vector<std::string_view>& contacts = request_.contacts;
    const int64_t count = static_cast<int64_t>(contacts.size());
    if (count > max_chunk_size_) {
      Stop(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrFormat("contacts: a chunk of %d contacts exceeds the limit of %d "
                                        "(--max_batch_size); send smaller chunks",
                                        count, max_chunk_size_)));
      return;
    }
    // Reused: after the first chunks the decisions' storage is recycled, not reallocated.
    auto* decisions = response_.mutable_decisions()->mutable_decisions();
    decisions->Clear();
    const absl::Status status = decide::DecideBatch(
        *evaluator_, outreach_->prepared, contacts, static_cast<uint64_t>(contacts_), decisions,
        /*lines=*/nullptr, [&](size_t done) { return CheckStillWanted(context_, done, count); });
    if (!status.ok()) {
      Stop(ToGrpc(status));
      return;
    }
    if (grpc::Status recorded = Audit(audit_log_, who_, snapshot_->rule_set->version(), outreach_message_,
                                      outreach_->at, AsSpan(*decisions), evaluator_);
        !recorded.ok()) {
      Stop(recorded);
      return;
    }
    tally_.Add(*decisions);
    contacts_ += count;
    last_chunk_contacts_ = count;
    WriteResponse();
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
    tally_.Summarize(summary->mutable_summary());
    summary->set_contacts(static_cast<uint64_t>(contacts_));
    summary->set_rule_set_version(snapshot_->rule_set->version());
    ToProto(outreach_->at, summary->mutable_at());
    summary_sent_ = true;
    WriteResponse();
  }

  audit::Log* const audit_log_;
  CallIdentity who_;                      // set by the start
  lawful::v1::Outreach outreach_message_;  // the start's, as the audit log records it
  grpc::CallbackServerContext* const context_;
  // The one rule set the whole stream is decided with, whatever reloads happen meanwhile.
  const std::shared_ptr<const Snapshot> snapshot_;
  BatchEvaluator* const evaluator_;
  const int64_t max_chunk_size_;
  const absl::Time start_ = absl::Now();
  std::optional<decide::ResolvedOutreach> outreach_;  // set by the start
  grpc::ByteBuffer raw_request_;
  std::vector<grpc::Slice> slices_;  // raw_request_'s bytes, and joined_ when in several slices
  std::string joined_;
  decide::Request request_;  // read from them
  StreamResponse response_;
  grpc::ByteBuffer raw_response_;  // response_, serialized until its write completes
  decide::ReasonTally tally_;
  int64_t contacts_ = 0;
  bool summary_sent_ = false;
  grpc::Status status_;
  // Held until OnDone: the stream counts against --max_concurrent_calls while it is open.
  const absl::StatusOr<CallLimiter::Slot> slot_;
  const Authorizer* const authorizer_;
  StreamPacer pacer_;
  int64_t last_chunk_contacts_ = 0;
  absl::Mutex pause_mu_;
  std::unique_ptr<grpc::Alarm> pause_ ABSL_GUARDED_BY(pause_mu_);
  bool cancelled_ ABSL_GUARDED_BY(pause_mu_) = false;
};

}  // namespace

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
    absl::StatusOr<std::shared_ptr<const Snapshot>> pinned = store_->Version(request.rule_set_version);
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
  const grpc::Status audited =
      Audit(options_.audit_log, Identify(context), version, request.outreach, outreach->at, {decision});
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

  lawful::v1::DecideBatchResponse answer;
  int64_t contacts = 0;
  std::optional<audit::Log::Pending> audit_pending;
  grpc::Status status = options_.parse_only
                            ? ParseOnlyBatch(bytes, &answer, &contacts)
                            : DecideRawBatch(context, bytes, &answer, &contacts, &audit_pending);
  if (status.ok()) {
    bool own_buffer = false;
    status = grpc::SerializationTraits<lawful::v1::DecideBatchResponse>::Serialize(answer, response,
                                                                                   &own_buffer);
  }
  // Nothing is answered before its records are on disk: a failed sync answers UNAVAILABLE.
  if (grpc::Status recorded = AuditCommitted(options_.audit_log, audit_pending); !recorded.ok()) {
    status = recorded;
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
                                           int64_t* contacts_count,
                                           std::optional<audit::Log::Pending>* audit_pending) {
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

  audit::Log* const log = options_.audit_log;
  std::optional<audit::Log::Lines> lines;
  if (log != nullptr && total > 0) lines.emplace(log->StartLines(static_cast<size_t>(total)));
  const absl::Status decided = decide::DecideBatch(
      batch_evaluator_, outreach->prepared, contacts, 0, response->mutable_decisions(),
      lines.has_value() ? &*lines : nullptr,
      [&](size_t done) { return CheckStillWanted(context, static_cast<int64_t>(done), total); });
  if (!decided.ok()) {
    response->Clear();
    return ToGrpc(decided);
  }
  if (lines.has_value()) {
    const CallIdentity who = Identify(context);
    const audit::Request audited =
        AuditRequest(who, snapshot->rule_set->version(), request.outreach, outreach->at);
    if (grpc::Status recorded = AuditBegun(log, log->Begin(audited, *std::move(lines)), audit_pending);
        !recorded.ok()) {
      response->Clear();
      return recorded;
    }
  }
  decide::ReasonTally tally;
  tally.Add(response->decisions());
  tally.Summarize(response->mutable_summary());
  response->set_rule_set_version(snapshot->rule_set->version());
  ToProto(outreach->at, response->mutable_at());
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* LawfulService::DecideStream(
    grpc::CallbackServerContext* context) {
  return new DecideStreamReactor(context, store_->Current(), &batch_evaluator_,
                                 options_.max_batch_size, call_limiter_.Admit(),
                                 options_.authorizer, options_.limits.max_stream_contacts_per_second,
                                 options_.audit_log);
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
