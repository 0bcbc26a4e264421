#!/usr/bin/env bash
# test_fraud.sh: the fraud worker end to end on real Kafka, Redis and PostgreSQL. A generated
# stream (user events first, then order events, so that every user fact is joined as of the order's
# time: see consumers/fraud/README.md) plus one bad order; one instance into namespace A, two
# instances of one group into namespace B. fraud_decisions and fraud:order:* must be equal, the bad
# order must be in the dead-letter topic with its reason, and never scored.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events 60000 --seed 31 --fraud-rate 0.03 --out "$WORK/gen.jsonl"
grep '"type":"user\.' "$WORK/gen.jsonl" >"$WORK/users.jsonl"
grep '"type":"order\.' "$WORK/gen.jsonl" >"$WORK/orders.jsonl"
echo '{"type":"order.placed","user_id":"u-bad","order_id":"o-bad","amount_minor":100,"currency":"KRW","items":[{"product_id":"p1","quantity":2,"unit_price_minor":999}]}' >>"$WORK/orders.jsonl"
orders=$(grep -c '"type":"order\.placed"' "$WORK/orders.jsonl")
good=$((orders - 1))
NA=${RUN_ID}a NB=${RUN_ID}b
NAMESPACES+=("$NA" "$NB")
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/users.jsonl" >/dev/null
common=(--set flush.events=500 --set flush.ms=50 --set kafka.session.timeout.ms=6000)
PA=$(free_port) PB1=$(free_port) PB2=$(free_port)
start_worker fraud "$WORK/a.log" "${common[@]}" --set "namespace=$NA" --set "http.port=$PA" \
  --set "group.id=$RUN_ID-a" --set "instance.id=$RUN_ID-a" --set fraud.scores.produce=on
A=$WORKER_PID
start_worker fraud "$WORK/b1.log" "${common[@]}" --set "namespace=$NB" --set "http.port=$PB1" \
  --set "group.id=$RUN_ID-b" --set "instance.id=$RUN_ID-b1"
B1=$WORKER_PID
start_worker fraud "$WORK/b2.log" "${common[@]}" --set "namespace=$NB" --set "http.port=$PB2" \
  --set "group.id=$RUN_ID-b" --set "instance.id=$RUN_ID-b2"
B2=$WORKER_PID
users=$(wc -l <"$WORK/users.jsonl")
wait_metric "$PA" shopstream_events_total "$users" 120 "$A"
for ((i = 0; i < 1200; i++)); do
  b=$(($(metric "$PB1" shopstream_events_total) + $(metric "$PB2" shopstream_events_total)))
  [ "$b" -ge "$users" ] && break
  sleep 0.1
done
[ "$b" -ge "$users" ] || fail "B consumed $b of $users user events"
sleep 2 # both groups flushed the user state
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/orders.jsonl" >/dev/null || true
count() { psql -qtA "$PG_URL" -c "SELECT count(*) FROM bt_$1.fraud_decisions" 2>/dev/null || echo 0; }
for ((i = 0; i < 1200; i++)); do
  [ "$(count "$NA")" -ge "$good" ] && [ "$(count "$NB")" -ge "$good" ] && break
  sleep 0.2
done
[ "$(count "$NA")" = "$good" ] || fail "A: $(count "$NA") decisions, want $good"
[ "$(count "$NB")" = "$good" ] || fail "B: $(count "$NB") decisions, want $good"
dump_pg() {
  psql -qtA "$PG_URL" -c "SELECT order_id, user_id, occurred_at, score, level, recommendation, reasons, model_version, amount_minor, currency FROM bt_$1.fraud_decisions ORDER BY order_id"
}
dump_pg "$NA" >"$WORK/pg.a"
dump_pg "$NB" >"$WORK/pg.b"
diff -q "$WORK/pg.a" "$WORK/pg.b" >/dev/null || fail "fraud_decisions differ: $(diff "$WORK/pg.a" "$WORK/pg.b" | head -5)"
dump_redis() {
  redis_cli --scan --pattern "bt:$1:fraud:order:*" | sort | while read -r k; do
    printf '%s ' "${k#bt:$1:}"
    redis_cli HGETALL "$k" | paste -sd' '
  done
}
dump_redis "$NA" >"$WORK/redis.a"
dump_redis "$NB" >"$WORK/redis.b"
[ "$(wc -l <"$WORK/redis.a")" = "$good" ] || fail "A: $(wc -l <"$WORK/redis.a") fraud:order keys, want $good"
diff -q "$WORK/redis.a" "$WORK/redis.b" >/dev/null || fail "fraud:order:* differ: $(diff "$WORK/redis.a" "$WORK/redis.b" | head -5)"
grep -q 'level high' "$WORK/redis.a" || fail "no order was scored high"
# the bad order: dead-lettered with its reason, never scored
psql -qtA "$PG_URL" -c "SELECT 1 FROM bt_$NA.fraud_decisions WHERE order_id = 'o-bad'" | grep -q 1 &&
  fail "the bad order got a score"
dlq=$("$BIN" topics list | awk -v t="${PREFIX}shop.order.events.dlq" '$1 == t {sub("messages=", "", $3); print $3}')
[ "${dlq:-0}" -ge 1 ] || fail "the bad order is not in ${PREFIX}shop.order.events.dlq"
grep -q 'sum to' "$WORK/a.log" || fail "A did not log the bad order's reason"
# read side: HTTP and CLI
oid=$(head -1 "$WORK/pg.a" | cut -d'|' -f1)
curl -fsS "http://127.0.0.1:$PA/fraud/order/$oid" | grep -q '"score"' || fail "GET /fraud/order/$oid"
"$BIN" query fraud "$oid" --namespace "$NA" --json | grep -q '"level"' || fail "query fraud $oid"
log "ok: $good decisions equal in A (1 instance) and B (2 instances); bad order dead-lettered"
