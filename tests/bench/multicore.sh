#!/usr/bin/env bash
# multicore.sh — `workers = 1` against `workers = 2`: throughput with wrk
# (64 connections, non-streaming and streaming) through moongate in front
# of the shared harness's fast C mock (../shared/bench, as bench.sh uses
# it), the per-worker figure, how the CPU split across threads, and an
# exactness check: a fixed number of requests sent with workers = 2 must
# show up exactly in /metrics (moongate_requests_total, no errors, nothing
# left active) and as rows in the database. Not a test: run by hand.
#
#   tests/bench/multicore.sh                 # DURATION=10 WARMUP=2 EXACT_N=20000
#   WORKERS="1 2 4" DURATION=20 tests/bench/multicore.sh
#
# Needs: wrk, jq, sqlite3, node, a built build/moongate (MOONGATE_BIN).
# On a 2-core machine wrk, the mock and the gateway share the cores, so
# the 2-worker figure understates what two free cores would give.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${BENCH_HARNESS:-$ROOT/../shared/bench}
[[ -x $B/run.sh ]] || { echo "multicore.sh: no harness at $B (set BENCH_HARNESS)" >&2; exit 1; }
source "$B/lib.sh"
: "${DURATION:=10}" "${WARMUP:=2}" "${WORKERS:=1 2}" "${CONNS:=64}" "${WRK_THREADS:=1}"
: "${EXACT_N:=20000}" "${EXACT_WORKERS:=2}" "${MG_PORT:=18089}"
MG=${MOONGATE_BIN:-$ROOT/build/moongate}
[[ -x $MG ]] || { echo "multicore.sh: build first (scripts/dev.sh build)" >&2; exit 1; }
for t in wrk jq sqlite3 node curl; do command -v $t >/dev/null || die "$t is not installed"; done
make -s -C "$B/mock" mock

TMP=$(mktemp -d)
MGPID=""
cleanup() {
    [[ -n $MGPID ]] && kill "$MGPID" 2>/dev/null || true
    "$B/stop.sh" mock 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

printf '{"model":"mock-gpt","messages":[{"role":"user","content":"Say hello."}],"max_tokens":64}' >"$TMP/nonstream.json"
printf '{"model":"mock-gpt","messages":[{"role":"user","content":"Say hello."}],"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}' >"$TMP/stream.json"
: >"$TMP/headers.txt"

start_gateway() { # $1 workers
    rm -f "$TMP"/mc.db*
    cat >"$TMP/mc.lua" <<LUA
return {
  listen = "127.0.0.1:$MG_PORT",
  db = "$TMP/mc.db",
  policies = "$ROOT/policies",
  admin_token = "bench-admin-token-0123456789",
  access_log = false,
  log_level = "warn",
  workers = $1,
  providers = {
    { name = "bench", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "x", models = { "mock-gpt" } },
  },
}
LUA
    MOONGATE_HOME=$ROOT "$MG" serve -c "$TMP/mc.lua" >"$TMP/moongate.log" 2>&1 &
    MGPID=$!
    wait_port "$MG_PORT" 10 || { cat "$TMP/moongate.log"; die "moongate did not start"; }
}

stop_gateway() { kill "$MGPID"; wait "$MGPID" || true; MGPID=""; }

metric() { curl -s "http://127.0.0.1:$MG_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# CPU seconds (user + system) per thread of the gateway, "tid ticks" lines.
thread_ticks() { for t in /proc/"$MGPID"/task/*; do awk -v t="${t##*/}" '{ print t, $14 + $15 }' "$t/stat"; done; }

wrk_rps() { # $1 mode → prints rps; also fills $TMP/split with the thread CPU split
    local mode=$1 out
    timeout $((WARMUP + 30)) wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$B/wrk/post.lua" \
        "http://127.0.0.1:$MG_PORT/v1/chat/completions" -- "$TMP/$mode.json" "$TMP/headers.txt" >/dev/null
    thread_ticks >"$TMP/ticks0"
    out=$(timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" -s "$B/wrk/post.lua" \
        "http://127.0.0.1:$MG_PORT/v1/chat/completions" -- "$TMP/$mode.json" "$TMP/headers.txt")
    thread_ticks >"$TMP/ticks1"
    # Busiest threads' share of the gateway's CPU during the run.
    join <(sort "$TMP/ticks0") <(sort "$TMP/ticks1") | awk '{ d = $3 - $2; if (d > 0) print d }' | sort -rn |
        awk -v secs="$DURATION" -v hz="$(getconf CLK_TCK)" '{ s += $1; v[NR] = $1 }
            END { out = sprintf("%.2f cores:", s / hz / secs)
                  for (i = 1; i <= NR && i <= 3; i++) out = out sprintf(" %.0f%%", 100 * v[i] / s); print out }' >"$TMP/split"
    local line errs
    line=$(grep '^WRKJSON ' <<<"$out" | sed 's/^WRKJSON //')
    errs=$(jq '.errors.connect + .errors.read + .errors.write + .errors.status + .errors.timeout' <<<"$line")
    [[ $errs == 0 ]] || log "wrk reported $errs errors in $mode: $(jq -c .errors <<<"$line")"
    jq '.rps' <<<"$line"
}

# Fixed-count load: EXACT_N requests over CONNS keep-alive connections,
# half streaming; prints "<ok> <failed>".
cat >"$TMP/exact.mjs" <<'JS'
import http from 'node:http';
const [port, n, conc] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
const bodies = [
  JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 }),
  JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, stream: true }),
];
let next = 0, ok = 0, failed = 0;
const one = (i) => new Promise((resolve) => {
  const body = bodies[i % 2];
  const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    let text = '';
    res.on('data', (d) => { text += d; });
    res.on('end', () => {
      if (res.statusCode === 200 && (i % 2 === 0 ? text.includes('"choices"') : text.includes('[DONE]'))) ok++; else failed++;
      resolve();
    });
  });
  req.on('error', () => { failed++; resolve(); });
  req.end(body);
});
await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await one(next++); }));
agent.destroy();
console.log(`${ok} ${failed}`);
JS

