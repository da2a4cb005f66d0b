// What every lawfuld method shares around the deciding layer: reading a request's bytes, the
// call's identity, logging one line per call, and recording its decisions in the audit log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lawful/audit.h"
#include "lawful/engine.h"
#include "lawful/v1/service.grpc.pb.h"

namespace lawful::server {

grpc::Status ToGrpc(const absl::Status& status);

// For Decide and Explain, the evaluator's scratch is per thread: gRPC runs callbacks on a pool
// and a thread decides one request at a time, so no locking is needed and steady state allocates
// nothing.
Evaluator& ThreadEvaluator();

// DEADLINE_EXCEEDED once the caller's deadline has passed, CANCELLED once the call is gone.
// Asked between slices of a batch so that abandoned work stops within one slice.
absl::Status CheckStillWanted(grpc::CallbackServerContext* context, int64_t done, int64_t total);

// A request's bytes: read in place when gRPC holds them in one slice, else joined once into
// `joined`. The views of a request read from them live as long as `slices` and `joined`.
bool RequestBytes(const grpc::ByteBuffer& buffer, std::vector<grpc::Slice>* slices,
                  std::string* joined, std::string_view* bytes);

// One line per RPC. The line carries no request content: contact ids, e-mail addresses and the
// like are personal data and must not end up in server logs.
void LogCall(const char* method, int64_t contacts, absl::Time start, const grpc::Status& status);

// Logs the RPC and completes it.
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const char* method,
                                 int64_t contacts, absl::Time start, const grpc::Status& status);

grpc::Status NoRuleSet();

// GetRuleSet parses its (empty) request here: gRPC's callback API would answer one that does not
// parse with UNIMPLEMENTED and no message.
template <typename Message>
grpc::Status ParseRequest(grpc::ByteBuffer* bytes, Message* message) {
  if (grpc::SerializationTraits<Message>::Deserialize(bytes, message).ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("the ", Message::descriptor()->name(),
                                   " does not parse (truncated, or not that message)"));
}

template <typename Message>
grpc::Status SerializeResponse(const Message& message, grpc::ByteBuffer* bytes) {
  bool own_buffer = false;
  return grpc::SerializationTraits<Message>::Serialize(message, bytes, &own_buffer);
}

// A response whose first field is a batch's `decisions` (decide::BatchAnswers) as one buffer,
// without copying them: `head` (e.g. an enclosing message's tag and length), the parts as they
// were written, then `tail` (the response's other fields, serialized).
grpc::ByteBuffer AnswerBuffer(std::string head, std::vector<std::string> parts, std::string tail);

// Who asked, for the audit log: the client certificate's subject under mutual TLS, else the
// peer address; and the request id the caller sent in `x-request-id` metadata, or one made here.
// Either way the id is sent back as `x-request-id` initial metadata, so the caller can file it.
struct CallIdentity {
  std::string caller;
  std::string request_id;
};
CallIdentity Identify(grpc::CallbackServerContext* context);

// What a failed audit write or sync answers: UNAVAILABLE, and the decisions are not returned at
// all.
grpc::Status AuditFailed(const absl::Status& status);

// What a call's decisions share, as its audit request line records it: views into `who`,
// `rule_set_version` and `outreach`, which must outlive the session's Write.
audit::Request AuditRequest(const CallIdentity& who, const std::string& rule_set_version,
                            const lawful::v1::Outreach& outreach, absl::Time at);

// Records the one decision a call answers (Decide, Explain), on disk, before the answer leaves:
// a session of one. A batch's session is begun by its caller and appended by decide::DecideBatch.
grpc::Status Audit(audit::Log* log, const CallIdentity& who, const std::string& rule_set_version,
                   const lawful::v1::Outreach& outreach, absl::Time at,
                   const lawful::v1::Decision& decision);

}  // namespace lawful::server
