// DecideStream: a campaign of any size decided at bounded memory, one chunk in flight a stream.
#pragma once

#include <cstdint>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "authz.h"
#include "call_limits.h"
#include "lawful/audit.h"
#include "lawful/engine.h"
#include "rule_set_store.h"

namespace lawful::server {

// A reactor per stream (see stream.cc); it deletes itself when the stream is done.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewDecideStreamReactor(
    grpc::CallbackServerContext* context, std::shared_ptr<const Snapshot> snapshot,
    BatchEvaluator* evaluator, int64_t max_chunk_size, absl::StatusOr<CallLimiter::Slot> slot,
    const Authorizer* authorizer, int64_t contacts_per_second, audit::Log* audit_log);

}  // namespace lawful::server
