// lawful's engine benchmarks. Every target is a ratio between two measurements taken in the same
// run, so a noisy shared machine moves both sides alike. The run ends with one summary line per
// target, e.g. `vm_vs_native: 1.9x`. See bench/README.md.
//
//   build-release/bench/lawful_bench                        all benchmarks + summary
//   build-release/bench/lawful_bench --stream_contacts=5000000   peak RSS of a 5M-contact stream
#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::kBenchInstant;

constexpr size_t kCampaign = 10000;

// Everything the benchmarks share, built once before any timing.
struct Fixture {
  std::shared_ptr<const RuleSet> rules;
  PreparedOutreach outreach;  // the bare VM: no facts digest, as the hand-written C++ has none
  PreparedOutreach served;    // as lawfuld decides: every decision with its facts digest
  std::vector<lawful::v1::Contact> contacts;
  std::vector<std::string> bytes;
  std::vector<std::string_view> views;
  std::vector<ContactFacts> facts;
  std::string batch_request;  // serialized DecideBatchRequest of the campaign
};

Fixture& Shared() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load rules: %s\n",
                   std::string(loaded.status().message()).c_str());
      std::exit(2);
    }
    fx->rules = loaded->rule_set;
    Outreach outreach{"product_offer", lawful::v1::CHANNEL_EMAIL, {}, At(kBenchInstant)};
    fx->served = *fx->rules->Prepare(outreach);
    outreach.facts_digest = false;
    fx->outreach = *fx->rules->Prepare(outreach);
    fx->contacts = synth::Generate(1, kCampaign, At(kBenchInstant));
    lawful::v1::DecideBatchRequest request;
    request.mutable_outreach()->set_purpose("product_offer");
    request.mutable_outreach()->set_channel(lawful::v1::CHANNEL_EMAIL);
    for (const auto& c : fx->contacts) {
      fx->bytes.push_back(c.SerializeAsString());
      *request.add_contacts() = c;
    }
    fx->views.assign(fx->bytes.begin(), fx->bytes.end());
    fx->batch_request = request.SerializeAsString();
    fx->facts.resize(kCampaign);
    for (size_t i = 0; i < kCampaign; ++i) {
      Decision error;
      fx->rules->Decode(fx->views[i], fx->facts[i], error);
    }
    // The comparison is only meaningful if both sides decide alike.
    Evaluator evaluator;
    for (size_t i = 0; i < kCampaign; ++i) {
      Decision vm = evaluator.Evaluate(fx->outreach, fx->facts[i]);
      synth::ReferenceDecision by_hand = synth::DecideByHand(
          fx->contacts[i], "product_offer", lawful::v1::CHANNEL_EMAIL, {}, At(kBenchInstant));
      if (vm.rule == nullptr || vm.rule->reason != by_hand.reason) {
        std::fprintf(stderr,
                     "VM and hand-written C++ disagree on contact %zu; refusing to time them\n", i);
        std::exit(2);
      }
    }
    return fx;
  }();
  return *f;
}

