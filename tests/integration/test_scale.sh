#!/usr/bin/env bash
# test_scale.sh: instances added and removed mid-stream. A starts alone; B and C join (cooperative
# rebalances move partitions to them); A leaves with SIGTERM (its revoke flushes), C is killed with
# SIGKILL (its partitions return after the session timeout); B finishes. The Redis view and the
# PostgreSQL rollup must equal the independent totals.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events 80000 --seed 23 --start 2026-11-03T00:00:00Z --out "$WORK/gen.jsonl"
python3 "$HERE/expected_totals.py" "$WORK/gen.jsonl" >"$WORK/expected.json"
NS=$RUN_ID
NAMESPACES+=("$NS")
emit_in_slices "$WORK/gen.jsonl" 0.5
common=(--set "namespace=$NS" --set flush.events=500 --set flush.ms=20 --set log.level=info
  --set kafka.session.timeout.ms=6000)
PA=$(free_port)
start_worker analytics "$WORK/a.log" "${common[@]}" --set "http.port=$PA" --set "instance.id=$RUN_ID-a"
A=$WORKER_PID
wait_metric "$PA" shopstream_events_total 300 60 "$A"
PB=$(free_port)
start_worker analytics "$WORK/b.log" "${common[@]}" --set "http.port=$PB" --set "instance.id=$RUN_ID-b"
B=$WORKER_PID
PC=$(free_port)
start_worker analytics "$WORK/c.log" "${common[@]}" --set "http.port=$PC" --set "instance.id=$RUN_ID-c"
C=$WORKER_PID
wait_metric "$PB" shopstream_events_total 100 60 "$B"
wait_metric "$PC" shopstream_events_total 100 60 "$C"
log "B and C joined and consume: A=$(metric "$PA" shopstream_events_total) B=$(metric "$PB" shopstream_events_total) C=$(metric "$PC" shopstream_events_total) events"
kill -TERM "$A"
wait "$A" || fail "A did not leave cleanly: $(tail -3 "$WORK/a.log")"
log "A left (SIGTERM)"
wait_metric "$PC" shopstream_events_total 400 60 "$C"
kill -9 "$C"
wait "$C" 2>/dev/null || true
log "C killed (SIGKILL)"
emit_wait "$WORK/gen.jsonl"
# B must end up with every partition (C's come back after its session times out) and catch up.
orders=$(grep -c '"type":"order\.' "$WORK/gen.jsonl")
for ((i = 0; i < 600; i++)); do
  lag=$({ curl -fsS "http://127.0.0.1:$PB/metrics" || true; } | awk '/^shopstream_consumer_lag\{/ {s += $2; n++} END {print n + 0, s + 0}')
  [ "$lag" = "30 0" ] && break
  sleep 0.1
done
[ "$lag" = "30 0" ] || fail "B did not take over all partitions and catch up (partitions, lag: $lag)"
sleep 0.5 # one more flush interval
kill -TERM "$B"
wait "$B" || fail "B did not stop cleanly: $(tail -3 "$WORK/b.log")"
grep -h 'partitions assigned\|partitions revoked' "$WORK"/[abc].log | sed 's/^/  /' | head -20
"$BIN" query stats --namespace "$NS" --json >"$WORK/stats.json"
python3 "$HERE/compare_totals.py" "$WORK/expected.json" "$WORK/stats.json" "3 instances, 1 left, 1 killed" || fail "totals differ"
log "PASS ($orders order events)"
