#!/usr/bin/env bash
# The whole test suite, every configuration CI checks: installs what is missing, then builds and
# runs ctest in the default build and in the ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

echo "== build (RelWithDebInfo) =="
scripts/build.sh build
(cd build && ctest --output-on-failure -j "$jobs")

echo "== build (ASan+UBSan) =="
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DLAWFUL_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs")
