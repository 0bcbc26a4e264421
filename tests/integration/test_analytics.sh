#!/usr/bin/env bash
# test_analytics.sh: generated shop traffic plus crafted late and invalid events through the
# analytics worker. The PostgreSQL rollups (total, and the sums of the day and minute grains) and
# the Redis totals must equal analytics_expected.py's independent computation; events within the
# lateness are counted, later ones only in the "late" metric; invalid ones are dead-lettered; daily
# active users are exact in PostgreSQL and within HyperLogLog error in Redis; `query stats --by hour
# --from --to` gives the rollups per hour. Then the same range is replayed into a namespace and must
# give identical rollups.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EVENTS=${EVENTS:-30000}
require_stack
PSQL=(psql -qAtX "$PG_URL")
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events "$EVENTS" --seed 5 --start 2026-11-05T00:00:00Z --out "$WORK/gen.jsonl"

# Crafted events, inserted mid-stream (after line $half) for users already in the stream, so that
# their partitions have a watermark: one within the lateness, two beyond it, four invalid ones.
half=$((EVENTS / 2))
python3 - "$WORK/gen.jsonl" "$half" >"$WORK/crafted.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
half = int(sys.argv[2])
T = max(json.loads(l)["occurred_at"] for l in lines[:half])
buyer = next(json.loads(l)["user_id"] for l in lines[:half] if '"order.placed"' in l)
viewer = next(json.loads(l)["user_id"] for l in lines[:half] if '"user.product_viewed"' in l)
item = [{"product_id": "p-00001", "quantity": 2, "unit_price_minor": 5000}]
def order(oid, t, cur="KRW", amount=10000):
    return {"type": "order.placed", "occurred_at": t, "user_id": buyer, "order_id": oid,
            "amount_minor": amount, "currency": cur, "items": item, "points_used": 0}
crafted = [
    order("late-within", T - 60000),                 # 1 min behind: counted
    order("late-beyond", T - 3600000),               # 1 h behind: late
    {"type": "user.product_viewed", "occurred_at": T - 7200000, "user_id": viewer, "product_id": "p-00002"},
    order("bad-currency", T, cur="ABC"),             # invalid: unknown currency
    order("far-future", T + 200 * 86400000),         # invalid: 200 days ahead of the watermark
    {"type": "user.points_earned", "occurred_at": T, "user_id": viewer, "points": -50, "reason": "x"},
    {"type": "inventory.stock_level", "occurred_at": T, "product_id": "p-00003", "region": "KR", "quantity": -1},
]
out = lines[:half] + [json.dumps(c, ensure_ascii=False) for c in crafted] + lines[half:]
print("\n".join(out))
PY
mv "$WORK/crafted.jsonl" "$WORK/gen.jsonl"
python3 "$HERE/analytics_expected.py" "$WORK/gen.jsonl" >"$WORK/expected.json"
log "expected: $(head -c 400 "$WORK/expected.json")..."
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); assert e["late"] == 2, e["late"]; assert sum(e["invalid"].values()) == 4, e["invalid"]' "$WORK/expected.json" ||
  fail "the crafted events are not classified as intended"

NS=$RUN_ID
NAMESPACES+=("$NS" "${NS}_r")
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/gen.jsonl" >"$WORK/emit.out" 2>&1 || fail "emit: $(tail -3 "$WORK/emit.out")"
"$BIN" run analytics --set "topic.prefix=$PREFIX" --set "namespace=$NS" --set http.port=-1 --set flush.events=2000 \
  --set flush.ms=50 --set "instance.id=$RUN_ID" --until-caught-up >"$WORK/worker.log" 2>&1 ||
  fail "worker: $(tail -3 "$WORK/worker.log")"
grep -c 'late event beyond the allowed lateness' "$WORK/worker.log" | grep -qx 2 || fail "expected 2 late-event log lines"

