#!/usr/bin/env bash
# The main job: install what is missing, build, and serve the shipped rules on 127.0.0.1:50051.
# Extra arguments go to lawfuld (e.g. --listen=0.0.0.0:50051).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
exec build/server/lawfuld --rules=rules --listen=127.0.0.1:50051 "$@"
