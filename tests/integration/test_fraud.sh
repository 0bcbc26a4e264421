#!/usr/bin/env bash
# test_fraud.sh: the fraud worker end to end on real Kafka, Redis and PostgreSQL. A generated
# stream (user events first, then order events, so that every user fact is joined as of the order's
# time: see consumers/fraud/README.md) plus one bad order; one instance into namespace A, two
# instances of one group into namespace B; A commits to PostgreSQL on the runtime's flush thread
# (pg.flush.async) and produces shop.fraud.scores, B flushes synchronously. fraud_decisions and fraud:order:* must be equal, the bad
# order must be in the dead-letter topic with its reason, and never scored. Both groups score with a
# model trained from the events (`fraud train --events`); the global per-device / per-IP
# HyperLogLogs must be equal in A and B and match the stream; a third group C runs with
# fraud.device.scope=global; a model trained from the Kafka topics is loaded by A on SIGHUP.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events 60000 --seed 31 --fraud-rate 0.03 --out "$WORK/gen.jsonl"
grep '"type":"user\.' "$WORK/gen.jsonl" >"$WORK/users.jsonl"
grep '"type":"order\.' "$WORK/gen.jsonl" >"$WORK/orders.jsonl"
echo '{"type":"order.placed","user_id":"u-bad","order_id":"o-bad","amount_minor":100,"currency":"KRW","items":[{"product_id":"p1","quantity":2,"unit_price_minor":999}]}' >>"$WORK/orders.jsonl"
orders=$(grep -c '"type":"order\.placed"' "$WORK/orders.jsonl")
"$BIN" fraud train --events "$WORK/gen.jsonl" --partitions 6 --out "$WORK/m1.model" >"$WORK/train1.out" ||
  fail "fraud train --events: $(cat "$WORK/train1.out")"
grep -q 'rows=' "$WORK/train1.out" || fail "fraud train --events printed no model line"
good=$((orders - 1))
NA=${RUN_ID}a NB=${RUN_ID}b NC=${RUN_ID}c
NAMESPACES+=("$NA" "$NB" "$NC")
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/users.jsonl" >/dev/null
common=(--set flush.events=500 --set flush.ms=50 --set kafka.session.timeout.ms=6000
  --set "fraud.model=$WORK/m1.model")
PA=$(free_port) PB1=$(free_port) PB2=$(free_port) PC=$(free_port)
start_worker fraud "$WORK/a.log" "${common[@]}" --set "namespace=$NA" --set "http.port=$PA" \
  --set "group.id=$RUN_ID-a" --set "instance.id=$RUN_ID-a" --set fraud.scores.produce=on \
  --set pg.flush.async=true --set fraud.scores.linger.ms=5
A=$WORKER_PID
start_worker fraud "$WORK/b1.log" "${common[@]}" --set "namespace=$NB" --set "http.port=$PB1" \
  --set "group.id=$RUN_ID-b" --set "instance.id=$RUN_ID-b1"
B1=$WORKER_PID
start_worker fraud "$WORK/b2.log" "${common[@]}" --set "namespace=$NB" --set "http.port=$PB2" \
  --set "group.id=$RUN_ID-b" --set "instance.id=$RUN_ID-b2"
B2=$WORKER_PID
start_worker fraud "$WORK/c.log" "${common[@]}" --set "namespace=$NC" --set "http.port=$PC" \
  --set "group.id=$RUN_ID-c" --set "instance.id=$RUN_ID-c" --set fraud.device.scope=global \
  --set fraud.global.summary=true
C=$WORKER_PID
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
for ((i = 0; i < 600; i++)); do [ "$(count "$NC")" -ge "$good" ] && break; sleep 0.2; done
[ "$(count "$NC")" = "$good" ] || fail "C (global scope): $(count "$NC") decisions, want $good"
dump_pg() {
  psql -qtA "$PG_URL" -c "SELECT order_id, user_id, occurred_at, score, level, recommendation, reasons, model_version, amount_minor, currency FROM bt_$1.fraud_decisions ORDER BY order_id"
}
dump_pg "$NA" >"$WORK/pg.a"
dump_pg "$NB" >"$WORK/pg.b"
diff -q "$WORK/pg.a" "$WORK/pg.b" >/dev/null || fail "fraud_decisions differ: $(diff "$WORK/pg.a" "$WORK/pg.b" | head -5)"
# A's shop.fraud.scores: one decision per order, the one in fraud_decisions (a retried flush may
# send one again, with the same event id and contents)
"$BIN" decode --topic "${PREFIX}shop.fraud.scores" >"$WORK/scores.jsonl" 2>/dev/null
python3 - "$WORK/scores.jsonl" "$WORK/pg.a" <<'PY' || fail "shop.fraud.scores does not hold A's decisions"
import json, sys
got, n = {}, 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    n += 1
    got.setdefault(e["order_id"], set()).add((e["event_id"], e["score"], e["level"]))
want = {}
for row in open(sys.argv[2]).read().splitlines():
    f = row.split("|")
    want[f[0]] = (int(f[3]), f[4])
