#!/usr/bin/env bash
# The benchmarks, in a Release build: every engine ratio target, the streaming-memory figure,
# lawfuld's end-to-end figures and `lawful eval`'s rate.
# Extra arguments go to lawful_bench (e.g. --benchmark_filter=BM_Vm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release
build-release/bench/lawful_bench "$@"
build-release/bench/lawful_bench --stream_contacts=5000000
# lawfuld end to end (starts and stops its own servers): raw DecideBatch vs --parse_only, Decide latency.
build-release/bench/lawful_server_bench
# lawful eval end to end: 1,000,000 generated contacts, JSONL file to decisions file, median of 3.
scripts/bench-eval.sh build-release
