#!/usr/bin/env bash
# test_reco.sh: the recommendation worker end to end (real Kafka, Redis, PostgreSQL).
#  1. Flags: `shopstream flags set` writes PostgreSQL and publishes on shop.flags; the A/B flag
#     (variants blend/cosine) is read back by `flags get`.
#  2. One instance over a generated stream (views, carts, wishlists, purchases, visual searches,
#     catalog): users get reco:user:<id> without the items they bought, each with its variant
#     (both variants in use), products get reco:item:<id>, PostgreSQL has the similarity
#     snapshot; `query reco` and HTTP /reco/user/<id> answer.
#  3. Two instances in one group, fed while they run, stopped one after the other: the same dump.
#  4. Replay into a namespace: the same dump.
# Each check logs one "ok:" line; anything else fails the test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
ok() { log "ok: $*"; }
EVENTS=${RECO_EVENTS:-40000}

"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events "$EVENTS" --users 1500 --products 400 --seed 11 --out "$WORK/stream.jsonl" \
  2>"$WORK/generate.err" || fail "generate: $(cat "$WORK/generate.err")"
N1=${RUN_ID}o N2=${RUN_ID}t NR=${RUN_ID}r
NAMESPACES+=("$N1" "$N2" "$NR")

# ---- 1. flags -----------------------------------------------------------------------------------
for ns in "$N1" "$N2" "$NR"; do
  "$BIN" flags set reco.algorithm --variants blend:50,cosine:50 --namespace "$ns" \
    --set "topic.prefix=$PREFIX" >"$WORK/flags_$ns.out" 2>&1 || fail "flags set: $(cat "$WORK/flags_$ns.out")"
  grep -q "published" "$WORK/flags_$ns.out" || fail "flags set did not publish: $(cat "$WORK/flags_$ns.out")"
done
"$BIN" flags get reco.algorithm --namespace "$N1" | grep -q '"cosine"' || fail "flags get"
"$BIN" flags list --namespace "$N1" | grep -q '^reco.algorithm' || fail "flags list"
ok "flags: reco.algorithm stored in PostgreSQL (3 namespaces) and published on ${PREFIX}shop.flags"

# ---- 2. one instance ------------------------------------------------------------------------------
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/stream.jsonl" >"$WORK/emit1.out" 2>&1 || fail "emit: $(tail -3 "$WORK/emit1.out")"
"$BIN" run reco --set "topic.prefix=$PREFIX" --set "namespace=$N1" --set http.port=-1 \
  --set "instance.id=$RUN_ID-1" --set log.level=warn --until-caught-up >"$WORK/one.log" 2>&1 ||
  fail "one instance: $(tail -5 "$WORK/one.log")"
python3 - "$WORK/stream.jsonl" "bt:$N1:" "$REDIS_HP" <<'PY' || fail "recommendations do not match the stream (see above)"
import json, subprocess, sys
path, pre, hp = sys.argv[1:]
host, port = hp.split(":")
def r(*a):
    return subprocess.run(["redis-cli", "-h", host, "-p", port, "--raw"] + list(a), check=True,
                          capture_output=True, text=True).stdout.split("\n")[:-1]
bought, viewed = {}, {}
for line in open(path):
    e = json.loads(line)
    if e["type"] == "order.placed":
        bought.setdefault(e["user_id"], set()).update(i["product_id"] for i in e["items"])
    elif e["type"] == "user.product_viewed":
        viewed.setdefault(e["user_id"], set()).add(e["product_id"])
both = sorted(u for u in bought if u in viewed)
assert both, "the stream has no user with views and purchases"
with_recs = 0
for u in both:
    recs = r("ZREVRANGE", pre + "reco:user:" + u, "0", "-1")
    assert not set(recs) & bought[u], "user %s is recommended items they bought: %s" % (u, set(recs) & bought[u])
    with_recs += bool(recs)
assert with_recs == len(both), "%d of %d buyers have recommendations" % (with_recs, len(both))
variants = r("HVALS", pre + "reco:variant")
assert {"blend", "cosine"} <= set(variants), "variants in use: %s" % set(variants)
items = {p for s in viewed.values() for p in s}
have = sum(1 for p in sorted(items)[:200] if r("ZCARD", pre + "reco:item:" + p)[0] != "0")
assert have >= 150, "only %d of 200 viewed products have similar items" % have
print("  %d buyers who also viewed: all have recommendations, none of their purchases; variants %s "
      "(%d users); %d of 200 viewed products have similar items"
      % (len(both), sorted(set(variants)), len(variants), have))
