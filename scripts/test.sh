#!/usr/bin/env bash
# The whole test suite, every configuration CI checks: installs what is missing, then builds and
# runs ctest in the default build, the engine's concurrent tests under ThreadSanitizer, ctest in
# the ASan+UBSan build, and a short run of each fuzz target (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

echo "== format (.clang-format, every C++ file in git) =="
if ! git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror; then
  echo "test.sh: files above are not in the project's layout; run: git ls-files '*.cc' '*.h' | xargs clang-format -i" >&2
  exit 1
fi

echo "== build (RelWithDebInfo) =="
scripts/build.sh build
(cd build && ctest --output-on-failure -j "$jobs")

echo "== build (ThreadSanitizer: the engine's worker pool and batch path, the rule-set swap, the audit log's writers; no gRPC) =="
scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAWFUL_TSAN=ON -DLAWFUL_BUILD_BENCH=OFF \
  --target lawful_unit_tests --target audit_test --target rule_set_store_test
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  build-tsan/tests/lawful_unit_tests --gtest_filter='Batch*:Equivalence.Shipped*' --gtest_brief=1
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/rule_set_store_test --gtest_brief=1
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  build-tsan/tests/audit_test --gtest_filter='AuditLog.Concurrent*:AuditLog.AFailed*:AuditLog.ABatchFormatted*' --gtest_brief=1

echo "== build (ASan+UBSan) =="
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DLAWFUL_SANITIZE=ON
# Suites labelled `heavy` (real databases, solvers, browsers, editors' clients, fleets) run once,
# in the default build above; each is bounded by its ctest TIMEOUT.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs" -LE heavy)

echo "== fuzz (libFuzzer, clang ASan+UBSan: rules, program, request, lsp, 60 s each from the seeds) =="
scripts/fuzz.sh --fresh 60
