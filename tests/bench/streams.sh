#!/usr/bin/env bash
# streams.sh — how many concurrent streams one gateway worker holds, and
# the memory each costs: N streaming chat completions (default 10000) held
# open at once through `moongate serve` (workers = 1) in front of a slow
# streaming `moongate mock`, everything on 127.0.0.1. The client
# (streams.mjs) opens them in batches, samples the gateway's VmRSS and fd
# count at 0, 1k, 2.5k, 5k and N open, checks every stream is receiving,
# lets them finish and checks each ended with a finish_reason and
# `data: [DONE]`. Not a test: run by hand, read the table. Target (issue 10):
# 10k concurrent streams in under 1 GiB.
#
#   tests/bench/streams.sh                    # STREAMS=10000 BATCH=250 TPS=0.5 HOLD=20
#   STREAMS=1000 tests/bench/streams.sh
#   UPSTREAM=inproc tests/bench/streams.sh    # the mock inside the gateway
#
# UPSTREAM: `http` (the mock as a separate process, so each stream is a
# client socket plus a libcurl transfer and an upstream socket: two fds per
# stream in the gateway), `inproc` (a `format = "mock"` provider: one fd per
# stream, no libcurl), or `auto` (default): http when the open-file hard
# limit allows 2 x STREAMS descriptors, else inproc, said loudly.
# Env: MOONGATE_BIN, STREAMS, BATCH, TPS (mock events per second per
# stream), HOLD (seconds every stream outlives the last opening), BUDGET
# (seconds for the client's whole run, default 600).
# Needs: node (18+), a built build/moongate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MG=${MOONGATE_BIN:-$ROOT/build/moongate}
: "${STREAMS:=10000}" "${BATCH:=250}" "${TPS:=0.5}" "${HOLD:=20}" "${BUDGET:=600}" "${UPSTREAM:=auto}"
die() { echo "streams.sh: $*" >&2; exit 1; }
[[ -x $MG ]] || die "no gateway binary at $MG (build first, or set MOONGATE_BIN)"
command -v node >/dev/null || die "node is not installed"
[[ $STREAMS =~ ^[0-9]+$ && $STREAMS -gt 0 ]] || die "STREAMS must be a positive integer"

# Descriptors: the client holds one per stream, the mock one, the gateway
# one (inproc) or two (http), each plus some for itself. The gateway raises
# its soft limit to the hard one; the other two inherit this shell's.
HARD=$(ulimit -Hn)
[[ $HARD == unlimited ]] && HARD=1048576
ulimit -n "$HARD"
NEED_HTTP=$((2 * STREAMS + 200))
NEED_INPROC=$((STREAMS + 200))
if [[ $UPSTREAM == auto ]]; then
    if ((NEED_HTTP <= HARD)); then UPSTREAM=http; else
        UPSTREAM=inproc
        echo "streams.sh: NOTE open-file hard limit $HARD < $NEED_HTTP descriptors that $STREAMS streams over HTTP"
        echo "  need in the gateway (client socket + upstream socket each); this process may not raise it"
        echo "  (setrlimit needs CAP_SYS_RESOURCE). Using the in-process mock provider: one fd per stream."
        echo "  With the HTTP upstream at most $(((HARD - 200) / 2)) streams fit."
    fi
fi
case $UPSTREAM in
http) ((NEED_HTTP <= HARD)) || die "UPSTREAM=http needs $NEED_HTTP open files, hard limit is $HARD" ;;
inproc) ((NEED_INPROC <= HARD)) || die "needs $NEED_INPROC open files, hard limit is $HARD" ;;
*) die "UPSTREAM must be http, inproc or auto" ;;
esac
# The mock's speed sets its default pace: 100 / speed events per second.
SPEED=$(node -e "console.log(100 / Number(process.argv[1]))" "$TPS")

TMP=$(mktemp -d)
MGPID="" MOCKPID="" CLIENTPID=""
stop_pid() { # TERM, then KILL after 10 s; only the pids this script started
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$CLIENTPID"
    stop_pid "$MGPID"
    stop_pid "$MOCKPID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
wait_port() { # $1 port, $2 pid: bounded wait for the listener
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

MG_PORT=$(free_port)
if [[ $UPSTREAM == http ]]; then
    MOCK_PORT=$(free_port)
    "$MG" mock --listen "127.0.0.1:$MOCK_PORT" --speed "$SPEED" >"$TMP/mock.log" 2>&1 &
    MOCKPID=$!
    wait_port "$MOCK_PORT" "$MOCKPID" || { cat "$TMP/mock.log"; die "the mock did not start"; }
    PROVIDER="{ name = \"hold\", format = \"openai\", base_url = \"http://127.0.0.1:$MOCK_PORT/v1\", api_key = \"x\", models = { \"mock-gpt\" } }"
else
    PROVIDER="{ name = \"hold\", format = \"mock\", models = { \"mock-gpt\" }, mock = { speed = $SPEED } }"
fi
cat >"$TMP/streams.lua" <<LUA
return {
  listen = "127.0.0.1:$MG_PORT",
  db = "$TMP/streams.db",
  policies = "$ROOT/policies",
  admin_token = "bench-admin-token-0123456789",
  access_log = false,
  log_level = "warn",
  workers = 1,
  limits = { shutdown_grace = 5 }, -- a stop with streams in flight is quick
  providers = { $PROVIDER },
}
LUA
MOONGATE_HOME=$ROOT "$MG" serve -c "$TMP/streams.lua" >"$TMP/moongate.log" 2>&1 &
MGPID=$!
wait_port "$MG_PORT" "$MGPID" || { cat "$TMP/moongate.log"; die "the gateway did not start"; }

echo "moongate concurrent streams: $STREAMS streams, upstream $UPSTREAM, $TPS events/s per stream, batches of $BATCH"
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, $(date -u +%Y-%m-%d), open-file hard limit $HARD"
RC=0
# In the background, so a signal to this script runs the cleanup at once.
timeout $((BUDGET + 60)) node "$ROOT/tests/bench/streams.mjs" --port "$MG_PORT" --pid "$MGPID" --streams "$STREAMS" \
    --batch "$BATCH" --tps "$TPS" --hold "$HOLD" --budget "$BUDGET" &
CLIENTPID=$!
wait "$CLIENTPID" || RC=$?
CLIENTPID=""
if ! kill -0 "$MGPID" 2>/dev/null; then
    echo "streams.sh: FAILURE the gateway died; its log:"; tail -50 "$TMP/moongate.log"; RC=1
elif grep -qiE 'error|accept:' "$TMP/moongate.log"; then
    echo "streams.sh: the gateway logged:"; grep -iE 'error|warn|accept:' "$TMP/moongate.log" | sort | uniq -c | sort -rn | head -10
fi
((RC == 0)) && echo "streams.sh: ok" || echo "streams.sh: FAILURE (exit $RC)"
exit "$RC"
