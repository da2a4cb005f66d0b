// The prover on the shipped rules: the whole proof of rules/invariants.lawful (every invariant
// and the search for unreachable rules), as `lawful prove rules` runs it, at K = 1, 3 and 5.
#include <string>

#include "benchmark/benchmark.h"
#include "lawful/prove.h"

namespace {

void BM_ProveShippedRules(benchmark::State& state) {
  lawful::prove::Options options;
  options.max_records = static_cast<int>(state.range(0));
  for (auto _ : state) {
    absl::StatusOr<lawful::prove::Report> report =
        lawful::prove::ProveDirectory(std::string(LAWFUL_SOURCE_DIR) + "/rules", options);
    if (!report.ok() || report->exit_code() != 0) {
      state.SkipWithError("the shipped invariants are not all proven");
      return;
    }
  }
}
BENCHMARK(BM_ProveShippedRules)->Arg(1)->Arg(3)->Arg(5)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
