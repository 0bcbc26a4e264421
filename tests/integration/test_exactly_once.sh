#!/usr/bin/env bash
# test_exactly_once.sh: 100k generated events through the analytics worker, which is killed with
# SIGKILL twice mid-stream and restarted; the Redis view and the PostgreSQL rollup must equal totals
# computed independently (expected_totals.py) from the generated input. Then the same range is
# replayed into a namespace, twice (the second run must change nothing), and a time-bounded replay
# must equal the totals of the events at or after its start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EVENTS=${EVENTS:-100000}
require_stack

log "run $RUN_ID: topics ${PREFIX}*, namespaces bt:$RUN_ID*"
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events "$EVENTS" --seed 7 --start 2026-11-01T00:00:00Z --out "$WORK/gen.jsonl"
# Events that pass the schema but not the worker's checks: they must end in the dead-letter topic.
cat >>"$WORK/gen.jsonl" <<'JSON'
{"type":"order.placed","occurred_at":1793491200000,"user_id":"bad1","order_id":"neg","amount_minor":-5,"currency":"KRW","items":[{"product_id":"p1","quantity":1,"unit_price_minor":1}]}
{"type":"order.placed","occurred_at":1793491200000,"user_id":"bad2","order_id":"qty","amount_minor":5,"currency":"KRW","items":[{"product_id":"p1","quantity":0,"unit_price_minor":1}]}
{"type":"order.refunded","occurred_at":1793491200000,"user_id":"bad3","order_id":"cur","amount_minor":5,"currency":"won"}
JSON
python3 "$HERE/expected_totals.py" "$WORK/gen.jsonl" >"$WORK/expected.json"
log "expected: $(cat "$WORK/expected.json")"
NS=$RUN_ID
NAMESPACES+=("$NS" "${NS}_r" "${NS}_t")
PORT=$(free_port)
common=(--set "namespace=$NS" --set flush.events=500 --set flush.ms=20 --set "http.port=$PORT"
  --set "instance.id=$RUN_ID-a" --set log.level=warn)
# The killed runs commit their Redis flushes on the runtime's flush thread (redis.flush.async): a
# kill then lands between a flush's hand-over and its commit too. The replays commit inline.
killed=(--set redis.flush.async=true)

# The stream arrives in 20 slices while the worker runs, so that the kills land mid-stream.
emit_in_slices "$WORK/gen.jsonl" 0.4
orders=$(grep -c '"type":"order\.' "$WORK/gen.jsonl")
for kill_no in 1 2; do
  start_worker analytics "$WORK/worker.log" "${common[@]}" "${killed[@]}"
  wait_metric "$PORT" shopstream_events_total $((orders / 4)) 120 "$WORKER_PID"
  seen=$(metric "$PORT" shopstream_events_total)
  kill -9 "$WORKER_PID"
  wait "$WORKER_PID" 2>/dev/null || true
  log "kill $kill_no: SIGKILL after about $seen events (of $orders order events)"
done
emit_wait "$WORK/gen.jsonl"
"$BIN" run analytics --set "topic.prefix=$PREFIX" "${common[@]}" --until-caught-up >>"$WORK/worker.log" 2>&1 ||
  fail "worker failed: $(tail -5 "$WORK/worker.log")"

"$BIN" query stats --namespace "$NS" --json >"$WORK/stats.json"
python3 "$HERE/compare_totals.py" "$WORK/expected.json" "$WORK/stats.json" "after 2 kills" || fail "totals differ"

dlq=$("$BIN" topics list | awk -v t="${PREFIX}shop.order.events.dlq" '$1 == t {sub("messages=", "", $3); print $3}')
[ "$dlq" = 3 ] || fail "expected 3 dead-lettered events in ${PREFIX}shop.order.events.dlq, found ${dlq:-none}"
log "dead-letter topic holds the 3 invalid events"

for pass in 1 2; do
  "$BIN" replay analytics --set "topic.prefix=$PREFIX" --namespace "${NS}_r" --set log.level=warn >>"$WORK/replay.log" 2>&1 ||
    fail "replay failed: $(tail -5 "$WORK/replay.log")"
  "$BIN" query stats --namespace "${NS}_r" --json >"$WORK/replay.json"
  python3 "$HERE/compare_totals.py" "$WORK/expected.json" "$WORK/replay.json" "replay pass $pass" || fail "replay totals differ"
done

# A time-bounded replay: [2026-11-01T00:05:00Z, end).
SINCE=1793491500000
python3 "$HERE/expected_totals.py" "$WORK/gen.jsonl" --since "$SINCE" >"$WORK/expected_since.json"
"$BIN" replay analytics --set "topic.prefix=$PREFIX" --namespace "${NS}_t" --from 2026-11-01T00:05:00Z --set log.level=warn >>"$WORK/replay.log" 2>&1 ||
  fail "bounded replay failed: $(tail -5 "$WORK/replay.log")"
"$BIN" query stats --namespace "${NS}_t" --json >"$WORK/replay_t.json"
python3 "$HERE/compare_totals.py" "$WORK/expected_since.json" "$WORK/replay_t.json" "replay from 00:05" || fail "bounded replay totals differ"
log "PASS"
