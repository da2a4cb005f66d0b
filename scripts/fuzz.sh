#!/usr/bin/env bash
# Fuzzes lawful with libFuzzer: scripts/fuzz.sh [--fresh] [SECONDS] [TARGET...]
#
# Builds the fuzz targets (fuzz/: rules, program, request, lsp) with clang, ASan and UBSan in
# build-fuzz, writes the seed corpora (rules/, rules/fixtures, examples/, synthetic contacts) into
# build-fuzz/seeds, and runs each target for SECONDS (default 60). What a target learns is kept in
# build-fuzz/corpus/TARGET for the next run (--fresh starts again from the seeds, as CI does). A
# crash, a hang or a broken promise fails the script; the input is in build-fuzz/artifacts/TARGET/
# and the log in build-fuzz/artifacts/TARGET/last-run.log. Reproduce with
#   build-fuzz/fuzz/TARGET_fuzzer build-fuzz/artifacts/TARGET/crash-...
# and keep the input as a regression: copy it to tests/regressions/TARGET/ (ctest replays it).
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=0
if [ "${1:-}" = "--fresh" ]; then fresh=1; shift; fi
seconds=${1:-60}
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(rules program request lsp); fi

scripts/install-deps.sh
dir=build-fuzz
if [ ! -f "$dir/CMakeCache.txt" ]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  # -O1 with assertions (no NDEBUG): the usual trade for fuzzing between speed and checks.
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DLAWFUL_FUZZ=ON -DLAWFUL_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" --target lawful_fuzz_seeds "${targets[@]/%/_fuzzer}"
"$dir/fuzz/lawful_fuzz_seeds" . "$dir/seeds" >/dev/null

status=0
for t in "${targets[@]}"; do
  corpus=$dir/corpus/$t
  artifacts=$dir/artifacts/$t
  if [ $fresh -eq 1 ]; then rm -rf "$corpus"; fi
  mkdir -p "$corpus" "$artifacts"
  inputs=("$corpus" "$dir/seeds/$t")
  if [ -d "tests/regressions/$t" ]; then inputs+=("tests/regressions/$t"); fi
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
           -artifact_prefix="$artifacts/")
  if [ -f "fuzz/$t.dict" ]; then options+=(-dict="fuzz/$t.dict"); fi
  echo "== fuzz: $t for ${seconds}s =="
  log=$artifacts/last-run.log
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       "$dir/fuzz/${t}_fuzzer" "${options[@]}" "${inputs[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $t: ${runs:-?} inputs, ${rate:-?} per second, no problem found"
  else
    status=1
    echo "fuzz: $t FOUND A PROBLEM (log: $log):"
    grep -E 'ERROR|broken promise|runtime error|SUMMARY|Test unit written|^    #[0-9]+ ' "$log" | head -n 40 || true
  fi
done
exit $status