# PostgreSQL totals, and the day and minute grains summed, against the expectation.
check_pg() { # check_pg SCHEMA LABEL
  "${PSQL[@]}" -c "SELECT grain, metric || CASE WHEN dim = '' THEN '' ELSE ':' || dim END, sum(value)
     FROM $1.analytics_rollup WHERE metric NOT LIKE 'p\_%' AND metric NOT LIKE 'ab\_%'
     AND NOT (metric = 'late' AND dim <> '') GROUP BY 1, 2" >"$WORK/pg.$1.txt"
  python3 - "$WORK/expected.json" "$WORK/pg.$1.txt" "$2" <<'PY'
import collections, json, sys
exp = json.load(open(sys.argv[1]))
want = dict(exp["total"]); want["late"] = exp["late"]
got = collections.defaultdict(dict)
for line in open(sys.argv[2]):
    g, k, v = line.rstrip("\n").split("|")
    got[g][k] = int(v)
ok = True
for g in ("total", "day", "hour", "minute"):
    have = {k: got[g].get(k, 0) for k in want}
    diff = {k: (want[k], have[k]) for k in want if want[k] != have[k]}
    print(f"{sys.argv[3]}: postgresql {g:6s} {'equal' if not diff else 'DIFFERENT ' + str(diff)} ({len(want)} metrics)")
    ok = ok and not diff
sys.exit(0 if ok else 1)
PY
}
check_pg "bt_$NS" "live" || fail "PostgreSQL rollups differ from the independent computation"

# `query stats --by hour --from --to` (the dashboard's /api/stats query): each hour of a range
# equals the minute rollups of that hour summed, and over all of time the total equals the
# independent computation.
FROM=2026-11-05T00:00:00Z TO=2026-11-06T00:00:00Z
"$BIN" query stats --namespace "$NS" --by hour --from "$FROM" --to "$TO" --json >"$WORK/stats_hour.json" ||
  fail "query stats --by hour failed"
"$BIN" query stats --namespace "$NS" --by hour --from "$FROM" --to "$TO" >"$WORK/stats_hour.txt" ||
  fail "query stats --by hour (text) failed"
"$BIN" query stats --namespace "$NS" --by hour --from 2000-01-01T00:00:00Z --to 2100-01-01T00:00:00Z --json \
  >"$WORK/stats_all.json" || fail "query stats --by hour over all time failed"
"${PSQL[@]}" -c "SELECT (extract(epoch FROM date_trunc('hour', bucket)) * 1000)::bigint,
     metric || CASE WHEN dim = '' THEN '' ELSE ':' || dim END, sum(value)
   FROM bt_$NS.analytics_rollup WHERE grain = 'minute' AND metric NOT LIKE 'p\_%'
   AND bucket >= '$FROM' AND bucket < '$TO' GROUP BY 1, 2" >"$WORK/minutes_by_hour.txt"
python3 - "$WORK/stats_hour.json" "$WORK/minutes_by_hour.txt" "$WORK/stats_all.json" "$WORK/expected.json" \
  "$WORK/stats_hour.txt" <<'PY' || fail "query stats --by hour differs from the rollups"
import collections, json, sys
st = json.load(open(sys.argv[1]))
want = collections.defaultdict(dict)
for line in open(sys.argv[2]):
    t, k, v = line.rstrip("\n").split("|")
    want[int(t)][k] = int(v)
got = {b["bucket_ms"]: {k: v for k, v in b.items() if k != "bucket_ms"} for b in st["buckets"]}
assert st["by"] == "hour" and st["from_ms"] == 1793836800000 and st["to_ms"] == 1793923200000, st
assert got, "no hour buckets in the range"
ok = got == dict(want)
print(f"query stats --by hour: {len(got)} hours, {sum(len(v) for v in got.values())} values, "
      f"{'equal to' if ok else 'DIFFERENT from'} the minute rollups summed per hour")
