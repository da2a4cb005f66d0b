// What every lawfuld method shares around the deciding layer (call.h).
#include "call.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "authz.h"

namespace lawful::server {

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
    *bytes =
        std::string_view(reinterpret_cast<const char*>((*slices)[0].begin()), (*slices)[0].size());
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

// Who asked, for the audit log: the client certificate's subject under mutual TLS, else the
// peer address; and the request id the caller sent in `x-request-id` metadata, or one made here.
// Either way the id is sent back as `x-request-id` initial metadata, so the caller can file it.
CallIdentity Identify(grpc::CallbackServerContext* context) {
  CallIdentity who;
  if (const auto auth = context->auth_context(); auth != nullptr) {
    if (std::vector<std::string> names = PeerIdentities(*auth); !names.empty())
      who.caller = names.front();
  }
  if (who.caller.empty()) who.caller = context->peer();
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    // Only short printable ids are taken as given: the value lands in the audit log.
    const std::string_view sent(it->second.data(), it->second.size());
    const bool printable =
        std::all_of(sent.begin(), sent.end(), [](char c) { return c > ' ' && c < 127; });
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

// What a failed audit write or sync answers: UNAVAILABLE, and the decisions are not returned at
// all.
grpc::Status AuditFailed(const absl::Status& status) {
  // The status names the file and the system error, never a record's content.
  const std::string line = absl::StrCat(
      "lawfuld: audit log write failed, answering UNAVAILABLE: ", status.message(), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the audit log cannot be written, and no decision is given without its "
                      "record; retry later");
}

// What a call's decisions share, as its audit request line records it: views into `who`,
// `rule_set_version` and `outreach`, which must outlive the session's Write.
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

// Records the one decision a call answers (Decide, Explain), on disk, before the answer leaves.
grpc::Status Audit(audit::Log* log, const CallIdentity& who, const std::string& rule_set_version,
                   const lawful::v1::Outreach& outreach, absl::Time at,
                   const lawful::v1::Decision& decision) {
  if (log == nullptr) return grpc::Status::OK;
  audit::Log::Session session = log->Begin(AuditRequest(who, rule_set_version, outreach, at), 1);
  session.Append(0, 1,
                 [&](size_t, audit::DecisionRecord* record) { audit::RecordOf(decision, record); });
  if (const absl::Status recorded = session.Commit(); !recorded.ok()) return AuditFailed(recorded);
  return grpc::Status::OK;
}

grpc::ByteBuffer AnswerBuffer(std::string head, std::vector<std::string> parts, std::string tail) {
  std::vector<grpc::Slice> slices;
  slices.reserve(parts.size() + 2);
  // Each string is handed to gRPC, which frees it when the bytes have been sent.
  auto give = [&slices](std::string bytes) {
    if (bytes.empty()) return;
    auto* owned = new std::string(std::move(bytes));
    slices.emplace_back(
        owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  };
  give(std::move(head));
  for (std::string& part : parts) give(std::move(part));
  give(std::move(tail));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace lawful::server
