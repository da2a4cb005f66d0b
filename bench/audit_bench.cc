// The audit log's cost per DecideBatch call: appending a batch of 10,000 decision records with
// one write() and one fdatasync(), on the disk that holds the temporary directory (TMPDIR), and
// the same without the disk (formatting and HMACs only). Meaningful in a Release build.
#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lawful/audit.h"

namespace lawful::audit {
namespace {

// Decisions shaped like the shipped rules' (an allow on a consent, with evidence and a digest).
struct Decisions {
  explicit Decisions(int size) {
    for (int i = 0; i < size; ++i) ids.push_back(absl::StrCat("c-", 1000000 + i));
    for (int i = 0; i < size; ++i) {
      DecisionRecord d;
      d.contact_id = ids[i];
      d.index = i;
      d.outcome = "allow";
      d.reason = "consent";
      d.rule_policy = "marketing";
      d.rule = "consent";
      d.evidence_field = "consents";
      d.evidence_index = 0;
      d.evidence_id = "k-1";
      d.facts = "9b74c9897bac770ffc029102a200c5de3f2a9c0b1d4e5f60718293a4b5c6d7e8";
      records.push_back(d);
    }
  }
  std::vector<std::string> ids;
  std::vector<DecisionRecord> records;
};

Request BenchRequest() {
  Request request;
  request.time = absl::Now();
  request.caller = "CN=crm.example.com";
  request.request_id = "batch-7";
  request.rule_set = "e0fd353695f7c1b2e0fd353695f7c1b2e0fd353695f7c1b2e0fd353695f7c1b2";
  request.purpose = "product_offer";
  request.channel = "email";
  request.at = absl::FromUnixSeconds(1788211800);
  return request;
}

// One DecideBatch's records through a session, appended on this thread: Begin, Append, Commit.
absl::Status CommitBatch(Log& log, const Request& request,
                         const std::vector<DecisionRecord>& records) {
  Log::Session session = log.Begin(request, records.size());
  session.Append(0, records.size(), [&](size_t i, DecisionRecord* out) { *out = records[i]; });
  return session.Commit();
}

Key BenchKey() {
  return *Key::FromKeyFile("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                           "bench.key");
}

// Appends and syncs nothing: what the CPU spends per batch.
class NullFileSystem : public FileSystem {
  class NullFile : public AppendFile {
   public:
    absl::Status Append(absl::string_view) override { return absl::OkStatus(); }
    absl::Status Sync() override { return absl::OkStatus(); }
    absl::Status Truncate(uint64_t) override { return absl::OkStatus(); }
  };

 public:
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    return absl::NotFoundError(path);
  }
  absl::StatusOr<std::unique_ptr<AppendFile>> OpenForAppend(const std::string&) override {
    return std::make_unique<NullFile>();
  }
  absl::Status Rename(const std::string&, const std::string&) override { return absl::OkStatus(); }
  absl::Status Remove(const std::string&) override { return absl::OkStatus(); }
  absl::Status SyncDir(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<std::string>> List(const std::string&) override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<absl::Time> ModTime(const std::string&) override { return absl::Now(); }
};

void RunAppend(benchmark::State& state, FileSystem* file_system) {
  const int size = static_cast<int>(state.range(0));
  std::string dir = (std::filesystem::temp_directory_path() / "lawful-audit-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp");
    return;
  }
  Options options;
  options.path = dir + "/audit.jsonl";
  options.key = BenchKey();
  options.max_file_bytes = 256 << 20;
  options.retention = absl::ZeroDuration();  // rotated files go at once: the disk stays small
  options.file_system = file_system;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  const Decisions decisions(size);
  const Request request = BenchRequest();
  for (auto _ : state) {
    const absl::Status status = CommitBatch(**log, request, decisions.records);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * size);
  log->reset();
  std::filesystem::remove_all(dir);
}

// One DecideBatch's records to disk: format, HMAC, write(), fdatasync().
void BM_AuditAppend(benchmark::State& state) { RunAppend(state, nullptr); }
BENCHMARK(BM_AuditAppend)
    ->Arg(10000)
    ->Arg(1000)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Two callers appending at once (as two concurrent DecideBatch calls do): one formats and writes
// while the other's fdatasync runs. Items per second are both threads' together.
void BM_AuditAppendConcurrent(benchmark::State& state) {
  static std::once_flag once;
  static Log* log = nullptr;
  static std::string dir;
  std::call_once(once, [] {
    dir = (std::filesystem::temp_directory_path() / "lawful-audit-bench-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) return;
    Options options;
    options.path = dir + "/audit.jsonl";
    options.key = BenchKey();
    options.max_file_bytes = 256 << 20;
    options.retention = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<Log>> opened = Log::Open(options);
    if (opened.ok()) log = opened->release();  // shared by the threads; never closed
  });
  if (log == nullptr) return state.SkipWithError("cannot open the log");
  const Decisions decisions(static_cast<int>(state.range(0)));
  const Request request = BenchRequest();
  for (auto _ : state) {
    if (!CommitBatch(*log, request, decisions.records).ok()) return state.SkipWithError("append");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AuditAppendConcurrent)
    ->Arg(10000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The same without a disk: formatting and the two HMACs per record.
void BM_AuditFormat(benchmark::State& state) {
  NullFileSystem null;
  RunAppend(state, &null);
}
BENCHMARK(BM_AuditFormat)->Arg(10000)->UseRealTime()->Unit(benchmark::kMillisecond);

// Verifying what was written: one HMAC per line, read back from the page cache.
void BM_AuditVerify(benchmark::State& state) {
  std::string dir = (std::filesystem::temp_directory_path() / "lawful-audit-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return state.SkipWithError("mkdtemp");
  Options options;
  options.path = dir + "/audit.jsonl";
  options.key = BenchKey();
  {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options);
    const Decisions decisions(10000);
    for (int i = 0; i < 10; ++i)
      CommitBatch(**log, BenchRequest(), decisions.records).IgnoreError();
  }
  for (auto _ : state) {
    absl::StatusOr<VerifyReport> report = Verify(options.key, {options.path});
    if (!report.ok() || !report->ok()) return state.SkipWithError("verify failed");
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AuditVerify)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lawful::audit

BENCHMARK_MAIN();
