// lawfuld end to end: the raw DecideBatch path against the floor of merely parsing the request,
// the same path with the audit log on (every record written and fdatasync'ed before the answer)
// against it off, and the latency of a single Decide at low load. Starts its own three servers on
// free loopback ports (normal, --parse_only, --audit_log in the build tree's disk) from the build
// tree and stops them at exit. See bench/README.md; meaningful only in a Release build.
//
//   build-release/bench/lawful_server_bench [--rounds=15] [--calls_per_thread=2]
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"
#include "lawful/v1/service.grpc.pb.h"

ABSL_FLAG(int32_t, rounds, 15, "Paired rounds (normal and --parse_only server back to back).");
ABSL_FLAG(int32_t, calls_per_thread, 2, "DecideBatch calls each client thread makes per round.");
ABSL_FLAG(int32_t, decide_calls, 2000, "Sequential single-contact Decide calls for latency.");

namespace lawful {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::kBenchInstant;

constexpr size_t kBatchContacts = 10000;
constexpr int kClientThreads = 2;
constexpr char kMethod[] = "/lawful.v1.Lawful/DecideBatch";

lawful::v1::Outreach NewsletterByEmail() {
  lawful::v1::Outreach outreach;
  outreach.set_purpose("newsletter");
  outreach.set_channel(lawful::v1::CHANNEL_EMAIL);
  outreach.mutable_at()->set_seconds(absl::ToUnixSeconds(At(kBenchInstant)));
  return outreach;
}

// One lawfuld process; stopped with SIGTERM (bounded wait, then SIGKILL by Process) at scope end.
class Server {
 public:
  explicit Server(const std::vector<std::string>& extra_flags) {
    std::vector<std::string> argv = {LAWFULD_PATH, "--listen=127.0.0.1:0",
                                     "--rules=" LAWFUL_SOURCE_DIR "/rules", "--watch_interval=0"};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    testkit::Process::Options options;
    options.stderr_path = "/dev/null";  // the per-call log lines are not wanted here
    process_ = std::make_unique<testkit::Process>(argv, options);
    const std::optional<std::string> line = process_->ReadLine(absl::Seconds(30));
    constexpr std::string_view kPrefix = "lawfuld: listening on 127.0.0.1:";
    if (!line.has_value() || line->rfind(kPrefix, 0) != 0) return;
    const std::string rest = line->substr(kPrefix.size());
    int port = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find(',')), &port)) return;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // Each client thread gets its own connection, as separate callers would.
    for (int i = 0; i < kClientThreads; ++i) {
      args.SetInt("lawful_bench_channel", i);  // distinct args: no shared subchannel
      channels_.push_back(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                    grpc::InsecureChannelCredentials(), args));
    }
  }
  ~Server() {
    channels_.clear();
    process_->Signal(SIGTERM);
    process_->WaitExit(absl::Seconds(10));
  }

  bool ok() const { return !channels_.empty(); }
  const std::shared_ptr<grpc::Channel>& channel(int i) const { return channels_[i]; }

  // CPU seconds the server's threads have run so far (the kernel's per-thread schedstat, in
  // nanoseconds; threads that already ended are not counted, and lawfuld's pool and gRPC threads
  // live as long as the server). Less noisy than wall time on a shared machine: what another
  // tenant takes shows in the wall time, not here.
  double CpuSeconds() const {
    const std::string tasks = absl::StrCat("/proc/", process_->pid(), "/task");
    std::error_code error;
    uint64_t nanos = 0;
    for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
      std::ifstream schedstat(task.path() / "schedstat");
      uint64_t on_cpu = 0;
      if (schedstat >> on_cpu) nanos += on_cpu;
    }
    return static_cast<double>(nanos) * 1e-9;
  }

 private:
  std::unique_ptr<testkit::Process> process_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// One pre-serialized DecideBatch, sent as is: the client's own cost is the same for both servers.
bool CallBatch(grpc::GenericStub& stub, const grpc::ByteBuffer& request) {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, kMethod, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) {
    std::fprintf(stderr, "DecideBatch failed: %s\n", status.error_message().c_str());
  }
  return status.ok();
}

