#!/usr/bin/env bash
# Configures and builds one configuration: scripts/build.sh BUILD_DIR [cmake args...] [--target T]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
cmake_args=()
build_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--target" ]; then build_args+=(--target "$2"); shift 2; else cmake_args+=("$1"); shift; fi
done
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${gen[@]}" "${cmake_args[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" "${build_args[@]}"
