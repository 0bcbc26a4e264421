#!/usr/bin/env bash
# test_outage.sh: Redis, then PostgreSQL, then the Kafka broker, stopped for 10 s each while the analytics worker is
# consuming. The worker must pause, report not-ready on /readyz, retry, resume by itself, and end
# with totals equal to the independent computation: nothing skipped, nothing counted twice.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STACK=${SHOPSTREAM_STACK:-$(cd "$HERE/../.." && pwd)/deploy/stack}
EVENTS=${EVENTS:-60000}
require_stack

"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events "$EVENTS" --seed 11 --start 2026-11-02T00:00:00Z --out "$WORK/gen.jsonl"
python3 "$HERE/expected_totals.py" "$WORK/gen.jsonl" >"$WORK/expected.json"
NS=$RUN_ID
NAMESPACES+=("$NS")
PORT=$(free_port)
start_worker analytics "$WORK/worker.log" --set "namespace=$NS" --set flush.ms=50 --set flush.events=2000 \
  --set "http.port=$PORT" --set "instance.id=$RUN_ID" --set retry.backoff.max.ms=1000

# Half the events, then an outage per sink with the rest produced during it.
head -n $((EVENTS / 2)) "$WORK/gen.jsonl" >"$WORK/part1.jsonl"
tail -n +$((EVENTS / 2 + 1)) "$WORK/gen.jsonl" >"$WORK/part2.jsonl"
split -n l/3 -d "$WORK/part2.jsonl" "$WORK/rest."
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/part1.jsonl" >/dev/null 2>&1 || fail "emit part 1"
wait_metric "$PORT" shopstream_events_total 100 60 "$WORKER_PID"

STOPPED=()
on_exit() { # a failed check must not leave the shared stack without a server
  local srv
  for srv in "${STOPPED[@]:-}"; do [ -z "$srv" ] || "$STACK" start-one "$srv" >/dev/null 2>&1; done
}
outage() { # outage SERVER RESTFILE
  local server=$1 rest=$2 code i
  STOPPED=("$server")
  "$STACK" stop-one "$server" >/dev/null
  log "$server stopped"
  if [ "$server" = kafka ]; then # events produced during a broker outage wait in emit's queue
    "$BIN" emit --set "topic.prefix=$PREFIX" --set kafka.message.timeout.ms=300000 "$rest" >"$WORK/emit.kafka" 2>&1 &
    EMIT_PID=$!
  else
    "$BIN" emit --set "topic.prefix=$PREFIX" "$rest" >/dev/null 2>&1 || fail "emit during $server outage"
  fi
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)
    [ "$code" = 503 ] && break
    sleep 0.1
  done
  [ "$code" = 503 ] || fail "/readyz did not report the $server outage (got $code)"
  log "/readyz says 503 during the $server outage"
  sleep 10
  kill -0 "$WORKER_PID" || fail "worker died during the $server outage"
  "$STACK" start-one "$server" >/dev/null
  STOPPED=()
  log "$server started again"
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "/readyz did not recover after the $server outage"
  if [ "$server" = kafka ]; then
    wait "$EMIT_PID" || fail "emit across the broker outage: $(cat "$WORK/emit.kafka")"
  fi
}
outage redis "$WORK/rest.00"
outage postgres "$WORK/rest.01"
outage kafka "$WORK/rest.02"

all=$(wc -l <"$WORK/gen.jsonl") # the analytics worker reads every topic
wait_metric "$PORT" shopstream_events_total "$all" 120 "$WORKER_PID"
wait_caught_up "$PORT" 120 "$WORKER_PID" # a lost assignment during the outage re-reads events
kill -TERM "$WORKER_PID"
wait "$WORKER_PID" || fail "worker did not stop cleanly on SIGTERM: $(tail -3 "$WORK/worker.log")"
fails=$(grep -c 'retry_in_ms' "$WORK/worker.log" || true)
[ "$fails" -gt 0 ] || fail "the worker never logged a retry"
log "the worker logged $fails retries"
"$BIN" query stats --namespace "$NS" --json >"$WORK/stats.json"
python3 "$HERE/compare_totals.py" "$WORK/expected.json" "$WORK/stats.json" "after outages" || fail "totals differ"
log "PASS"