// Seconds for kClientThreads threads each sending `calls` batches to `server` at once.
double TimeRound(const Server& server, const grpc::ByteBuffer& request, int calls, bool* ok) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::vector<char> thread_ok(kClientThreads, 1);
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&, t] {
      grpc::GenericStub stub(server.channel(t));
      for (int c = 0; c < calls; ++c) thread_ok[t] &= CallBatch(stub, request) ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (char thread_ok_flag : thread_ok) *ok &= thread_ok_flag != 0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median over paired rounds (back to back, alternating which goes first, so drift on this shared
// machine hits both alike) of seconds(a) / seconds(b), and each side's median seconds.
struct Paired {
  double ratio = 0, a_seconds = 0, b_seconds = 0;
  double a_cpu_seconds = 0, b_cpu_seconds = 0;  // over every round (and the warm-up), per server
};
Paired Compare(const Server& a, const Server& b, const grpc::ByteBuffer& request, int rounds,
               int calls, bool* ok) {
  const double a_cpu = a.CpuSeconds(), b_cpu = b.CpuSeconds();
  TimeRound(a, request, 1, ok);  // warm-up: connections, thread pools, caches
  TimeRound(b, request, 1, ok);
  std::vector<double> ratios, a_seconds, b_seconds;
  for (int r = 0; r < rounds && *ok; ++r) {
    double t_a, t_b;
    if (r % 2 == 0) {
      t_a = TimeRound(a, request, calls, ok);
      t_b = TimeRound(b, request, calls, ok);
    } else {
      t_b = TimeRound(b, request, calls, ok);
      t_a = TimeRound(a, request, calls, ok);
    }
    ratios.push_back(t_a / t_b);
    a_seconds.push_back(t_a);
    b_seconds.push_back(t_b);
  }
  if (!*ok) return {};
  return Paired{Median(ratios), Median(a_seconds), Median(b_seconds), a.CpuSeconds() - a_cpu,
                b.CpuSeconds() - b_cpu};
}

int Run() {
  Server real({});
  Server floor({"--parse_only"});
  // The audit log on this machine's disk (next to the binary, not a tmpfs), with a fresh key.
  const std::string audit_dir = std::string(LAWFULD_PATH) + ".bench-audit";
  std::filesystem::remove_all(audit_dir);
  std::filesystem::create_directories(audit_dir);
  std::ofstream(audit_dir + "/key") << std::string(64, '7') << "\n";
  Server audited(
      {"--audit_log=" + audit_dir + "/audit.log", "--audit_key_file=" + audit_dir + "/key"});
  if (!real.ok() || !floor.ok() || !audited.ok()) {
    std::fprintf(stderr, "lawful_server_bench: a lawfuld did not start (%s)\n", LAWFULD_PATH);
    return 1;
  }

  lawful::v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  for (lawful::v1::Contact& contact : synth::Generate(42, kBatchContacts, At(kBenchInstant))) {
    *batch.add_contacts() = std::move(contact);
  }
  const std::string serialized = batch.SerializeAsString();
  grpc::Slice slice(serialized);
  const grpc::ByteBuffer request(&slice, 1);

  // The response must hold one decision per contact, or the comparison means nothing.
  {
    grpc::ClientContext context;
    lawful::v1::DecideBatchResponse response;
    auto stub = lawful::v1::Lawful::NewStub(real.channel(0));
    const grpc::Status status = stub->DecideBatch(&context, batch, &response);
    if (!status.ok() || response.decisions_size() != static_cast<int>(kBatchContacts)) {
      std::fprintf(stderr, "lawful_server_bench: the real server did not decide the batch: %s\n",
                   status.error_message().c_str());
      return 1;
    }
  }

  const int rounds = absl::GetFlag(FLAGS_rounds);
  const int calls = absl::GetFlag(FLAGS_calls_per_thread);
  bool ok = true;
  const Paired vs_floor = Compare(floor, real, request, rounds, calls, &ok);
  const Paired with_audit = Compare(real, audited, request, rounds, calls, &ok);
  if (!ok) return 1;
  const double contacts_per_round = static_cast<double>(kBatchContacts) * kClientThreads * calls;
  std::printf(
      "== lawfuld DecideBatch, %zu contacts a call, %d client threads x %d calls, "
      "median of %d paired rounds ==\n",
      kBatchContacts, kClientThreads, calls, rounds);
  std::printf("server_batch_vs_parse_only: %.0f%% (target >= 90%%)\n", 100 * vs_floor.ratio);
  std::printf("  decide_batch: %.0f contacts/s\n", contacts_per_round / vs_floor.b_seconds);
  std::printf("  parse_only:   %.0f contacts/s\n", contacts_per_round / vs_floor.a_seconds);
  std::printf("audit_log_on_vs_off: %.0f%% of the throughput without it (target >= 70%%)\n",
              100 * with_audit.ratio);
  std::printf("  audit off:    %.0f contacts/s\n", contacts_per_round / with_audit.a_seconds);
  std::printf("  audit on:     %.0f contacts/s (one fdatasync per call)\n",
              contacts_per_round / with_audit.b_seconds);
  // Both servers decided the same contacts: the warm-up's, then every round's.
  const double decided =
      static_cast<double>(kBatchContacts) * kClientThreads * (1 + calls * rounds);
  std::printf("  server CPU a decision: %.2f us off, %.2f us on; the log's own: %.2f us\n",
              1e6 * with_audit.a_cpu_seconds / decided, 1e6 * with_audit.b_cpu_seconds / decided,
              1e6 * (with_audit.b_cpu_seconds - with_audit.a_cpu_seconds) / decided);

  // Low load: one client, one contact per call, one call at a time.
  lawful::v1::DecideRequest decide;
  *decide.mutable_outreach() = NewsletterByEmail();
  *decide.mutable_contact() = batch.contacts(0);
  auto stub = lawful::v1::Lawful::NewStub(real.channel(0));
  const int decide_calls = absl::GetFlag(FLAGS_decide_calls);
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(decide_calls));
  for (int i = 0; i < decide_calls + 100; ++i) {
    grpc::ClientContext context;
    lawful::v1::DecideResponse response;
    const auto start = std::chrono::steady_clock::now();
    const grpc::Status status = stub->Decide(&context, decide, &response);
    const auto end = std::chrono::steady_clock::now();
    if (!status.ok()) {
      std::fprintf(stderr, "Decide failed: %s\n", status.error_message().c_str());
      return 1;
    }
    // The first 100 warm the connection up and are not counted.
    if (i >= 100) micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  std::printf("== lawfuld Decide, one contact a call, %d sequential calls ==\n", decide_calls);
  std::printf("decide_latency_p50: %.0f us\n", micros[micros.size() / 2]);
  std::printf("decide_latency_p99: %.0f us\n", micros[micros.size() * 99 / 100]);
  return 0;
}

}  // namespace
}  // namespace lawful

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lawful::Run();
}
