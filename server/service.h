// The lawful.v1.Lawful gRPC service. Every RPC decides with the one snapshot of the rule set
// (rule_set_store.h) it took when it started.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "authz.h"
#include "call_limits.h"
#include "lawful/audit.h"
#include "lawful/engine.h"
#include "lawful/v1/service.grpc.pb.h"
#include "rule_set_store.h"

namespace lawful::server {

struct ServiceOptions {
  // Larger DecideBatch requests and DecideStream chunks are refused with RESOURCE_EXHAUSTED.
  int64_t max_batch_size = 100000;
  // Worker threads deciding DecideBatch chunks besides the calling thread; 0 = one per hardware
  // thread, minus one.
  int batch_threads = 0;
  // Benchmark baseline (lawfuld --parse_only): DecideBatch only parses the request into a
  // DecideBatchRequest and answers with the rule-set version, deciding nothing.
  bool parse_only = false;
  // Who may ask about which purposes (--authz_file); null: every caller the transport admits.
  const Authorizer* authorizer = nullptr;
  // The server-wide call cap and the per-stream pace (call_limits.h).
  LimitOptions limits;
  // Where every decision answered is recorded before the answer leaves (--audit_log); null: no
  // log. When a record cannot be written the call fails with UNAVAILABLE instead.
  audit::Log* audit_log = nullptr;
};

// Decides with whatever snapshot the store serves when each RPC starts. Logs one line per RPC to
// stderr (method, number of contacts, status, duration) and never any contact data.
//
// DecideBatch is served raw: its request reaches the engine's SplitBatchRequest as bytes, so the
// contacts are never parsed into messages (the engine decodes only the fields the rules read).
// Every other method is served raw too, to answer a request that does not parse with
// INVALID_ARGUMENT (service.cc, ParseRequest). A raw bidi method cannot be layered over the
// generated CallbackService, so the callback methods are listed one by one: an RPC added to
// service.proto must be added here, or it is served by the synchronous default (UNIMPLEMENTED).
class LawfulService final : public lawful::v1::Lawful::WithRawCallbackMethod_Decide<
                                lawful::v1::Lawful::WithRawCallbackMethod_DecideBatch<
                                    lawful::v1::Lawful::WithRawCallbackMethod_DecideStream<
                                        lawful::v1::Lawful::WithRawCallbackMethod_GetRuleSet<
                                            lawful::v1::Lawful::WithRawCallbackMethod_Explain<
                                                lawful::v1::Lawful::Service>>>>> {
 public:
  LawfulService(const RuleSetStore* store, ServiceOptions options);
  // The deciding calls in flight (--max_concurrent_calls).
  const CallLimiter& call_limiter() const { return call_limiter_; }

  // `request` is a serialized DecideRequest; `response` gets a DecideResponse.
  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  // `request` is a serialized DecideBatchRequest; `response` gets a DecideBatchResponse.
  grpc::ServerUnaryReactor* DecideBatch(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  // A reactor per stream: reads a chunk, decides it, writes the answer, and reads the next chunk
  // only once that write completed, so one stream holds at most one chunk in memory. Its messages
  // are serialized DecideStreamRequests and DecideStreamResponses.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DecideStream(
      grpc::CallbackServerContext* context) override;
  // Raw too, like the rest: a GetRuleSetRequest / ExplainRequest that does not parse is
  // INVALID_ARGUMENT, not UNIMPLEMENTED.
  grpc::ServerUnaryReactor* GetRuleSet(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

 private:
  // The two halves of DecideBatch, on the request's bytes: fill `response` on OK only, and
  // `contacts` (for the log line) once the request's contacts are counted. With the audit log,
  // DecideRawBatch leaves its audit session written but not yet synced in `audit_session`: the
  // answer is serialized while the records go to disk (Session::Wait), and sent only once they
  // are there.
  grpc::Status ParseOnlyBatch(std::string_view bytes, grpc::ByteBuffer* response,
                              int64_t* contacts) const;
  grpc::Status DecideRawBatch(grpc::CallbackServerContext* context, std::string_view bytes,
                              grpc::ByteBuffer* response, int64_t* contacts,
                              std::optional<audit::Log::Session>* audit_session);
  // What Decide and Explain share (service.cc).
  template <typename Response, typename Answer>
  grpc::ServerUnaryReactor* AboutOneContact(const char* method,
                                            grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request_bytes,
                                            grpc::ByteBuffer* response_bytes, bool replay,
                                            Answer answer);

  const RuleSetStore* store_;
  const ServiceOptions options_;
  // One pool for every DecideBatch and DecideStream call, created once: a batch is split across
  // the cores.
  BatchEvaluator batch_evaluator_;
  CallLimiter call_limiter_;
};

}  // namespace lawful::server
