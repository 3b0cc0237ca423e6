#!/usr/bin/env bash
# soak.sh — a long run of mixed traffic against one gateway (not run by
# ctest). moongate mock is the upstream; the gateway has a provider per
# format, a provider that always answers 500 in front of a working backup
# (failover), a provider for injected faults (429, 503, cut streams,
# malformed SSE) and a policy file that changes every RELOAD_EVERY seconds
# (a hot reload each time). tests/soak/load.mjs drives requests in four
# client formats, streaming and not, converted and not, plus SSE
# subscribers on /api/events, and samples the gateway's RSS and open fds
# every 10 s (the curve is printed).
#
# Passes when: no request failed unless its fault was injected (and it
# failed the way it was told), every subscriber kept receiving, every
# policy rewrite became a new generation, RSS is flat (the median of the
# last quarter within RSS_TOLERANCE of the median just after warm-up),
# open fds do not creep, and the gateway exits cleanly.
#
#   tests/soak/soak.sh                         # 30 minutes
#   DURATION=300 tests/soak/soak.sh            # 5 minutes
#   MOONGATE_BIN=build-asan/moongate RATE=50 DURATION=600 tests/soak/soak.sh
#
# Env: DURATION (s, 1800), RATE (req/s, 150), CONCURRENCY (16),
# SUBSCRIBERS (4), RELOAD_EVERY (s, 20), WARMUP (s, 60), RSS_TOLERANCE
# (0.10), MOCK_SPEED (mock latency multiplier, 0.05), KEEP=1 keeps the work dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/soak
MG=${MOONGATE_BIN:-$ROOT/build/moongate}
: "${DURATION:=1800}" "${RATE:=150}" "${CONCURRENCY:=16}" "${SUBSCRIBERS:=4}" "${RELOAD_EVERY:=20}"
: "${WARMUP:=60}" "${RSS_TOLERANCE:=0.10}" "${MOCK_SPEED:=0.05}"
[[ -x $MG ]] || { echo "soak: no gateway binary at $MG (build first)" >&2; exit 1; }
export MOONGATE_HOME=${MOONGATE_HOME:-$ROOT}

WORK=$(mktemp -d /tmp/mg-soak-XXXXXX)
MOCK_PID="" GW_PID="" RELOADER_PID=""
cleanup() {
    [[ -n $RELOADER_PID ]] && kill "$RELOADER_PID" 2>/dev/null || true
    [[ -n $GW_PID ]] && kill -9 "$GW_PID" 2>/dev/null || true
    [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "soak: work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
    local port=$1 i
    for i in $(seq 100); do
        node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" && return 0
        sleep 0.1
    done
    return 1
}

MOCK_PORT=$(free_port)
GW_PORT=$(free_port)
TOKEN=soak-admin-token-0123456789
mkdir -p "$WORK/policies"

write_policy() { # $1: version number; the content changes, so the watcher reloads
    cat >"$WORK/policies/soak.lua.tmp" <<LUA
-- soak policy, version $1
local hits = mg.shared.dict("soak")
return {
  route = function(req)
    if req.model == "soak-alias" then
      hits:incr("alias", 1)
      return { "oai/gpt-4o-mini" }
    end
    return nil
  end,
}
LUA
    mv "$WORK/policies/soak.lua.tmp" "$WORK/policies/soak.lua"
}
write_policy 0

cat >"$WORK/moongate.lua" <<LUA
return {
  listen = "127.0.0.1:$GW_PORT",
  db = "$WORK/soak.db",
  policies = "$WORK/policies",
  admin_token = "$TOKEN",
  access_log = false,
  log_level = "warn",
  providers = {
    { name = "oai", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "gpt-4o-mini" } },
    { name = "ant", format = "anthropic", base_url = "http://127.0.0.1:$MOCK_PORT", api_key = "k", models = { "claude-haiku-4-5" } },
    { name = "resp", format = "responses", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "o4-mini" } },
    { name = "gem", format = "gemini", base_url = "http://127.0.0.1:$MOCK_PORT", api_key = "k", models = { "gemini-2.5-flash" } },
    { name = "flaky", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fo-model" },
      headers = { ["x-mock-fault"] = "500" }, breaker = { failure_threshold = 1000, cooldown = 1 } },
    { name = "backup", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fo-model" } },
    { name = "faulty", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fault-model" },
      breaker = { failure_threshold = 1000, cooldown = 1 } },
  },
}
LUA

