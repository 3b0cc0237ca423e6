#!/usr/bin/env bash
# run.sh — the hostile-client suite (tests/integration/hostile.test.mjs) at
# script scale: 10k idle connections instead of CI's 2000, against a build
# of your choice. Not run by ctest (ctest runs the 2000 version).
#
#   tests/hostile/run.sh                       # build/moongate, 10000 idle
#   IDLE=20000 MOONGATE_BIN=build-asan/moongate tests/hostile/run.sh
#
# Needs an open-file hard limit above IDLE + 300 (ulimit -Hn); the suite
# raises the soft limit itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export MOONGATE_BIN=${MOONGATE_BIN:-$ROOT/build/moongate}
export MOONGATE_HOME=${MOONGATE_HOME:-$ROOT}
export MG_HOSTILE_IDLE=${IDLE:-10000}
[[ -x $MOONGATE_BIN ]] || { echo "hostile: no gateway binary at $MOONGATE_BIN (build first)" >&2; exit 1; }
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -Hn) < MG_HOSTILE_IDLE + 300 )); then
    echo "hostile: open-file hard limit $(ulimit -Hn) is below $((MG_HOSTILE_IDLE + 300)); the suite will hold fewer" >&2
fi
cd "$ROOT"
exec node --test --test-reporter=spec tests/integration/hostile.test.mjs