// 1. The shipped marketing policy on pre-loaded contacts: VM vs hand-written C++.
void BM_Native(benchmark::State& state) {
  Fixture& f = Shared();
  const synth::HandWrittenPolicy policy("product_offer", lawful::v1::CHANNEL_EMAIL, {},
                                        At(kBenchInstant));
  for (auto _ : state) {
    for (const auto& c : f.contacts) benchmark::DoNotOptimize(policy.Decide(c));
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_Native)->Unit(benchmark::kMillisecond);

void BM_Vm(benchmark::State& state) {
  Fixture& f = Shared();
  Evaluator evaluator;
  for (auto _ : state) {
    for (const ContactFacts& facts : f.facts)
      benchmark::DoNotOptimize(evaluator.Evaluate(f.outreach, facts));
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_Vm)->Unit(benchmark::kMillisecond);

// What the facts digest (a SHA-256 over the facts the rules read) adds to each decision.
void BM_VmWithDigest(benchmark::State& state) {
  Fixture& f = Shared();
  Evaluator evaluator;
  for (auto _ : state) {
    for (const ContactFacts& facts : f.facts)
      benchmark::DoNotOptimize(evaluator.Evaluate(f.served, facts));
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_VmWithDigest)->Unit(benchmark::kMillisecond);

// 2. Bytes to decisions, single-threaded: the floor is protobuf's parse of the batch request plus
// the hand-written evaluation; lawful splits the request and decodes each contact straight into
// the VM's slots.
void BM_BytesFloor(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    lawful::v1::DecideBatchRequest request;
    request.ParseFromString(f.batch_request);
    const synth::HandWrittenPolicy policy("product_offer", lawful::v1::CHANNEL_EMAIL, {},
                                          At(kBenchInstant));
    for (const auto& c : request.contacts()) benchmark::DoNotOptimize(policy.Decide(c));
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_BytesFloor)->Unit(benchmark::kMillisecond);

void BM_BytesVm(benchmark::State& state) {
  Fixture& f = Shared();
  Evaluator evaluator;
  decide::Request request;
  std::string_view id;
  for (auto _ : state) {
    if (!decide::ReadBatchRequest(f.batch_request, &request).ok())
      state.SkipWithError("malformed request");
    for (std::string_view c : request.contacts) {
      benchmark::DoNotOptimize(decide::DecideContact(evaluator, f.served, c, &id));
    }
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_BytesVm)->Unit(benchmark::kMillisecond);

void BM_BytesVmAllCores(benchmark::State& state) {
  Fixture& f = Shared();
  static BatchEvaluator* pool = new BatchEvaluator();
  decide::Request request;
  std::vector<Decision> out;
  for (auto _ : state) {
    if (!decide::ReadBatchRequest(f.batch_request, &request).ok())
      state.SkipWithError("malformed request");
    decide::DecideContacts(*pool, f.served, request.contacts, out);
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_BytesVmAllCores)->Unit(benchmark::kMillisecond)->UseRealTime();

// 3a. Cost per contact against the number of rules: N-1 rules that never match a generated
// contact (each reads a fact), then the default.
std::shared_ptr<const RuleSet> GeneratedRules(int rules) {
  std::string text = "purpose newsletter\npolicy p for purposes newsletter {\n";
  for (int i = 1; i < rules; ++i) {
    absl::StrAppendFormat(&text,
                          "  deny r%d when contact.last_activity_at == 1990-01-01T00:00:%02dZ + %d "
                          "days\n    cite \"X\"\n",
                          i, i % 60, i);
  }
  text += "  otherwise deny d\n    cite \"Y\"\n}\n";
  dsl::CompileResult compiled = dsl::Compile({{"generated.lawful", text}});
  if (!compiled.ok()) std::exit(2);
  return *RuleSet::Create(std::move(*compiled.program), "generated");
}

void BM_Rules(benchmark::State& state) {
  Fixture& f = Shared();
  auto rules = GeneratedRules(static_cast<int>(state.range(0)));
  PreparedOutreach outreach =
      *rules->Prepare(Outreach{"newsletter", lawful::v1::CHANNEL_EMAIL, {}, At(kBenchInstant)});
  Evaluator evaluator;
  for (auto _ : state) {
    for (std::string_view c : f.views) benchmark::DoNotOptimize(evaluator.Decide(outreach, c));
  }
  state.SetItemsProcessed(state.iterations() * kCampaign);
}
BENCHMARK(BM_Rules)->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// 3b. Per-request overhead: prepare the outreach (policy choice, cut-offs) and run the batch path.
void BM_BatchSize(benchmark::State& state) {
  Fixture& f = Shared();
  static BatchEvaluator* pool = new BatchEvaluator();
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<std::string_view> batch(f.views.begin(), f.views.begin() + size);
  std::vector<Decision> out;
  for (auto _ : state) {
    auto outreach = f.rules->Prepare(
        Outreach{"product_offer", lawful::v1::CHANNEL_EMAIL, {}, At(kBenchInstant)});
    pool->Decide(*outreach, batch, out);
  }
  state.SetItemsProcessed(state.iterations() * size);
}
BENCHMARK(BM_BatchSize)->Arg(1)->Arg(100)->Arg(10000)->UseRealTime();

// Keeps the median of each benchmark's repetitions, in ns per contact.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Aggregate || run.aggregate_name != "median") continue;
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end() && it->second.value > 0)
        ns_per_contact[run.run_name.str()] = 1e9 / it->second.value;
    }
  }
  std::map<std::string, double> ns_per_contact;
};

// The median over rounds of time(a) / time(b), each round timing both back to back (in
// alternating order): on a shared machine whose speed drifts from second to second, pairing is
// what keeps the ratio honest.
template <typename A, typename B>
double PairedRatio(A a, B b, int rounds = 31) {
  std::vector<double> ratios;
  auto time = [](auto& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (int r = 0; r < rounds; ++r) {
    double ta, tb;
    if (r % 2 == 0) {
      ta = time(a);
      tb = time(b);
    } else {
      tb = time(b);
      ta = time(a);
    }
    ratios.push_back(ta / tb);
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

void PrintPairedRatios() {
  Fixture& f = Shared();
  Evaluator evaluator;
  const synth::HandWrittenPolicy policy("product_offer", lawful::v1::CHANNEL_EMAIL, {},
                                        At(kBenchInstant));
  auto vm = [&] {
    for (const ContactFacts& facts : f.facts)
      benchmark::DoNotOptimize(evaluator.Evaluate(f.outreach, facts));
  };
  auto native = [&] {
    for (const auto& c : f.contacts) benchmark::DoNotOptimize(policy.Decide(c));
  };
  decide::Request batch;
  std::string_view id;
  auto bytes_vm = [&] {
    if (!decide::ReadBatchRequest(f.batch_request, &batch).ok()) std::exit(2);
    for (std::string_view c : batch.contacts) {
      benchmark::DoNotOptimize(decide::DecideContact(evaluator, f.served, c, &id));
    }
  };
  auto vm_with_digest = [&] {
    for (const ContactFacts& facts : f.facts)
      benchmark::DoNotOptimize(evaluator.Evaluate(f.served, facts));
  };
  auto bytes_floor = [&] {
    lawful::v1::DecideBatchRequest request;
    request.ParseFromString(f.batch_request);
    for (const auto& c : request.contacts()) benchmark::DoNotOptimize(policy.Decide(c));
  };
  std::printf(
      "\n== paired ratios (median of 31 back-to-back rounds over the 10,000-contact campaign) "
      "==\n");
  std::printf("vm_vs_native: %.2fx (target <= 2.5x)\n", PairedRatio(vm, native));
  std::printf(
      "bytes_to_decisions_vs_floor: %.2fx (target <= 1.2x; lawful's side includes the facts "
      "digest)\n",
      PairedRatio(bytes_vm, bytes_floor));
  std::printf("facts_digest_cost: %.2fx the bare VM (report)\n", PairedRatio(vm_with_digest, vm));
}

double PeakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

// 4. A campaign of `count` generated contacts streamed through the batch path in chunks of
// 10,000: memory stays bounded by the chunk, not the campaign.
int StreamMemory(size_t count) {
  auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  if (!loaded.ok()) return 2;
  auto outreach = loaded->rule_set->Prepare(
      Outreach{"newsletter", lawful::v1::CHANNEL_EMAIL, {}, At(kBenchInstant)});
  BatchEvaluator pool;
  synth::ContactGenerator generator(11, At(kBenchInstant));
  lawful::v1::Contact contact;
  std::vector<std::string> chunk(10000);
  std::vector<std::string_view> views(chunk.size());
  std::vector<Decision> out;
  std::map<std::string, uint64_t> reasons;
  const absl::Time start = absl::Now();
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(chunk.size(), count - done);
    for (size_t i = 0; i < n; ++i) {
      generator.Next(contact);
      chunk[i].clear();
      contact.AppendToString(&chunk[i]);
      views[i] = chunk[i];
    }
    views.resize(n);
    pool.Decide(*outreach, views, out);
    for (const Decision& d : out) ++reasons[d.rule ? d.rule->reason : "error"];
    done += n;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("streamed %zu contacts in %.1f s (%.0f contacts/s including generation)\n", count,
              seconds, count / seconds);
  std::printf("stream_peak_rss: %.1f MB (target <= 150 MB)\n", PeakRssMb());
  return 0;
}

}  // namespace
}  // namespace lawful

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--stream_contacts=", 0) == 0)
      return lawful::StreamMemory(std::stoull(arg.substr(18)));
  }
  std::vector<char*> args(argv, argv + argc);
  std::string repetitions = "--benchmark_repetitions=3";
  std::string aggregates = "--benchmark_report_aggregates_only=true";
  args.push_back(repetitions.data());
  args.push_back(aggregates.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  lawful::Shared();  // build and cross-check the fixture before any timing
  lawful::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& t = reporter.ns_per_contact;
  auto ratio = [&](const char* name, const std::string& a, const std::string& b,
                   const char* target) {
    if (t.count(a) && t.count(b)) std::printf("%s: %.2fx (%s)\n", name, t[a] / t[b], target);
  };
  std::printf("\n== summary (medians of 3 Google Benchmark repetitions, ns per contact) ==\n");
  for (const auto& [name, ns] : t) std::printf("%-40s %10.1f ns/contact\n", name.c_str(), ns);
  ratio("vm_vs_native", "BM_Vm", "BM_Native", "target <= 2.5x");
  ratio("bytes_to_decisions_vs_floor", "BM_BytesVm", "BM_BytesFloor", "target <= 1.2x");
  ratio("batch_all_cores_speedup", "BM_BytesVm", "BM_BytesVmAllCores/real_time", "report");
  ratio("rules_1000_vs_100", "BM_Rules/1000", "BM_Rules/100", "target <= 12x");
  ratio("batch_10000_vs_100", "BM_BatchSize/10000/real_time", "BM_BatchSize/100/real_time",
        "target <= 1.2x");
  if (t.count("BM_BatchSize/1/real_time")) {
    std::printf("batch_1_per_request: %.0f ns (per-request overhead)\n",
                t["BM_BatchSize/1/real_time"]);
  }
  lawful::PrintPairedRatios();
  benchmark::Shutdown();
  return 0;
}