"$MG" mock --listen "127.0.0.1:$MOCK_PORT" --speed "$MOCK_SPEED" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
"$MG" serve -c "$WORK/moongate.lua" >"$WORK/gateway.log" 2>&1 &
GW_PID=$!
wait_port "$MOCK_PORT" && wait_port "$GW_PORT" || { echo "soak: gateway did not start"; cat "$WORK/gateway.log"; exit 1; }
echo "soak: gateway pid $GW_PID on :$GW_PORT, mock on :$MOCK_PORT, ${DURATION}s at ~${RATE} req/s, reload every ${RELOAD_EVERY}s"

generation() {
    curl -s -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$GW_PORT/api/policies" |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).generation)}catch{console.log(-1)}})'
}
GEN0=$(generation)

# Hot reloads: rewrite the policy every RELOAD_EVERY seconds.
(
    v=1
    while sleep "$RELOAD_EVERY"; do
        write_policy "$v"
        v=$((v + 1))
    done
) &
RELOADER_PID=$!

set +e
node "$HERE/load.mjs" --url "http://127.0.0.1:$GW_PORT" --token "$TOKEN" --duration "$DURATION" \
    --rate "$RATE" --concurrency "$CONCURRENCY" --subscribers "$SUBSCRIBERS" --pid "$GW_PID" \
    --every 10 --summary "$WORK/summary.json"
LOAD_RC=$?
set -e
kill "$RELOADER_PID" 2>/dev/null || true
wait "$RELOADER_PID" 2>/dev/null || true
RELOADER_PID=""

GEN1=$(generation)
RELOADS_WRITTEN=$((DURATION / RELOAD_EVERY))

kill -TERM "$GW_PID"
GW_RC=0
wait "$GW_PID" || GW_RC=$?
GW_PID=""

# Judge the curve: medians after warm-up and over the last quarter.
set +e
node - "$WORK/summary.json" "$WARMUP" "$RSS_TOLERANCE" <<'JS'
const [file, warmup, tol] = process.argv.slice(2);
const s = JSON.parse(require('fs').readFileSync(file, 'utf8'));
const samples = s.samples.filter((x) => x.t >= Number(warmup));
const med = (a) => { const b = [...a].sort((x, y) => x - y); return b.length ? b[Math.floor(b.length / 2)] : NaN; };
const q = Math.max(1, Math.floor(samples.length / 4));
const early = samples.slice(0, q), late = samples.slice(-q);
const rssEarly = med(early.map((x) => x.rss_kib)), rssLate = med(late.map((x) => x.rss_kib));
const fdEarly = Math.min(...early.map((x) => x.fds)), fdLate = Math.min(...late.map((x) => x.fds));
const maxRss = Math.max(...s.samples.map((x) => x.rss_kib));
console.log('soak: RSS curve (KiB, every 10 s):');
const lo = Math.min(...s.samples.map((x) => x.rss_kib));
for (const x of s.samples) {
  const bar = '#'.repeat(Math.round(((x.rss_kib - lo) / Math.max(1, maxRss - lo)) * 40));
  console.log(`  ${String(x.t).padStart(5)}s ${String(x.rss_kib).padStart(7)} ${String(x.fds).padStart(4)} fds |${bar}`);
}
const growth = rssLate / rssEarly - 1;
console.log(`soak: RSS after warm-up ${rssEarly} KiB, last quarter ${rssLate} KiB (${(growth * 100).toFixed(1)}%), peak ${maxRss} KiB; fds ${fdEarly} → ${fdLate}`);
let ok = true;
if (!(growth <= Number(tol))) { console.log(`soak: FAILURE RSS grew more than ${Number(tol) * 100}%`); ok = false; }
if (fdLate > fdEarly + 8) { console.log('soak: FAILURE open fds crept up'); ok = false; }
process.exit(ok ? 0 : 1);
JS
CURVE_RC=$?
set -e

echo "soak: policy generation $GEN0 → $GEN1 ($RELOADS_WRITTEN rewrites)"
RC=0
[[ $LOAD_RC == 0 ]] || { echo "soak: FAILURE unexpected request failures (see above)"; RC=1; }
[[ $CURVE_RC == 0 ]] || RC=1
if (( GEN1 - GEN0 < RELOADS_WRITTEN - 1 )); then echo "soak: FAILURE only $((GEN1 - GEN0)) reloads took effect"; RC=1; fi
if [[ $GW_RC != 0 ]] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/gateway.log"; then
    echo "soak: FAILURE gateway exit status $GW_RC"; tail -40 "$WORK/gateway.log"; RC=1
fi
ROWS=$(sqlite3 "$WORK/soak.db" 'select count(*) from requests' 2>/dev/null || echo '?')
echo "soak: $ROWS request records in the database"
[[ $RC == 0 ]] && echo "soak: PASSED" || echo "soak: FAILED"
exit $RC