exp = json.load(open(sys.argv[4]))
total = dict(exp["total"]); total["late"] = exp["late"]
have = json.load(open(sys.argv[3]))["total"]
diff = {k: (total[k], have.get(k, 0)) for k in total if total[k] != have.get(k, 0)}
print(f"query stats --by hour, all time: total of the {len(total)} metrics computed independently",
      "equal" if not diff else f"DIFFERENT {diff}")
text = open(sys.argv[5]).read()
lines = [l for l in text.splitlines() if l.startswith("  ")]
text_ok = len(lines) == len(got) + 1 and f"orders={sum(v.get('orders', 0) for v in got.values())}" in lines[-1]
print("query stats --by hour (text):", lines[-1][:120] if lines else "nothing", "" if text_ok else "UNEXPECTED")
sys.exit(0 if ok and not diff and text_ok else 1)
PY

# Redis totals and active users.
redis_cli HGETALL "bt:$NS:an:total" | paste - - >"$WORK/redis_total.txt"
for d in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["dau"]))' "$WORK/expected.json"); do
  echo "$d $(redis_cli PFCOUNT "bt:$NS:an:hll:day:$d") $("${PSQL[@]}" -c "SELECT count(*) FROM bt_$NS.analytics_day_users WHERE kind = 'active' AND day = to_date('$d', 'YYYYMMDD')")"
done >"$WORK/dau.txt"
python3 - "$WORK/expected.json" "$WORK/redis_total.txt" "$WORK/dau.txt" <<'PY' || fail "Redis view or active users differ"
import json, sys
exp = json.load(open(sys.argv[1]))
want = dict(exp["total"]); want["late"] = exp["late"]
have = {}
for line in open(sys.argv[2]):
    k, v = line.rstrip("\n").split("\t")
    have[k] = int(v)
diff = {k: (want[k], have.get(k, 0)) for k in want if want[k] != have.get(k, 0)}
print("live: redis      total", "equal" if not diff else "DIFFERENT " + str(diff))
ok = not diff
for line in open(sys.argv[3]):
    d, hll, pg = line.split()
    exact = exp["dau"][d]
    err = abs(int(hll) - exact) / max(1, exact)
    print(f"live: active users {d}: expected {exact}, postgresql {pg}, redis HyperLogLog {hll} ({100*err:.2f}% off)")
    ok = ok and int(pg) == exact and err < 0.03
sys.exit(0 if ok else 1)
PY

dlq_of() { "$BIN" topics list | awk -v t="${PREFIX}shop.$1.events.dlq" '$1 == t {sub("messages=", "", $3); print $3}'; }
[ "$(dlq_of order)" = 2 ] && [ "$(dlq_of user)" = 1 ] && [ "$(dlq_of inventory)" = 1 ] ||
  fail "dead letters: order=$(dlq_of order) user=$(dlq_of user) inventory=$(dlq_of inventory), expected 2, 1, 1"
log "dead-letter topics hold the 4 invalid events (unknown currency, far future, negative points, negative stock)"

# Replay the same range into another namespace: identical rollups, day users and product rows.
"$BIN" replay analytics --set "topic.prefix=$PREFIX" --namespace "${NS}_r" --set log.level=error >"$WORK/replay.log" 2>&1 ||
  fail "replay: $(tail -3 "$WORK/replay.log")"
for t in analytics_rollup analytics_day_users analytics_minute analytics_partition_state analytics_oos_open; do
  n=$("${PSQL[@]}" -c "SELECT count(*) FROM ((SELECT * FROM bt_$NS.$t EXCEPT SELECT * FROM bt_${NS}_r.$t)
        UNION ALL (SELECT * FROM bt_${NS}_r.$t EXCEPT SELECT * FROM bt_$NS.$t)) d")
  rows=$("${PSQL[@]}" -c "SELECT count(*) FROM bt_$NS.$t")
  [ "$n" = 0 ] || fail "replay: $t differs in $n rows"
  log "replay: $t identical ($rows rows)"
done
check_pg "bt_${NS}_r" "replay" || fail "replayed rollups differ"
log "PASS"
