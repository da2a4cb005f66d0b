// lawfuld: serves lawful.v1.Lawful over gRPC for the rule set in --rules.
//
// The rules are reloaded on SIGHUP and, unless --watch_interval=0, when a poll of the rules
// directory sees a file added, removed or changed.
//
// Signals: SIGHUP reloads the rules (a rule set that fails to compile is reported and the old one
// kept); SIGTERM and SIGINT stop accepting calls, give running calls --shutdown_grace_seconds and
// exit 0. Exit 2 when the rules do not load at startup, 1 for other startup failures.
#include <pthread.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to serve on, HOST:PORT. Port 0 picks a free port; the startup line on stdout "
          "names the port chosen.");
ABSL_FLAG(std::string, rules, "rules",
          "Directory holding the *.lawful rule files. Reloaded on SIGHUP.");
ABSL_FLAG(int64_t, max_batch_size, 100000,
          "Most contacts one DecideBatch call may carry; larger calls get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int32_t, max_message_bytes, 64 << 20, "Largest gRPC message accepted or sent, in bytes.");
ABSL_FLAG(
    int32_t, worker_threads, 0,
    "Threads deciding DecideBatch and DecideStream chunks besides the calling thread; 0 means "
    "one per hardware thread, minus one. A fixed pool: no thread is created per request.");
ABSL_FLAG(int32_t, watch_interval, 2,
          "Seconds between polls of the rules directory (file names, sizes, modification times); a "
          "change reloads the rules as SIGHUP does. 0 turns watching off.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain to serve TLS with (needs --tls_key). Unset: plaintext.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: with it, every client must present a certificate they signed "
          "(mutual TLS); plaintext and certificate-less clients are refused. Needs --tls_cert.");
ABSL_FLAG(bool, parse_only, false,
          "Benchmark baseline, never for production: DecideBatch only parses the request with "
          "protobuf and answers with the rule-set version, deciding nothing. The floor that "
          "bench/server_bench.cc measures the real DecideBatch against.");
ABSL_FLAG(int32_t, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT, how long running calls may take before they are cancelled.");
ABSL_FLAG(int32_t, max_concurrent_streams, 100,
          "Most calls one client connection may have open at once (HTTP/2 "
          "SETTINGS_MAX_CONCURRENT_STREAMS); a client queues the rest.");
ABSL_FLAG(int64_t, max_concurrent_calls, 1000,
          "Most deciding calls (Decide, DecideBatch, open DecideStreams) at once across all "
          "connections; one more gets RESOURCE_EXHAUSTED. 0: no limit.");
ABSL_FLAG(int64_t, max_stream_contacts_per_second, 0,
          "Average contacts per second one DecideStream may send (a second's worth may come at "
          "once); a faster stream is slowed down by reading its next chunk later. 0: no limit.");
ABSL_FLAG(std::string, authz_file, "",
          "File mapping client-certificate identities to the purposes each caller may ask about "
          "(`identity : purpose, purpose` per line, `*` for all); other calls get "
          "PERMISSION_DENIED. Needs --tls_client_ca. Reloaded on SIGHUP.");

ABSL_FLAG(std::string, audit_log, "",
          "Append a tamper-evident record of every decision answered to this file, written and "
          "synced before the answer leaves; when it cannot be written, calls fail with "
          "UNAVAILABLE. Needs --audit_key_file. Verify with `lawful audit verify`.");
ABSL_FLAG(std::string, audit_key_file, "",
          "The audit log's secret (at least 32 random bytes, raw or hex): keys the records' MAC "
          "chain and the contact pseudonyms. Keep it out of the log's reach.");
ABSL_FLAG(int64_t, audit_max_bytes, 1 << 30,
          "Rotate the audit log when it reaches this size (the chain continues in the next "
          "file). 0: never.");
ABSL_FLAG(absl::Duration, audit_retention, absl::InfiniteDuration(),
          "Delete rotated audit files older than this (e.g. 2555d for seven years). Default: "
          "keep them for ever.");
ABSL_FLAG(std::string, archive_dir, "",
          "Keep every rule set served in this content-addressed archive (DIR/<version>/), so that "
          "Explain and `lawful explain --rule_set` can replay any logged decision.");

namespace lawful::server {
namespace {

// The --audit_log, opened (and a torn tail from a crash cut off) before the port is bound.
absl::StatusOr<std::unique_ptr<audit::Log>> OpenAuditLog() {
  const std::string path = absl::GetFlag(FLAGS_audit_log);
  const std::string key_file = absl::GetFlag(FLAGS_audit_key_file);
  if (path.empty()) {
    if (!key_file.empty()) return absl::InvalidArgumentError("--audit_key_file needs --audit_log");
    return nullptr;
  }
  if (key_file.empty()) return absl::InvalidArgumentError("--audit_log needs --audit_key_file");
  if (absl::GetFlag(FLAGS_audit_max_bytes) < 0) {
    return absl::InvalidArgumentError("--audit_max_bytes must not be negative");
  }
  absl::StatusOr<audit::Key> key = audit::LoadKey(key_file);
  if (!key.ok()) return key.status();
  audit::Options options;
  options.path = path;
  options.key = *std::move(key);
  options.max_file_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_audit_max_bytes));
  options.retention = absl::GetFlag(FLAGS_audit_retention);
  options.notice = [](absl::string_view message) {
    const std::string line = absl::StrCat("lawfuld: audit log: ", message, "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
  return audit::Log::Open(std::move(options));
}

// The address to print: the --listen host with the port the server actually bound.
std::string BoundAddress(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  if (absl::StartsWith(listen, "unix:") || colon == std::string::npos) return listen;
  return absl::StrFormat("%s:%d", listen.substr(0, colon), port);
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

void SetServing(grpc::HealthCheckServiceInterface* health, bool serving) {
  health->SetServingStatus("", serving);
  health->SetServingStatus(lawful::v1::Lawful::service_full_name(), serving);
}

void ReloadRules(RuleSetStore& store) {
  const absl::Status status = store.Reload();
  const std::shared_ptr<const Snapshot> snapshot = store.Current();
  if (!status.ok()) {
    // One line: the full diagnostics are in GetRuleSet's last_reload_error.
    std::fprintf(stderr,
                 "lawfuld: reload of %s failed, still serving rule set %s: %s "
                 "(see last_reload_error in GetRuleSet)\n",
                 store.rules_dir().c_str(), snapshot->rule_set->version().c_str(),
                 FirstLine(std::string(status.message())).c_str());
    return;
  }
  std::fprintf(stderr, "lawfuld: reloaded %s, serving rule set %s (%zu files)\n",
               store.rules_dir().c_str(), snapshot->rule_set->version().c_str(),
               snapshot->rule_set->program().files.size());
  if (!snapshot->warnings.empty()) std::fputs(snapshot->warnings.c_str(), stderr);
}

// What the watcher compares between polls: every regular file below the rules directory with its
// size and modification time (nanoseconds). Any difference means the rules may have changed.
using Fingerprint = std::vector<std::tuple<std::string, uintmax_t, int64_t>>;

Fingerprint TakeFingerprint(const std::string& dir) {
  Fingerprint fingerprint;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    struct stat info;
    if (stat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    fingerprint.emplace_back(
        it->path().string(), static_cast<uintmax_t>(info.st_size),
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec);
  }
  // An error mid-walk is a difference too: the next successful walk then triggers a reload.
  if (error) fingerprint.emplace_back("?error", 0, error.value());
  std::sort(fingerprint.begin(), fingerprint.end());
  return fingerprint;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return in.good() || in.eof();
}

// Server credentials from the --tls_* flags; plaintext when none is set. Sets `error` when the
// flags are inconsistent or a file cannot be read.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(std::string* error) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert.empty() && key.empty() && client_ca.empty()) return grpc::InsecureServerCredentials();
  if (cert.empty() || key.empty()) {
    *error = "--tls_cert and --tls_key go together (and --tls_client_ca needs both)";
    return nullptr;
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  grpc::SslServerCredentialsOptions options;
  for (const auto& [path, out] :
       {std::pair{cert, &pair.cert_chain}, std::pair{key, &pair.private_key},
        std::pair{client_ca, &options.pem_root_certs}}) {
    if (path.empty()) continue;
    if (!ReadWholeFile(path, out) || out->empty()) {
      *error = absl::StrFormat("cannot read %s", path);
      return nullptr;
    }
  }
  options.pem_key_cert_pairs.push_back(std::move(pair));
  // With a client CA every client must prove who it is; without, any TLS client is served.
  options.client_certificate_request =
      client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                        : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  return grpc::SslServerCredentials(options);
}

// The --authz_file policy and the call limits from their flags; an error message when they are
// inconsistent or the policy does not load.
std::string HardeningOptions(std::unique_ptr<Authorizer>* authorizer, LimitOptions* limits) {
  limits->max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  limits->max_stream_contacts_per_second = absl::GetFlag(FLAGS_max_stream_contacts_per_second);
  if (absl::GetFlag(FLAGS_max_concurrent_streams) < 1 || limits->max_concurrent_calls < 0 ||
      limits->max_stream_contacts_per_second < 0) {
    return "--max_concurrent_streams must be positive, --max_concurrent_calls and "
           "--max_stream_contacts_per_second not negative";
  }
  const std::string authz_file = absl::GetFlag(FLAGS_authz_file);
  if (authz_file.empty()) return "";
  // Callers are known by their client certificates, which only mutual TLS verifies.
  if (absl::GetFlag(FLAGS_tls_client_ca).empty()) {
    return "--authz_file needs --tls_client_ca (with --tls_cert and --tls_key): callers are "
           "identified by the client certificates that CA signs";
  }
  *authorizer = std::make_unique<Authorizer>(authz_file);
  if (const absl::Status status = (*authorizer)->Reload(); !status.ok()) {
    return std::string(status.message());
  }
  std::fprintf(stderr, "lawfuld: %s authorises %zu callers\n", authz_file.c_str(),
               (*authorizer)->callers());
  return "";
}

// SIGHUP: the authorisation file is reloaded with the rules; a file that no longer parses keeps
// the policy in force.
void ReloadAuthz(Authorizer& authorizer) {
  if (const absl::Status status = authorizer.Reload(); !status.ok()) {
    std::fprintf(stderr, "lawfuld: reload of %s failed, keeping its previous policy: %s\n",
                 authorizer.path().c_str(), std::string(status.message()).c_str());
    return;
  }
  std::fprintf(stderr, "lawfuld: reloaded %s, %zu callers\n", authorizer.path().c_str(),
               authorizer.callers());
}

int Run() {
  // Signals are taken synchronously by sigwait() in this thread, never by a handler. They are
  // blocked first, before anything can start a thread (creating gRPC credentials starts gRPC's
  // own), so every thread inherits the mask: a SIGHUP delivered to a thread that had it
  // unblocked would take its default action and kill the server. A shell may have started us
  // with SIGINT ignored, and an ignored signal is discarded even when blocked.
  sigset_t signals;
  sigemptyset(&signals);
  for (int handled : {SIGHUP, SIGTERM, SIGINT}) {
    std::signal(handled, SIG_DFL);
    sigaddset(&signals, handled);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A file-size limit reached while writing the audit log must fail that write (EFBIG), which
  // fails the call, not kill the server with SIGXFSZ's default action.
  std::signal(SIGXFSZ, SIG_IGN);

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const int64_t max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  const int32_t max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  const int32_t grace_seconds = absl::GetFlag(FLAGS_shutdown_grace_seconds);
  const int32_t watch_interval = absl::GetFlag(FLAGS_watch_interval);
  if (max_batch_size < 1 || max_message_bytes < 1 || grace_seconds < 0 || watch_interval < 0) {
    std::fprintf(stderr,
                 "lawfuld: --max_batch_size and --max_message_bytes must be positive, "
                 "--shutdown_grace_seconds and --watch_interval not negative\n");
    return 1;
  }
  std::string credentials_error;
  const std::shared_ptr<grpc::ServerCredentials> credentials =
      ServerCredentials(&credentials_error);
  if (credentials == nullptr) {
    std::fprintf(stderr, "lawfuld: %s\n", credentials_error.c_str());
    return 1;
  }

  // The rules load before the port is bound, so no call is ever answered without a rule set.
  absl::StatusOr<std::unique_ptr<audit::Log>> audit_log = OpenAuditLog();
  if (!audit_log.ok()) {
    std::fprintf(stderr, "lawfuld: %s\n", std::string(audit_log.status().message()).c_str());
    return 1;
  }
  if (*audit_log != nullptr) {
    std::fprintf(stderr, "lawfuld: recording decisions in %s (head %s)\n",
                 (*audit_log)->path().c_str(), (*audit_log)->head().ToString().c_str());
  }
  RuleSetStore store(absl::GetFlag(FLAGS_rules), absl::GetFlag(FLAGS_archive_dir));
  // Taken before the first load: a file changed during that load is then seen as a change.
  Fingerprint watched = TakeFingerprint(store.rules_dir());
  if (const absl::Status status = store.Reload(); !status.ok()) {
    std::fprintf(stderr, "lawfuld: cannot load rules from %s:\n%s\n", store.rules_dir().c_str(),
                 std::string(status.message()).c_str());
    return 2;
  }
  const std::shared_ptr<const Snapshot> initial = store.Current();
  if (!initial->warnings.empty()) std::fputs(initial->warnings.c_str(), stderr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  if (absl::GetFlag(FLAGS_worker_threads) < 0) {
    std::fprintf(stderr, "lawfuld: --worker_threads must be 0 or more\n");
    return 1;
  }
  std::unique_ptr<Authorizer> authorizer;
  LimitOptions limits;
  if (std::string error = HardeningOptions(&authorizer, &limits); !error.empty()) {
    std::fprintf(stderr, "lawfuld: %s\n", error.c_str());
    return 1;
  }
  LawfulService service(&store, ServiceOptions{.max_batch_size = max_batch_size,
                                               .batch_threads = absl::GetFlag(FLAGS_worker_threads),
                                               .parse_only = absl::GetFlag(FLAGS_parse_only),
                                               .authorizer = authorizer.get(),
                                               .limits = limits,
                                               .audit_log = audit_log->get()});
  // After a burst the freed memory goes back to the system (call_limits.h).
  const IdleMemoryReleaser memory_releaser(&service.call_limiter(), absl::Seconds(1));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             absl::GetFlag(FLAGS_max_concurrent_streams));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "lawfuld: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_parse_only)) {
    // Said loudly: a server started like this answers every DecideBatch without decisions.
    std::fprintf(stderr,
                 "lawfuld: --parse_only: DecideBatch decides nothing (benchmark baseline)\n");
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  SetServing(health, true);

  std::printf("lawfuld: listening on %s, serving rule set %s (%zu files)\n",
              BoundAddress(listen, port).c_str(), initial->rule_set->version().c_str(),
              initial->rule_set->program().files.size());
  std::fflush(stdout);

  // The watcher reloads through the same path as SIGHUP; RuleSetStore serializes the two. Its
  // thread inherits the blocked signal mask, so signals still reach only sigwait() below.
  absl::Notification stop_watching;
  std::thread watcher;
  if (watch_interval > 0) {
    watcher = std::thread([&store, &stop_watching, &watched, watch_interval] {
      while (!stop_watching.WaitForNotificationWithTimeout(absl::Seconds(watch_interval))) {
        Fingerprint now = TakeFingerprint(store.rules_dir());
        if (now == watched) continue;
        watched = std::move(now);
        ReloadRules(store);
      }
    });
  }

  int received = 0;
  while (true) {
    if (sigwait(&signals, &received) != 0) continue;
    if (received != SIGHUP) break;
    ReloadRules(store);
    if (authorizer != nullptr) ReloadAuthz(*authorizer);
  }

  std::fprintf(stderr, "lawfuld: %s received, shutting down (grace %ds)\n",
               received == SIGINT ? "SIGINT" : "SIGTERM", grace_seconds);
  // Load balancers see NOT_SERVING first; Shutdown() also ignores any later status change.
  stop_watching.Notify();
  if (watcher.joinable()) watcher.join();
  SetServing(health, false);
  health->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(grace_seconds));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace lawful::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves lawful decisions over gRPC (lawful.v1.Lawful, health and reflection).\n"
      "Usage: lawfuld [--listen=HOST:PORT] [--rules=DIR] [flags]\n"
      "SIGHUP (or a change seen by --watch_interval) reloads the rules; SIGTERM or SIGINT shut "
      "down "
      "gracefully.");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "lawfuld: unexpected argument '%s' (see --help)\n", positional[1]);
    return 1;
  }
  return lawful::server::Run();
}
