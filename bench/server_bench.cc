// lawfuld end to end, the work measured as server CPU where it can be:
// - DecideBatch against the floor of merely parsing the request (server_batch_vs_parse_only);
// - DecideBatch of 1,000 contacts a call: server CPU a decision, with the audit log off and on
//   (every record written and fdatasync'ed before the answer), in the same run;
// - Decide of one contact against the standard health check, sequential: server CPU a call and
//   p50 latency of each.
// Starts its own three servers on free loopback ports (normal, --parse_only, --audit_log in the
// build tree's disk) and stops them at exit. With two cores or more the servers run on the last
// core and the client on the others (taskset), so the client's work never shows in the server's
// figures. See bench/README.md; meaningful only in a Release build.
//
//   build-release/bench/lawful_server_bench [--rounds=15] [--calls_per_thread=2]
#include <sched.h>
#include <signal.h>
#include <unistd.h>

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
ABSL_FLAG(int32_t, small_batches, 400,
          "DecideBatch calls of 1,000 contacts per server for the CPU-a-decision figures.");
ABSL_FLAG(bool, pin, true,
          "Run the servers on the last core and the client on the others (taskset), when there "
          "are two cores or more.");

namespace lawful {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::kBenchInstant;

constexpr size_t kBatchContacts = 10000;
constexpr size_t kSmallBatchContacts = 1000;
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
  Server(const std::vector<std::string>& extra_flags, const std::string& server_cpu) {
    std::vector<std::string> argv;
    if (!server_cpu.empty()) argv = {"/usr/bin/taskset", "-c", server_cpu};  // execs lawfuld
    for (const char* arg : {LAWFULD_PATH, "--listen=127.0.0.1:0",
                            "--rules=" LAWFUL_SOURCE_DIR "/rules", "--watch_interval=0"}) {
      argv.emplace_back(arg);
    }
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

// One unary call, sent as pre-serialized bytes (the client's own cost is the same on every side).
bool Call(grpc::GenericStub& stub, const char* method, const grpc::ByteBuffer& request) {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) std::fprintf(stderr, "%s failed: %s\n", method, status.error_message().c_str());
  return status.ok();
}

grpc::ByteBuffer Bytes(const google::protobuf::Message& message) {
  const std::string serialized = message.SerializeAsString();
  grpc::Slice slice(serialized);
  return grpc::ByteBuffer(&slice, 1);
}

// Seconds for kClientThreads threads each sending `calls` batches to `server` at once.
double TimeRound(const Server& server, const grpc::ByteBuffer& request, int calls, bool* ok) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::vector<char> thread_ok(kClientThreads, 1);
  for (int t = 0; t < kClientThreads; ++t) {
    threads.emplace_back([&, t] {
      grpc::GenericStub stub(server.channel(t));
      for (int c = 0; c < calls; ++c) thread_ok[t] &= Call(stub, kMethod, request) ? 1 : 0;
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
};
Paired Compare(const Server& a, const Server& b, const grpc::ByteBuffer& request, int rounds,
               int calls, bool* ok) {
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
  return Paired{Median(ratios), Median(a_seconds), Median(b_seconds)};
}

// Which cores the servers run on ("" = anywhere); pins this process's client threads to the
// others. Called before any thread or channel exists, so every later thread inherits the mask.
std::string PinClientAndPickServerCore() {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (!absl::GetFlag(FLAGS_pin) || cores < 2) return "";
  cpu_set_t client;
  CPU_ZERO(&client);
  for (long c = 0; c + 1 < cores; ++c) CPU_SET(static_cast<int>(c), &client);
  if (sched_setaffinity(0, sizeof client, &client) != 0) return "";
  return std::to_string(cores - 1);
}

// Server CPU a decision for DecideBatch calls of kSmallBatchContacts, audit log off and on: the
// two servers take turns in blocks, so drift on the machine hits both alike.
void SmallBatches(const Server& off, const Server& on, const lawful::v1::DecideBatchRequest& batch,
                  bool* ok) {
  lawful::v1::DecideBatchRequest small;
  *small.mutable_outreach() = batch.outreach();
  for (size_t i = 0; i < kSmallBatchContacts; ++i) *small.add_contacts() = batch.contacts(i);
  const grpc::ByteBuffer request = Bytes(small);
  const int calls = std::max(absl::GetFlag(FLAGS_small_batches), 20);
  constexpr int kBlock = 10;  // calls per thread per turn
  double cpu[2] = {0, 0};
  const Server* servers[2] = {&off, &on};
  for (const Server* server : servers) TimeRound(*server, request, 5, ok);  // warm-up
  for (int done = 0; done < calls && *ok; done += kBlock * kClientThreads) {
    for (int s = 0; s < 2; ++s) {
      const Server& server = *servers[(done / (kBlock * kClientThreads) + s) % 2];
      const double before = server.CpuSeconds();
      TimeRound(server, request, kBlock, ok);
      cpu[&server == &on] += server.CpuSeconds() - before;
    }
  }
  const int made =
      (calls + kBlock * kClientThreads - 1) / (kBlock * kClientThreads) * kBlock * kClientThreads;
  const double decisions = static_cast<double>(made) * kSmallBatchContacts;
  std::printf(
      "== lawfuld DecideBatch, %zu contacts a call, %d calls a server, %d client threads ==\n",
      kSmallBatchContacts, made, kClientThreads);
  std::printf("server_cpu_per_decision: %.2f us (target <= 1.2 us)\n", 1e6 * cpu[0] / decisions);
  std::printf("server_cpu_per_decision_audit_on: %.2f us\n", 1e6 * cpu[1] / decisions);
  std::printf("audit_log_cpu_per_decision: %.2f us (target <= 0.5 us)\n",
              1e6 * (cpu[1] - cpu[0]) / decisions);
}

// Decide of one contact against the standard health check on the same server, one call at a
// time, in alternating blocks: server CPU a call and p50 latency of each.
void DecideAgainstHealth(const Server& server, const lawful::v1::DecideBatchRequest& batch,
                         bool* ok) {
  lawful::v1::DecideRequest decide;
  *decide.mutable_outreach() = batch.outreach();
  *decide.mutable_contact() = batch.contacts(0);
  const grpc::ByteBuffer decide_bytes = Bytes(decide);
  grpc::Slice empty;  // HealthCheckRequest{service: ""} is zero bytes
  const grpc::ByteBuffer health_bytes(&empty, 1);
  grpc::GenericStub stub(server.channel(0));
  struct Side {
    const char* method;
    const grpc::ByteBuffer* request;
    std::vector<double> micros;
    double cpu = 0;
  } sides[2] = {{"/lawful.v1.Lawful/Decide", &decide_bytes, {}, 0},
                {"/grpc.health.v1.Health/Check", &health_bytes, {}, 0}};
  const int calls = absl::GetFlag(FLAGS_decide_calls);
  constexpr int kBlock = 100;
  for (Side& side : sides) {  // warm-up
    for (int i = 0; i < kBlock; ++i) *ok &= Call(stub, side.method, *side.request);
  }
  for (int done = 0; done < calls && *ok; done += kBlock) {
    for (int s = 0; s < 2; ++s) {
      Side& side = sides[(done / kBlock + s) % 2];
      const double before = server.CpuSeconds();
      for (int i = 0; i < kBlock; ++i) {
        const auto start = std::chrono::steady_clock::now();
        *ok &= Call(stub, side.method, *side.request);
        side.micros.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
      }
      side.cpu += server.CpuSeconds() - before;
    }
  }
  if (!*ok) return;
  const double n = static_cast<double>(sides[0].micros.size());
  const double decide_cpu = 1e6 * sides[0].cpu / n, health_cpu = 1e6 * sides[1].cpu / n;
  const double decide_p50 = Median(sides[0].micros), health_p50 = Median(sides[1].micros);
  std::sort(sides[0].micros.begin(), sides[0].micros.end());
  std::printf(
      "== lawfuld Decide (one contact) against the health check, %.0f sequential calls "
      "each ==\n",
      n);
  std::printf(
      "decide_server_cpu_per_call: %.1f us; health check: %.1f us; difference %.1f us "
      "(target <= 10 us)\n",
      decide_cpu, health_cpu, decide_cpu - health_cpu);
  std::printf("decide_latency_p50: %.0f us; health check: %.0f us; ratio %.2f (target <= 1.1)\n",
              decide_p50, health_p50, decide_p50 / health_p50);
  std::printf("decide_latency_p99: %.0f us\n", sides[0].micros[sides[0].micros.size() * 99 / 100]);
}

int Run() {
  const std::string server_cpu = PinClientAndPickServerCore();
  Server real({}, server_cpu);
  Server floor({"--parse_only"}, server_cpu);
  // The audit log on this machine's disk (next to the binary, not a tmpfs), with a fresh key.
  const std::string audit_dir = std::string(LAWFULD_PATH) + ".bench-audit";
  std::filesystem::remove_all(audit_dir);
  std::filesystem::create_directories(audit_dir);
  std::ofstream(audit_dir + "/key") << std::string(64, '7') << "\n";
  Server audited(
      {"--audit_log=" + audit_dir + "/audit.log", "--audit_key_file=" + audit_dir + "/key"},
      server_cpu);
  if (!real.ok() || !floor.ok() || !audited.ok()) {
    std::fprintf(stderr, "lawful_server_bench: a lawfuld did not start (%s)\n", LAWFULD_PATH);
    return 1;
  }
  std::printf("servers on core %s, client on the others\n",
              server_cpu.empty() ? "(any: not pinned)" : server_cpu.c_str());

  lawful::v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  for (lawful::v1::Contact& contact : synth::Generate(42, kBatchContacts, At(kBenchInstant))) {
    *batch.add_contacts() = std::move(contact);
  }
  const grpc::ByteBuffer request = Bytes(batch);

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
  if (!ok) return 1;
  const double contacts_per_round = static_cast<double>(kBatchContacts) * kClientThreads * calls;
  std::printf(
      "== lawfuld DecideBatch, %zu contacts a call, %d client threads x %d calls, "
      "median of %d paired rounds ==\n",
      kBatchContacts, kClientThreads, calls, rounds);
  std::printf("server_batch_vs_parse_only: %.0f%% (target >= 100%%)\n", 100 * vs_floor.ratio);
  std::printf("  decide_batch: %.0f contacts/s\n", contacts_per_round / vs_floor.b_seconds);
  std::printf("  parse_only:   %.0f contacts/s\n", contacts_per_round / vs_floor.a_seconds);

  SmallBatches(real, audited, batch, &ok);
  DecideAgainstHealth(real, batch, &ok);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace lawful

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return lawful::Run();
}