"$B/start.sh" mock >/dev/null
declare -A RPS_NS RPS_ST SPLIT SPLIT_ST
for w in $WORKERS; do
    log "workers = $w"
    start_gateway "$w"
    RPS_NS[$w]=$(wrk_rps nonstream); SPLIT[$w]=$(cat "$TMP/split")
    RPS_ST[$w]=$(wrk_rps stream); SPLIT_ST[$w]=$(cat "$TMP/split")
    stop_gateway
done

log "exactness with workers = $EXACT_WORKERS: $EXACT_N requests"
start_gateway "$EXACT_WORKERS"
before=$(metric moongate_requests_total); errs_before=$(metric moongate_errors_total)
read -r sent_ok sent_failed <<<"$(node "$TMP/exact.mjs" "$MG_PORT" "$EXACT_N" "$CONNS")"
after=$(metric moongate_requests_total); errs_after=$(metric moongate_errors_total)
active=$(metric moongate_active_requests)
sleep 1.5 # one store flush interval and then some
rows=$(sqlite3 "$TMP/mc.db" 'select count(*) from requests')
stop_gateway

echo
echo "moongate multi-core, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%Y-%m-%d)"
echo "wrk -c$CONNS -t$WRK_THREADS, ${DURATION}s per run, C mock upstream (../shared/bench/mock)"
printf '%-8s %14s %14s %16s  %s\n' workers non-stream/s stream/s non-stream/s/wkr "busiest gateway threads' CPU share: non-stream | stream"
first=""
for w in $WORKERS; do
    per=$(jq -n "${RPS_NS[$w]} / $w | floor")
    printf '%-8s %14.0f %14.0f %16s  %s | %s\n' "$w" "${RPS_NS[$w]}" "${RPS_ST[$w]}" "$per" "${SPLIT[$w]}" "${SPLIT_ST[$w]}"
    [[ -z $first ]] && first=$w
done
for w in $WORKERS; do
    [[ $w == "$first" ]] && continue
    echo "scaling $first → $w workers: non-stream ×$(jq -n "${RPS_NS[$w]} / ${RPS_NS[$first]} * 100 | floor / 100"), stream ×$(jq -n "${RPS_ST[$w]} / ${RPS_ST[$first]} * 100 | floor / 100")"
done
echo
echo "exactness (workers = $EXACT_WORKERS): sent $EXACT_N, client saw $sent_ok ok / $sent_failed failed;"
echo "  /metrics requests_total +$((after - before)), errors_total +$((errs_after - errs_before)), active $active; database rows $rows"
RC=0
[[ $sent_ok == "$EXACT_N" && $sent_failed == 0 ]] || { echo "multicore: FAILURE the client saw failures"; RC=1; }
[[ $((after - before)) == "$EXACT_N" ]] || { echo "multicore: FAILURE /metrics counted $((after - before)) requests, $EXACT_N were sent"; RC=1; }
[[ $((errs_after - errs_before)) == 0 && $active == 0 ]] || { echo "multicore: FAILURE errors or requests left active"; RC=1; }
[[ $rows == "$EXACT_N" ]] || { echo "multicore: FAILURE $rows rows in the database, $EXACT_N requests sent"; RC=1; }
[[ $RC == 0 ]] && echo "multicore: exact" || true
exit $RC
