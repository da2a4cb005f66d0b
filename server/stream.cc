// DecideStream over the deciding layer: the start resolves the outreach, each chunk is decided by
// the batch loop and recorded, the summary counts the whole stream.
#include "stream.h"

#include <grpcpp/alarm.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "call.h"
#include "lawful/decide.h"

namespace lawful::server {
namespace {

using lawful::ToProto;

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

  // Writes `raw_response_`, which stays untouched until the write completes.
  void WriteResponse() { StartWrite(&raw_response_); }

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
    decide::BatchAnswers answers;
    // The chunk's audit records are appended where they are decided, and on disk before its
    // answer is written.
    std::optional<audit::Log::Session> audit_session;
    if (audit_log_ != nullptr && count > 0) {
      audit_session.emplace(audit_log_->Begin(
          AuditRequest(who_, snapshot_->rule_set->version(), outreach_message_, outreach_->at),
          static_cast<size_t>(count)));
    }
    const absl::Status status = decide::DecideBatch(
        *evaluator_, outreach_->prepared, contacts, static_cast<uint64_t>(contacts_), &answers,
        audit_session.has_value() ? &*audit_session : nullptr,
        [&](size_t done) { return CheckStillWanted(context_, done, count); });
    if (!status.ok()) {
      Stop(ToGrpc(status));
      return;
    }
    if (audit_session.has_value()) {
      if (const absl::Status recorded = audit_session->Commit(); !recorded.ok()) {
        Stop(AuditFailed(recorded));
        return;
      }
    }
    tally_.Add(answers.tally);
    contacts_ += count;
    last_chunk_contacts_ = count;
    // DecideStreamResponse{decisions: DecisionChunk{decisions: the parts}}, written as bytes.
    std::string head;
    wire::AppendLengthPrefix(lawful::v1::DecideStreamResponse::kDecisionsFieldNumber,
                             answers.bytes(), &head);
    raw_response_ = AnswerBuffer(std::move(head), std::move(answers.parts), std::string());
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
    StreamResponse response;
    lawful::v1::StreamSummary* summary = response.mutable_summary();
    tally_.Summarize(summary->mutable_summary());
    summary->set_contacts(static_cast<uint64_t>(contacts_));
    summary->set_rule_set_version(snapshot_->rule_set->version());
    ToProto(outreach_->at, summary->mutable_at());
    summary_sent_ = true;
    raw_response_.Clear();
    if (grpc::Status serialized = SerializeResponse(response, &raw_response_); !serialized.ok()) {
      Stop(serialized);
      return;
    }
    WriteResponse();
  }

  audit::Log* const audit_log_;
  CallIdentity who_;                       // set by the start
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
  decide::Request request_;        // read from them
  grpc::ByteBuffer raw_response_;  // the answer being written
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

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewDecideStreamReactor(
    grpc::CallbackServerContext* context, std::shared_ptr<const Snapshot> snapshot,
    BatchEvaluator* evaluator, int64_t max_chunk_size, absl::StatusOr<CallLimiter::Slot> slot,
    const Authorizer* authorizer, int64_t contacts_per_second, audit::Log* audit_log) {
  return new DecideStreamReactor(context, std::move(snapshot), evaluator, max_chunk_size,
                                 std::move(slot), authorizer, contacts_per_second, audit_log);
}

}  // namespace lawful::server
