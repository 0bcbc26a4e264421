#!/usr/bin/env bash
# test_emit.sh: `shopstream emit` against the real broker: a file of three valid lines and one bad
# line delivers the three, names the bad one by line and field, exits non-zero; the three read back
# from Kafka with `shopstream decode` equal what was sent, on the partition Java's murmur2 picks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
cat >"$WORK/in.jsonl" <<'JSON'
{"type":"order.placed","event_id":"0b5c6a7e-1f2d-4c3b-8a9e-000000000001","occurred_at":1793491200000,"user_id":"u1","order_id":"o1","amount_minor":25900,"currency":"KRW","items":[{"product_id":"p7","quantity":1,"unit_price_minor":25900}]}
{"type":"search.query","event_id":"0b5c6a7e-1f2d-4c3b-8a9e-000000000002","occurred_at":1793491201000,"user_id":"u1","query":"빨간색 선글라스","result_count":12}
{"type":"order.placed","user_id":"u2","order_id":"o2","amount_minor":"12.5","currency":"KRW","items":[]}
{"type":"order.paid","event_id":"0b5c6a7e-1f2d-4c3b-8a9e-000000000003","occurred_at":1793491202000,"user_id":"u1","order_id":"o1","amount_minor":25900,"currency":"KRW"}
JSON
set +e
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/in.jsonl" >"$WORK/out" 2>"$WORK/err"
status=$?
set -e
log "emit: $(cat "$WORK/out"); stderr: $(cat "$WORK/err")"
[ "$status" -ne 0 ] || fail "emit exited 0 with a rejected line"
grep -qx 'sent=3 rejected=1 failed=0' "$WORK/out" || fail "unexpected summary: $(cat "$WORK/out")"
grep -qF 'line 3: order.placed: field amount_minor: expected long, got "12.5"' "$WORK/err" || fail "bad line not named: $(cat "$WORK/err")"

"$BIN" decode --topic "${PREFIX}shop.order.events" --offset beginning --count 2 --meta >"$WORK/orders.json"
"$BIN" decode --topic "${PREFIX}shop.search.events" --offset beginning --count 1 --meta >"$WORK/search.json"
python3 - "$WORK/in.jsonl" "$WORK/orders.json" "$WORK/search.json" <<'PY'
import json, sys
sent = [json.loads(l) for i, l in enumerate(open(sys.argv[1])) if i != 2]
got = [json.loads(l) for f in sys.argv[2:] for l in open(f)]
def norm(v):
    """Omitted optional fields read back as null: drop nulls on both sides before comparing."""
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
by_id = {g["value"]["event_id"]: g for g in got}
assert len(by_id) == 3, f"expected 3 events back, got {len(by_id)}"
# Partition of key "u1" with Java's murmur2 partitioner over 6 partitions (reference: Kafka's
# Utils.murmur2, toPositive(hash) % numPartitions).
def murmur2(data):
    m, r, h = 0x5bd1e995, 24, 0x9747b28c ^ len(data)
    for i in range(0, len(data) - len(data) % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xffffffff; k ^= k >> r; k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff; h ^= k
    rest = len(data) % 4; tail = data[len(data) - rest:]
    if rest == 3: h ^= tail[2] << 16
    if rest >= 2: h ^= tail[1] << 8
    if rest >= 1: h ^= tail[0]; h = (h * m) & 0xffffffff
    h ^= h >> 13; h = (h * m) & 0xffffffff; h ^= h >> 15
    return h
want_part = (murmur2(b"u1") & 0x7fffffff) % 6
for s in sent:
    g = by_id[s["event_id"]]
    ev = g["value"]
    for k, v in s.items():
        assert norm(ev.get(k)) == norm(v), f"{s['type']}: field {k}: sent {v!r}, read back {ev.get(k)!r}"
    if "partition" in g:
        assert g["partition"] == want_part, f"key u1 on partition {g['partition']}, Java's murmur2 says {want_part}"
print(f"3 events read back equal to what was sent, all on partition {want_part} (murmur2 of u1)")
PY
log "PASS"