bad = [o for o in want if len(got.get(o, ())) != 1 or next(iter(got[o]))[1:] != want[o]]
print("shop.fraud.scores: events=%d orders=%d want=%d mismatched=%d" % (n, len(got), len(want), len(bad)))
sys.exit(1 if bad or set(got) != set(want) else 0)
PY
dump_redis() {
  redis_cli --scan --pattern "bt:$1:fraud:order:*" | sort | while read -r k; do
    printf '%s ' "${k#bt:$1:}"
    # a hash's field order is its dict's (a long field value makes it one), which depends on
    # when the server rehashed it: compare fields sorted
    redis_cli HGETALL "$k" | paste -d" " - - | sort | paste -sd" "
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
# cross-user state: the hourly HyperLogLogs are the same in A (1 instance) and B (2 instances)
hll() { # "fraud:dev:<device>:<hour> <count>", one pipelined redis-cli for all keys
  redis_cli --scan --pattern "bt:$1:fraud:dev:*" | sort >"$WORK/hllkeys.$1"
  sed 's/^/PFCOUNT /' "$WORK/hllkeys.$1" | redis_cli >"$WORK/hllcnt.$1"
  paste -d' ' <(sed "s/^bt:$1://" "$WORK/hllkeys.$1") "$WORK/hllcnt.$1"
}
hll "$NA" >"$WORK/hll.a"
hll "$NB" >"$WORK/hll.b"
[ -s "$WORK/hll.a" ] || fail "no fraud:dev:* HyperLogLog in A"
diff -q "$WORK/hll.a" "$WORK/hll.b" >/dev/null || fail "fraud:dev:* differ: $(diff "$WORK/hll.a" "$WORK/hll.b" | head -5)"
# ... and they count the distinct accounts of the stream per device and event-time hour
python3 - "$WORK/gen.jsonl" "$WORK/hll.a" <<'PY' || fail "fraud:dev:* counts do not match the stream"
import json, sys
want = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    t = e["type"]
    if t not in ("order.placed", "user.signup", "user.login") or not e.get("device_id"):
        continue
    if t == "user.login" and e.get("success") is False:
        continue
    want.setdefault("fraud:dev:%s:%d" % (e["device_id"], e["occurred_at"] // 3600000), set()).add(e["user_id"])
got = dict(l.rsplit(" ", 1) for l in open(sys.argv[2]).read().splitlines())
bad = [k for k in want if int(got.get(k, -1)) != len(want[k])]
print("hll keys=%d want=%d mismatched=%d multi-account=%d" % (len(got), len(want), len(bad), sum(len(v) > 1 for v in want.values())))
sys.exit(1 if bad or len(got) != len(want) else 0)
PY
ttl=$(redis_cli TTL "bt:$NA:$(head -1 "$WORK/hll.a" | cut -d' ' -f1)")
[ "$ttl" -gt 86400 ] && [ "$ttl" -le 90000 ] || fail "fraud:dev:* TTL $ttl, want 25 h"
# C's refresh thread put the global counts into the per-user summary (fraud.global.summary)
uid=$(head -1 "$WORK/pg.a" | cut -d'|' -f2)
for ((i = 0; i < 50; i++)); do
  redis_cli HGET "bt:$NC:fraud:user:$uid" global_device_accounts | grep -q '[0-9]' && break
  sleep 0.2
done
redis_cli HGET "bt:$NC:fraud:user:$uid" global_device_accounts | grep -q '[0-9]' ||
  fail "fraud:user:$uid has no global_device_accounts in C"
grep -q 'device scope global' "$WORK/c.log" || fail "C did not run with the global device scope"
# read side: HTTP and CLI
oid=$(head -1 "$WORK/pg.a" | cut -d'|' -f1)
curl -fsS "http://127.0.0.1:$PA/fraud/order/$oid" | grep -q '"score"' || fail "GET /fraud/order/$oid"
"$BIN" query fraud "$oid" --namespace "$NA" --json | grep -q '"level"' || fail "query fraud $oid"
"$BIN" query fraud "$oid" --namespace "$NA" --json | grep -q '"global_ip_accounts"' ||
  fail "query fraud $oid: no global counts"
"$BIN" query fraud "$oid" --namespace "$NA" | grep -q 'across all partitions' || fail "query fraud text"
# a model trained from a replayed range of the topics, through decode and straight from Kafka
"$BIN" decode --topic "${PREFIX}shop.user.events" --meta >"$WORK/topics.jsonl" 2>/dev/null
"$BIN" decode --topic "${PREFIX}shop.order.events" --meta >>"$WORK/topics.jsonl" 2>/dev/null
"$BIN" fraud train --events "$WORK/topics.jsonl" --out "$WORK/m2.model" >"$WORK/train2.out" ||
  fail "fraud train --events (decode --meta): $(cat "$WORK/train2.out")"
"$BIN" fraud train --topic "${PREFIX}shop.user.events" --topic "${PREFIX}shop.order.events" \
  --from 0 --out "$WORK/m3.model" >"$WORK/train3.out" || fail "fraud train --topic: $(cat "$WORK/train3.out")"
cmp -s "$WORK/m2.model" "$WORK/m3.model" || fail "models from decode --meta and from --topic differ"
grep -q "orders=$good " "$WORK/train3.out" || fail "fraud train --topic: $(cat "$WORK/train3.out"), want orders=$good"
cp "$WORK/m3.model" "$WORK/m1.model"
kill -HUP "$A"
echo '{"type":"order.placed","user_id":"u-hup","order_id":"o-hup","amount_minor":1000,"currency":"KRW","items":[{"product_id":"p1","quantity":1,"unit_price_minor":1000}]}' |
  "$BIN" emit --set "topic.prefix=$PREFIX" - >/dev/null
for ((i = 0; i < 100; i++)); do grep -q 'SIGHUP: model' "$WORK/a.log" && break; sleep 0.1; done
grep -q 'SIGHUP: model .* loaded' "$WORK/a.log" || fail "A did not reload the model on SIGHUP"
log "ok: $good decisions equal in A (1 instance) and B (2 instances); bad order dead-lettered"
