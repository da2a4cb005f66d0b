#!/usr/bin/env bash
# Installs the Debian 12 packages lawful builds and tests with. Idempotent: when everything is
# present it makes no apt call at all. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git tzdata
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  tao-pegtl-dev libabsl-dev libssl-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev
  nlohmann-json3-dev        # lawful lsp: JSON-RPC
  libz3-dev                 # the invariant prover (prove/)
  python3-grpcio python3-protobuf
  clang libclang-rt-14-dev  # libFuzzer and clang's sanitizers (scripts/fuzz.sh)
  clang-format              # the layout test.sh enforces (.clang-format)
  libpq-dev postgresql      # lawful sql: libpq, and the PostgreSQL 15 server its tests start
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
