#!/usr/bin/env bash
# kill9.sh — durability of request records across a hard crash (not run by
# ctest). Each cycle: start the gateway on the same database, drive mixed
# load (tests/soak/load.mjs logs every finished request's id and completion
# time), kill -9 the gateway in the middle, restart it, and check with
# sqlite3 that every request completed more than flush_interval + 1 s
# before the kill has its row. Also checks the database's integrity after
# each crash.
#
#   tests/soak/kill9.sh                       # 3 cycles, kill after 12 s of load
#   CYCLES=10 LOAD_SECONDS=20 FLUSH=1 tests/soak/kill9.sh
#
# Env: CYCLES (3), LOAD_SECONDS (12), RATE (200), FLUSH (store
# flush_interval in s, 0.2), MOONGATE_BIN, KEEP=1 keeps the work dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/soak
MG=${MOONGATE_BIN:-$ROOT/build/moongate}
: "${CYCLES:=3}" "${LOAD_SECONDS:=12}" "${RATE:=200}" "${FLUSH:=0.2}"
[[ -x $MG ]] || { echo "kill9: no gateway binary at $MG (build first)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "kill9: needs the sqlite3 command" >&2; exit 1; }
export MOONGATE_HOME=${MOONGATE_HOME:-$ROOT}

WORK=$(mktemp -d /tmp/mg-kill9-XXXXXX)
MOCK_PID="" GW_PID="" LOAD_PID=""
cleanup() {
    [[ -n $LOAD_PID ]] && kill "$LOAD_PID" 2>/dev/null || true
    [[ -n $GW_PID ]] && kill -9 "$GW_PID" 2>/dev/null || true
    [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "kill9: work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
    local port=$1 i
    for i in $(seq 150); do
        node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" && return 0
        sleep 0.1
    done
    return 1
}
now_ms() { date +%s%3N; }

MOCK_PORT=$(free_port)
GW_PORT=$(free_port)
TOKEN=kill9-admin-token-0123456789
mkdir -p "$WORK/policies"
cat >"$WORK/policies/alias.lua" <<'LUA'
return { route = function(req) if req.model == "soak-alias" then return { "oai/gpt-4o-mini" } end end }
LUA
cat >"$WORK/moongate.lua" <<LUA
return {
  listen = "127.0.0.1:$GW_PORT",
  db = "$WORK/kill9.db",
  policies = "$WORK/policies",
  admin_token = "$TOKEN",
  access_log = false,
  log_level = "warn",
  store = { flush_interval = $FLUSH },
  providers = {
    { name = "oai", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "gpt-4o-mini" } },
    { name = "ant", format = "anthropic", base_url = "http://127.0.0.1:$MOCK_PORT", api_key = "k", models = { "claude-haiku-4-5" } },
    { name = "resp", format = "responses", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "o4-mini" } },
    { name = "gem", format = "gemini", base_url = "http://127.0.0.1:$MOCK_PORT", api_key = "k", models = { "gemini-2.5-flash" } },
    { name = "flaky", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fo-model" },
      headers = { ["x-mock-fault"] = "500" } },
    { name = "backup", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fo-model" } },
    { name = "faulty", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "k", models = { "fault-model" } },
  },
}
LUA

"$MG" mock --listen "127.0.0.1:$MOCK_PORT" --speed 0.05 >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
wait_port "$MOCK_PORT" || { echo "kill9: mock did not start"; exit 1; }

start_gateway() {
    "$MG" serve -c "$WORK/moongate.lua" >>"$WORK/gateway.log" 2>&1 &
    GW_PID=$!
    wait_port "$GW_PORT" || { echo "kill9: gateway did not start"; tail -20 "$WORK/gateway.log"; exit 1; }
}

# Requests in the log completed at or before cutoff_ms, and how many of
# them have no row; prints "<expected> <missing>" (missing ids in $log.missing).
cat >"$WORK/want.mjs" <<'JS'
import fs from 'node:fs';
const [log, cutoff] = process.argv.slice(2);
const ids = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  .filter((r) => r.t_done <= Number(cutoff)).map((r) => r.id.replace(/[^0-9a-f]/g, ''));
fs.writeFileSync(`${log}.sql`, 'create temp table want(id text primary key);\n' +
  (ids.length ? `insert or ignore into want values ${ids.map((id) => `('${id}')`).join(',')};\n` : '') +
  'select w.id from want w left join requests r on r.id = w.id where r.id is null;\n');
console.log(ids.length);
JS
check_log() {
    local log=$1 cutoff=$2 expected
    expected=$(node "$WORK/want.mjs" "$log" "$cutoff")
    sqlite3 "$WORK/kill9.db" <"$log.sql" >"$log.missing"
    echo "$expected $(grep -c . "$log.missing" || true)"
}

RC=0
flush_ms=$(node -e "console.log(Math.round(($FLUSH + 1) * 1000))")
start_gateway
for cycle in $(seq "$CYCLES"); do
    log=$WORK/cycle$cycle.jsonl
    : >"$log"
    node "$HERE/load.mjs" --url "http://127.0.0.1:$GW_PORT" --duration $((LOAD_SECONDS + 4)) --rate "$RATE" \
        --concurrency 16 --subscribers 0 --log "$log" >"$WORK/load$cycle.out" 2>&1 &
    LOAD_PID=$!
    sleep "$LOAD_SECONDS"
    kill_ms=$(now_ms)
    kill -9 "$GW_PID"
    wait "$GW_PID" 2>/dev/null || true
    GW_PID=""
    # The load runs on into the dead port for a moment (those requests fail,
    # as they must), then ends by itself.
    wait "$LOAD_PID" 2>/dev/null || true
    LOAD_PID=""
    start_gateway
    cutoff=$((kill_ms - flush_ms))
    read -r expected missing <<<"$(check_log "$log" "$cutoff")"
    total=$(grep -c . "$log" || true)
    in_db=$(sqlite3 "$WORK/kill9.db" "select count(*) from requests")
    integrity=$(sqlite3 "$WORK/kill9.db" "pragma integrity_check")
    cp "$log.missing" "$log.due-missing"
    # For the record: how many of the last window's requests the kill took.
    read -r _ lost <<<"$(check_log "$log" 99999999999999)"
    echo "kill9: cycle $cycle: $total requests completed, $expected of them more than ${flush_ms} ms before the kill; missing from the database: $missing (lost from the last ${flush_ms} ms: $lost); rows now $in_db; integrity $integrity"
    if [[ $missing != 0 || $integrity != ok || $expected == 0 ]]; then
        RC=1
        head -5 "$log.due-missing" | sed 's/^/kill9:   missing /'
    fi
done
kill -TERM "$GW_PID"
wait "$GW_PID" || { echo "kill9: gateway did not exit cleanly after the last restart"; RC=1; }
GW_PID=""
[[ $RC == 0 ]] && echo "kill9: PASSED ($CYCLES kills, flush_interval ${FLUSH}s)" || echo "kill9: FAILED"
exit $RC
