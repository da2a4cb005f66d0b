#!/usr/bin/env bash
# The `lawful eval` benchmark: N synthetic contacts (default 1,000,000) as a JSONL file, decided
# in-process (--rules=rules) into a decisions file, Release build, 3 runs; prints each run's
# --timings line and the median rate, with the CPU share of each stage in the median run.
#
#   scripts/bench-eval.sh [BUILD_DIR]        (default build-release; LAWFUL_BENCH_CONTACTS=N)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
count=${LAWFUL_BENCH_CONTACTS:-1000000}
at=2026-03-02T09:00:00Z

scripts/install-deps.sh
scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=Release --target lawful \
  --target lawful_generate_contacts

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bench/lawful_generate_contacts" --count="$count" --seed=1 --at="$at" >"$work/contacts.jsonl"
size=$(du -m "$work/contacts.jsonl" | cut -f1)
echo "bench-eval: $count contacts, $size MB of JSONL, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

for run in 1 2 3; do
  "$build/cli/lawful" eval --rules=rules --purpose=newsletter --channel=email --at="$at" \
    --timings "$work/contacts.jsonl" >"$work/decisions.jsonl" 2>"$work/run$run.err"
  lines=$(wc -l <"$work/decisions.jsonl")
  if [ "$lines" -ne "$count" ]; then
    echo "bench-eval: run $run wrote $lines decisions for $count contacts" >&2
    cat "$work/run$run.err" >&2
    exit 1
  fi
  grep -o 'timings: .*' "$work/run$run.err" | sed "s/^/run $run: /"
done

# The run with the median rate ("NNN contacts/s").
median=$(for run in 1 2 3; do
  echo "$(grep -o '[0-9]* contacts/s' "$work/run$run.err" | cut -d' ' -f1) $run"
done | sort -n | sed -n 2p)
echo "bench-eval: median of 3: ${median%% *} contacts/s (run ${median##* })"
