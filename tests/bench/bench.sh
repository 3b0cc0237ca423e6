#!/usr/bin/env bash
# bench.sh — moongate beside nginx (plain reverse proxy) in front of the same
# fast C mock upstream, using the shared harness in ../shared/bench (wrk,
# bounded runs, 127.0.0.1 only). Not a test: run by hand, read the table.
#   tests/bench/bench.sh                 # DURATION=10 WARMUP=2 RUNS=run1
#   PEERS="nginx portkey ccr" tests/bench/bench.sh
#   CONVERSION=0 STREAMS=0 tests/bench/bench.sh   # without the conversion and streams parts
#   CURL=1 tests/bench/bench.sh          # adds a row with libcurl as the upstream client
# Needs: apt-get install nginx-light wrk jq; a built build/moongate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${BENCH_HARNESS:-$ROOT/../shared/bench}
[[ -x $B/run.sh ]] || { echo "bench.sh: no harness at $B (set BENCH_HARNESS)" >&2; exit 1; }
source "$B/lib.sh"
: "${DURATION:=10}" "${WARMUP:=2}" "${RUNS:=run1}" "${PEERS:=nginx}" "${MG_PORT:=18088}"
OUT=${OUT:-$ROOT/tests/bench/results/bench-$(date +%Y%m%d-%H%M%S).jsonl}
mkdir -p "$(dirname "$OUT")"
MG=$ROOT/build/moongate
[[ -x $MG ]] || { echo "bench.sh: build first (scripts/dev.sh build)" >&2; exit 1; }
make -s -C "$B/mock" mock

TMP=$(mktemp -d)
cat >"$TMP/bench.lua" <<LUA
return {
  listen = "127.0.0.1:$MG_PORT",
  db = "$TMP/bench.db",
  policies = "$ROOT/policies",
  admin_token = "bench-admin-token-0123456789",
  access_log = false,
  log_level = "warn",
  providers = {
    { name = "bench", format = "openai", base_url = "http://127.0.0.1:$MOCK_PORT/v1", api_key = "x",
      models = { "mock-gpt", "gpt-4o-mini" } },
    { name = "bench-anthropic", format = "anthropic", base_url = "http://127.0.0.1:$MOCK_PORT",
      api_key = "x", models = { "claude-3-5-sonnet-20241022", "mock-claude" } },
  },
}
LUA
MGPID=""
cleanup() {
  [[ -n $MGPID ]] && kill "$MGPID" 2>/dev/null || true
  "$B/stop.sh" mock $PEERS 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$B/start.sh" mock >/dev/null
RUN=("$B/run.sh" -d "$DURATION" -w "$WARMUP" -o "$OUT")
for r in $RUNS; do
  log "===== $r"
  "${RUN[@]}" -r "$r" -n mock -u "http://127.0.0.1:$MOCK_PORT" -s openai -p "$(cat "$RUN_DIR/mock.pid")" >/dev/null
  for g in $PEERS; do
    "$B/stop.sh" "$g" 2>/dev/null || true
    "$B/start.sh" "$g" >/dev/null
    case $g in
      nginx) "${RUN[@]}" -r "$r" -n nginx -u "http://127.0.0.1:$NGINX_PORT" -s openai -p "$(cat "$RUN_DIR/nginx.pid")" >/dev/null ;;
      portkey) "${RUN[@]}" -r "$r" -n portkey -u "http://127.0.0.1:$PORTKEY_PORT" -s openai -p "$(cat "$RUN_DIR/portkey.pid")" \
                 -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: http://127.0.0.1:$MOCK_PORT/v1" -H 'Authorization: Bearer sk-mock' >/dev/null ;;
      ccr) "${RUN[@]}" -r "$r" -n ccr -u "http://127.0.0.1:$CCR_PORT" -s anthropic -p "$(cat "$RUN_DIR/ccr.pid")" >/dev/null ;;
    esac
    "$B/stop.sh" "$g" 2>/dev/null || true
  done
  MOONGATE_HOME=$ROOT "$MG" serve -c "$TMP/bench.lua" >"$TMP/moongate.log" 2>&1 &
  MGPID=$!
  wait_port "$MG_PORT" 10 || { cat "$TMP/moongate.log"; exit 1; }
  "${RUN[@]}" -r "$r" -n moongate -u "http://127.0.0.1:$MG_PORT" -s openai -m mock-gpt -p "$MGPID" >/dev/null
  if [[ ${CONVERSION:-1} == 1 ]]; then
    # Format conversion in the same run: an Anthropic client streaming from
    # the OpenAI-format upstream (every event converted in Lua) beside the
    # same client passed through to the Anthropic-format upstream.
    "${RUN[@]}" -r "$r" -n moongate-anthropic-passthrough -u "http://127.0.0.1:$MG_PORT" -s anthropic \
      -m mock-claude -c 64 -M stream >/dev/null
    "${RUN[@]}" -r "$r" -n moongate-convert-anthropic-to-openai -u "http://127.0.0.1:$MG_PORT" -s anthropic \
      -m mock-gpt -c 64 -M stream >/dev/null
  fi
  kill "$MGPID"; wait "$MGPID" || true; MGPID=""
  if [[ ${CURL:-0} == 1 ]]; then
    MOONGATE_UPSTREAM_CLIENT=curl MOONGATE_HOME=$ROOT "$MG" serve -c "$TMP/bench.lua" >"$TMP/moongate.log" 2>&1 &
    MGPID=$!
    wait_port "$MG_PORT" 10 || { cat "$TMP/moongate.log"; exit 1; }
    "${RUN[@]}" -r "$r" -n moongate-libcurl -u "http://127.0.0.1:$MG_PORT" -s openai -m mock-gpt -p "$MGPID" >/dev/null
    kill "$MGPID"; wait "$MGPID" || true; MGPID=""
  fi
done
"$B/table.sh" "$OUT"
if [[ ${CONVERSION:-1} == 1 ]]; then
  jq -rs '[.[] | select(.measure == "load" and .mode == "stream" and .conc == 64 and (.target | startswith("moongate-")))]
    | group_by(.run) | .[] | (map({(.target): .rps}) | add) as $r
    | "conversion (\(.[0].run)): \($r["moongate-convert-anthropic-to-openai"] | floor) req/s converted vs \($r["moongate-anthropic-passthrough"] | floor) passed through = \(($r["moongate-convert-anthropic-to-openai"] / $r["moongate-anthropic-passthrough"]) * 100 | floor / 100)x"' "$OUT" || true
fi
echo "results: $OUT"
# Concurrent streams and memory per stream, in the same run (STREAMS=0 skips).
if [[ ${STREAMS:-10000} != 0 ]]; then
  STREAMS=${STREAMS:-10000} MOONGATE_BIN=$MG "$ROOT/tests/bench/streams.sh"
fi