PY
ok "one instance: views and purchases produce reco:user and reco:item, bought items excluded, A/B variants recorded"
rows=$(psql -tA "$PG_URL" -c "SELECT count(*) FROM bt_$N1.reco_similarity")
[ "$rows" -gt 0 ] || fail "no similarity snapshot in bt_$N1.reco_similarity"
vrows=$(psql -tA "$PG_URL" -c "SELECT count(DISTINCT variant) FROM bt_$N1.reco_variants")
[ "$vrows" = 2 ] || fail "reco_variants holds $vrows variants"
ok "postgresql: $rows similarity rows in the snapshot, variants of every user in reco_variants"
u=$(redis_cli --raw HKEYS "bt:$N1:reco:variant" | awk 'NR == 1')
"$BIN" query reco --namespace "$N1" --user "$u" --json >"$WORK/q.json" || fail "query reco --user"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['items'] and d['variant'], d" "$WORK/q.json" ||
  fail "query reco --user: $(cat "$WORK/q.json")"
P=$(free_port)
"$BIN" run reco --set "topic.prefix=$PREFIX" --set "namespace=$N1" --set "http.port=$P" \
  --set "instance.id=$RUN_ID-h" --set log.level=warn >"$WORK/http.log" 2>&1 &
H=$!
WORKER_PIDS+=("$H")
for ((i = 0; i < 100; i++)); do curl -fsS "http://127.0.0.1:$P/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$P/reco/user/$u" >"$WORK/h.json" || fail "HTTP /reco/user/$u"
kill -TERM "$H"
wait "$H" || true
python3 -c "
import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert a['items']==b['items'][:len(a['items'])] and a['variant']==b['variant'], (a, b)" "$WORK/h.json" "$WORK/q.json" ||
  fail "HTTP and CLI differ"
ok "query reco --user and HTTP /reco/user/<id> agree"

dump() { # dump NAMESPACE OUT: the namespace's Redis keys, offsets left out
  python3 "$HERE/dump_views.py" --redis "$REDIS_URL" --prefix "bt:$1:" --out "$2" || fail "dump_views $1"
}
same() { # same A B WHAT
  cmp -s "$1" "$2" && return 0
  python3 "$HERE/dump_views.py" --diff "$1" "$2" >&2 || true
  fail "$3: the dumps differ ($1 vs $2)"
}
dump "$N1" "$WORK/one.txt"

# ---- 3. two instances, the stream arriving while they run --------------------------------------
# A second copy of the stream goes into fresh topics, emitted in slices while two instances run.
PREFIX2="${RUN_ID}b."
EXTRA_PREFIXES+=("$PREFIX2")
"$BIN" topics create --prefix "$PREFIX2" --partitions 6 >/dev/null
"$BIN" run reco --set "topic.prefix=$PREFIX2" --set "namespace=$N2" --set http.port=-1 --set flush.ms=50 \
  --set flush.events=300 --set "instance.id=$RUN_ID-t1" --set log.level=warn >"$WORK/t1.log" 2>&1 &
T1=$!
WORKER_PIDS+=("$T1")
"$BIN" run reco --set "topic.prefix=$PREFIX2" --set "namespace=$N2" --set http.port=-1 --set flush.ms=50 \
  --set flush.events=300 --set "instance.id=$RUN_ID-t2" --set log.level=warn >"$WORK/t2.log" 2>&1 &
T2=$!
WORKER_PIDS+=("$T2")
split -n l/10 -d -a 2 "$WORK/stream.jsonl" "$WORK/slice."
for f in "$WORK"/slice.*; do
  "$BIN" emit --set "topic.prefix=$PREFIX2" "$f" >>"$WORK/emit2.out" 2>&1 || fail "emit $f"
  sleep 0.3
done
# Stop one, then the other: the last one owns every partition, has nothing left to consume and
# its final refresh reads the complete committed state.
sleep 3
kill -TERM "$T1"
wait "$T1" || fail "instance 1 exit status"
"$BIN" run reco --set "topic.prefix=$PREFIX2" --set "namespace=$N2" --set http.port=-1 \
  --set "instance.id=$RUN_ID-t3" --set log.level=warn --until-caught-up >"$WORK/t3.log" 2>&1 &
T3=$!
WORKER_PIDS+=("$T3")
sleep 2
kill -TERM "$T2"
wait "$T2" || fail "instance 2 exit status"
wait "$T3" || fail "instance 3 exit status: $(tail -5 "$WORK/t3.log")"
dump "$N2" "$WORK/two.txt"
same "$WORK/one.txt" "$WORK/two.txt" "two instances fed while running vs one instance"
ok "two instances (stream arriving while they run, stopped in turn) give the same views as one"

# ---- 4. replay into a namespace -----------------------------------------------------------------
"$BIN" replay reco --namespace "$NR" --set "topic.prefix=$PREFIX" --set log.level=warn \
  >"$WORK/replay.log" 2>&1 || fail "replay: $(tail -5 "$WORK/replay.log")"
dump "$NR" "$WORK/replay.txt"
same "$WORK/one.txt" "$WORK/replay.txt" "replay vs live"
ok "replay into namespace $NR gives the same views as the live run ($(grep -c '^key ' "$WORK/one.txt") keys)"
