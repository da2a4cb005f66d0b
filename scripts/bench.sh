#!/usr/bin/env bash
# The engine benchmarks, in a Release build: every ratio target and the streaming-memory figure.
# Extra arguments go to lawful_bench (e.g. --benchmark_filter=BM_Vm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release
build-release/bench/lawful_bench "$@"
build-release/bench/lawful_bench --stream_contacts=5000000
