#!/usr/bin/env bash
# test_search.sh: the search worker end to end (real Kafka, Redis, PostgreSQL).
#  1. Zipf: 1,000,000 searches over 100,000 distinct queries (exponent 1, seeded) within one hour:
#     trend:24h and trend:1h top-10 (members and counts) equal the exact top-10, and every
#     srch:ss:* summary holds at most search.k (1000) members.
#  2. Korean/English suggestions: jamo and initial-consonant prefixes, accent folding, a user's
#     recent search first, a catalog title before anyone searched it, "did you mean" for a
#     zero-result misspelling.
#  3. Replay into a namespace gives the same views, summaries and PostgreSQL rows as the live run.
#  4. Two instances in one group, and one instance SIGKILLed mid-stream and restarted, give the
#     same dump as one clean instance.
#  5. Bad input (a 10 KB query, invalid UTF-8, an ESC, a negative result_count) lands in the
#     dead-letter topic with a reason and the worker goes on; bad HTTP input answers 400.
#  6. HTTP /suggest equals the CLI; /trending?window=1h is JSON.
# Each check logs one "ok:" line; anything else fails the test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RAW=${KAFKA_RAW:?set KAFKA_RAW to the kafka_raw test helper}
BROKERS=${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}
ZIPF_EVENTS=${ZIPF_EVENTS:-1000000}
ZIPF_DISTINCT=${ZIPF_DISTINCT:-100000}
require_stack
T_START=$(date +%s)
ok() { log "ok: $*"; }
# A check whose failure does not stop the later phases; the test fails at the end with all of them.
FAILS=()
soft_fail() {
  printf '%s: FAIL: %s\n' "$(basename "$0")" "$*" >&2
  FAILS+=("$*")
}
secs() { echo $(($(date +%s) - $1)); }

ZPREFIX="${RUN_ID}z."
log "run $RUN_ID: topics ${PREFIX}* and ${ZPREFIX}*, namespaces bt:$RUN_ID*"
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
EXTRA_PREFIXES+=("$ZPREFIX")
"$BIN" topics create --prefix "$ZPREFIX" --partitions 6 >/dev/null

# DUMP_EXCLUDE (a regex, diagnostic only, empty by default) leaves more keys out of the comparisons.
dump() { # dump NAMESPACE OUT: the namespace's Redis keys (no offsets) and its search_query_hour
  python3 "$HERE/dump_views.py" --redis "$REDIS_URL" --prefix "bt:$1:" --pg-url "$PG_URL" \
    --pg-table "bt_$1.search_query_hour" --pg-order hour,query ${DUMP_EXCLUDE:+--exclude "$DUMP_EXCLUDE"} \
    --out "$2" || fail "dump_views $1"
}
# srch:sugg:fp is documented as the index of the suggestion keys that exist: check it names them all.
check_sugg_index() { # check_sugg_index NAMESPACE
  python3 - "$1" "$REDIS_URL" "$HERE" <<'PY' || { soft_fail "namespace $1: srch:sugg:fp does not list every existing sugg:<key> (see above)"; return 1; }
import sys
sys.path.insert(0, sys.argv[3])
from dump_views import Redis, glob_escape
pre = ("bt:%s:" % sys.argv[1]).encode()
r = Redis(sys.argv[2])
keys = {k[len(pre) + 5:] for k in r.scan(glob_escape(pre.decode()) + "sugg:*")}
index = set(r.call("HKEYS", pre + b"srch:sugg:fp"))
missing, extra = sorted(keys - index), sorted(index - keys)
if missing or extra:
    print("  %d sugg:<key> keys exist, srch:sugg:fp lists %d: %d missing from it (e.g. %s), %d listed but absent (e.g. %s)"
          % (len(keys), len(index), len(missing), [m.decode() for m in missing[:3]], len(extra), [m.decode() for m in extra[:3]]), file=sys.stderr)
    sys.exit(1)
PY
}
same_dump() { # same_dump A B WHAT: 0 when byte-equal, else names the differing keys (soft failure)
  cmp -s "$1" "$2" && return 0
  python3 "$HERE/dump_views.py" --diff "$1" "$2" >&2 || true
  soft_fail "$3: the dumps differ ($(diff "$1" "$2" | grep -c '^[<>]') lines; $1 vs $2)"
  return 1
}
lag() { # lag PORT: "<partitions> <total lag>" from a worker's /metrics
  { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
    awk '/^shopstream_consumer_lag\{/ {s += $2; n++} END {print n + 0, s + 0}'
}

# ---- 1. Zipf ---------------------------------------------------------------------------------
t=$(date +%s)
python3 "$HERE/zipf_searches.py" zipf --events "$ZIPF_EVENTS" --distinct "$ZIPF_DISTINCT" --exponent 1.0 \
  --seed 42 --start 2026-11-05T10:00:00Z --span-s 3600 --out "$WORK/zipf.jsonl" --expected "$WORK/zipf.json"
log "zipf: generated $ZIPF_EVENTS events over $ZIPF_DISTINCT queries in $(secs "$t") s"
t=$(date +%s)
"$BIN" emit --set "topic.prefix=$ZPREFIX" "$WORK/zipf.jsonl" >"$WORK/zipf_emit.out" 2>&1 ||
  fail "zipf emit: $(tail -3 "$WORK/zipf_emit.out")"
grep -q "sent=$ZIPF_EVENTS rejected=0 failed=0" "$WORK/zipf_emit.out" || fail "zipf emit: $(cat "$WORK/zipf_emit.out")"
log "zipf: emitted in $(secs "$t") s"
ZNS=${RUN_ID}z
NAMESPACES+=("$ZNS")
t=$(date +%s)
"$BIN" run search --set "topic.prefix=$ZPREFIX" --set "namespace=$ZNS" --set search.k=1000 \
  --set search.suggest.k=1000 --set http.port=-1 --set "instance.id=$RUN_ID-z" --set log.level=warn --until-caught-up \
  >"$WORK/zipf_worker.log" 2>&1 || fail "zipf worker: $(tail -5 "$WORK/zipf_worker.log")"
zs=$(secs "$t")
log "zipf: worker caught up in $zs s (about $((ZIPF_EVENTS / (zs > 0 ? zs : 1))) events/s, start-up included)"
for w in 24h 1h; do
  "$BIN" query trending --namespace "$ZNS" --window "$w" -n 10 --json >"$WORK/zipf_$w.json" ||
    fail "query trending --window $w"
  python3 - "$WORK/zipf.json" "$WORK/zipf_$w.json" "$w" <<'PY' || fail "zipf: trend:$w top-10 is not the exact top-10"
import json, sys
exp = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
want = [(q, c) for q, c in exp["top"][:10]]
have = [(i["query"], int(round(i["count"]))) for i in got["items"]]
assert exp["top"][9][1] > exp["count_11th"], "the exact top-10 is not unique (tie at rank 10)"
for i, (a, b) in enumerate(zip(want, have)):
    print("  %2d. %-12s exact %6d  trend:%s %6d%s" % (i + 1, a[0], a[1], sys.argv[3], b[1], "" if a == b else "  <-- differs"))
# Redis orders equal scores by member; the exact list is ordered (count desc, query asc).
if sorted(want) != sorted(have) or [c for _, c in want] != [c for _, c in have]:
    print("expected %s\ngot      %s" % (want, have), file=sys.stderr)
    sys.exit(1)
PY
  ok "zipf: trend:$w top-10 (members and counts) equals the exact top-10 of $ZIPF_EVENTS events"
done
python3 "$HERE/dump_views.py" --redis "$REDIS_URL" --prefix "bt:$ZNS:srch:ss:" --out "$WORK/zipf_ss.txt" ||
  fail "dump of the summaries"
# Every summary is bounded: the bucketed levels (1m, 5m, 1h, cat) by search.k, the recency-weighted
# ones (pop, zero, few) by search.suggest.k (pop) and search.k; both are 1000 here.
awk '/^key / {split($2, k, ":"); split($4, n, "="); t = $3 == "type=zset" ? k[1] : k[1] ":err";
  c[t]++; if (n[2] + 0 > m[t]) m[t] = n[2] + 0} END {for (t in c) print t, c[t], m[t]}' "$WORK/zipf_ss.txt" | sort >"$WORK/zipf_ss_levels.txt"
sed 's/^/  level, summaries, largest: /' "$WORK/zipf_ss_levels.txt"
nz=$(grep -c ' type=zset ' "$WORK/zipf_ss.txt" || true)
maxz=$(awk 'BEGIN {m = 0} {if ($3 > m) m = $3} END {print m}' "$WORK/zipf_ss_levels.txt")
[ "$nz" -gt 0 ] || fail "no srch:ss:* summaries"
[ "$maxz" -le 1000 ] || fail "a srch:ss:* summary (or its error hash) holds $maxz members, over search.k=1000"
ok "zipf: memory bounded by K: $nz srch:ss:* summaries, the largest holds $maxz members (search.k=search.suggest.k=1000)"
log "zipf: phase took $(secs "$T_START") s"

# ---- the shop stream: Korean/English queries, catalog titles, a medium Zipf, bad input -------
t=$(date +%s)
python3 "$HERE/zipf_searches.py" shop --start 2026-11-06T10:30:00Z --out "$WORK/shop.jsonl" >/dev/null
python3 "$HERE/zipf_searches.py" zipf --events 60000 --distinct 5000 --seed 7 --start 2026-11-06T09:00:00Z \
  --span-s 7200 --users 3000 --clicks-every 20 --out "$WORK/medium.jsonl"
python3 - "$WORK/bad.jsonl" <<'PY'
import json, sys
t = 1793962800000  # 2026-11-06T10:00:00Z, mid-stream
bad = [{"query": "x" * 10240, "result_count": 5}, {"query": "esc\u001b[31mred", "result_count": 5},
       {"query": "negative results", "result_count": -3}]
with open(sys.argv[1], "w") as f:
    for i, b in enumerate(bad):
        f.write(json.dumps(dict({"type": "search.query", "occurred_at": t + i, "user_id": "u-bad%d" % i}, **b)) + "\n")
PY
# Merged in event-time order (stable), so each partition sees its events in time order.
python3 - "$WORK/stream.jsonl" "$WORK/medium.jsonl" "$WORK/shop.jsonl" "$WORK/bad.jsonl" <<'PY'
import json, sys
rows = []
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        rows += [(json.loads(l)["occurred_at"], i, l) for i, l in enumerate(f)]
rows.sort(key=lambda r: r[0])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.writelines(r[2] for r in rows)
PY
NSTREAM=$(wc -l <"$WORK/stream.jsonl")
# Invalid UTF-8 cannot be written as JSON: a valid message is emitted first and copied with one
# byte of its query replaced by 0xFF (same length, so the Avro stays well-formed).
echo '{"type":"search.query","occurred_at":1793955600000,"user_id":"u-raw","query":"utf8 probe","result_count":5}' >"$WORK/probe.jsonl"
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/probe.jsonl" >/dev/null 2>&1 || fail "emit probe"
mkdir -p "$WORK/probe" "$WORK/dlq"
"$RAW" dump "$BROKERS" "${PREFIX}shop.search.events" "$WORK/probe" >/dev/null || fail "kafka_raw dump"
probe=$(ls "$WORK"/probe/*.bin)
[ "$(echo "$probe" | wc -l)" = 1 ] || fail "expected one probe message"
python3 - "$probe" "$WORK/bad_utf8.bin" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
assert b.count(b"utf8 probe") == 1
open(sys.argv[2], "wb").write(b.replace(b"utf8 probe", b"utf8 pr\xffbe"))
PY
"$RAW" produce "$BROKERS" "${PREFIX}shop.search.events" u-raw "$WORK/bad_utf8.bin" || fail "producing the invalid UTF-8 message"
searches=$(($(grep -c '"type": *"search.query"' "$WORK/stream.jsonl") - 3 + 1)) # valid ones + the probe
clicks=$(grep -c '"type":"search.result_clicked"\|"type": "search.result_clicked"' "$WORK/stream.jsonl")
log "shop stream: $NSTREAM events ($searches valid searches, $clicks clicks, 4 bad searches) prepared in $(secs "$t") s"

# ---- 4. two instances (namespace A) and a killed one (namespace K), while the stream arrives --
t=$(date +%s)
NA=${RUN_ID}a NK=${RUN_ID}k NL=${RUN_ID}l NR=${RUN_ID}r
NAMESPACES+=("$NA" "$NK" "$NL" "$NR")
sopts=(--set search.k=200 --set search.suggest.k=300 --set flush.events=500 --set flush.ms=20
  --set log.level=info --set kafka.session.timeout.ms=6000)
emit_in_slices "$WORK/stream.jsonl" 0.3
PA1=$(free_port)
# The two instances write their views in transactions of 20 commands: both refresh the same keys
# chunk by chunk, each claiming the write (srch:sugg:claim), and must still end equal to one.
# They, and the instance killed twice (K), commit their Redis flushes on the runtime's flush
# thread (redis.flush.async, search's default); L and the replay commit inline.
aopts=(--set search.refresh.chunk=20 --set redis.flush.async=true)
start_worker search "$WORK/a1.log" "${sopts[@]}" "${aopts[@]}" --set "namespace=$NA" --set "http.port=$PA1" --set "instance.id=$RUN_ID-a1"
A1=$WORKER_PID
PK=$(free_port)
start_worker search "$WORK/k.log" "${sopts[@]}" --set redis.flush.async=true --set "namespace=$NK" --set "http.port=$PK" --set "instance.id=$RUN_ID-k"
K=$WORKER_PID
wait_metric "$PA1" shopstream_events_total 200 60 "$A1"
PA2=$(free_port)
start_worker search "$WORK/a2.log" "${sopts[@]}" "${aopts[@]}" --set "namespace=$NA" --set "http.port=$PA2" --set "instance.id=$RUN_ID-a2"
A2=$WORKER_PID
for kill_no in 1 2; do
  wait_metric "$PK" shopstream_events_total $((NSTREAM / 5)) 120 "$K"
  seen=$(metric "$PK" shopstream_events_total)
  kill -9 "$K"
  wait "$K" 2>/dev/null || true
  log "kill $kill_no: SIGKILL of the K worker after $seen events"
  start_worker search "$WORK/k.log" "${sopts[@]}" --set redis.flush.async=true --set "namespace=$NK" --set "http.port=$PK" --set "instance.id=$RUN_ID-k"
  K=$WORKER_PID
done
emit_wait "$WORK/stream.jsonl"
wait_metric "$PA2" shopstream_events_total 1 60 "$A2"
for ((i = 0; i < 900; i++)); do
  read -r n1 l1 <<<"$(lag "$PA1")"
  read -r n2 l2 <<<"$(lag "$PA2")"
  read -r nk lk <<<"$(lag "$PK")"
  [ $((n1 + n2)) = 12 ] && [ $((l1 + l2)) = 0 ] && [ "$nk" = 12 ] && [ "$lk" = 0 ] && break
  sleep 0.1
done
[ $((n1 + n2)) = 12 ] && [ $((l1 + l2)) = 0 ] || fail "A instances did not catch up (partitions $n1+$n2, lag $l1+$l2)"
[ "$nk" = 12 ] && [ "$lk" = 0 ] || fail "K did not catch up (partitions $nk, lag $lk)"
log "A1 has $n1 partitions, A2 has $n2; all caught up; A1=$(metric "$PA1" shopstream_events_total) A2=$(metric "$PA2" shopstream_events_total) events"
sleep 3 # each instance's last flush is followed by a refresh within refresh.ms (1000)
for p in "$A1" "$A2" "$K"; do
  kill -TERM "$p"
  wait "$p" || fail "worker $p did not stop cleanly"
done
log "two instances and the killed one done in $(secs "$t") s"

# ---- the reference: one clean instance (namespace L), then a replay (namespace R) -------------
t=$(date +%s)
"$BIN" run search --set "topic.prefix=$PREFIX" "${sopts[@]}" --set "namespace=$NL" --set http.port=-1 \
  --set "instance.id=$RUN_ID-l" --set redis.flush.async=false --until-caught-up >"$WORK/l.log" 2>&1 || fail "L worker: $(tail -5 "$WORK/l.log")"
log "one instance (L) caught up in $(secs "$t") s"
t=$(date +%s)
"$BIN" replay search --set "topic.prefix=$PREFIX" "${sopts[@]}" --set redis.flush.async=false \
  --namespace "$NR" >"$WORK/r.log" 2>&1 ||
  fail "replay: $(tail -5 "$WORK/r.log")"
log "replay (R) done in $(secs "$t") s"
for ns in "$NL" "$NR" "$NA" "$NK"; do dump "$ns" "$WORK/dump_$ns.txt"; done
got=$(psql -X -At "$PG_URL" -c "SELECT sum(searches), sum(zero_results), sum(clicks) FROM bt_$NL.search_query_hour")
[ "$got" = "$searches|6|$clicks" ] || fail "search_query_hour totals: got $got, want $searches|6|$clicks"
ok "search_query_hour holds every valid search ($searches), zero-result search (6) and click ($clicks)"
log "dump of L: $(grep -c '^key ' "$WORK/dump_$NL.txt") keys, $(wc -l <"$WORK/dump_$NL.txt") lines"
idx=0
for ns in "$NL" "$NR" "$NA" "$NK"; do check_sugg_index "$ns" || idx=1; done
[ "$idx" = 1 ] || ok "srch:sugg:fp lists exactly the existing suggestion keys (L, R, A, K)"
same_dump "$WORK/dump_$NL.txt" "$WORK/dump_$NR.txt" "replay vs live" &&
  ok "replay into a namespace equals the live run: views, srch:ss summaries and search_query_hour, byte for byte"
same_dump "$WORK/dump_$NL.txt" "$WORK/dump_$NA.txt" "two instances vs one" &&
  ok "two instances in one group equal one instance, byte for byte"
same_dump "$WORK/dump_$NL.txt" "$WORK/dump_$NK.txt" "killed twice vs clean" &&
  ok "an instance SIGKILLed twice mid-stream and restarted equals the clean run, byte for byte"

# ---- 2. suggestions, in namespace L -----------------------------------------------------------
sug() { "$BIN" query suggest "$@" --namespace "$NL" --json; }
first() { python3 -c 'import json,sys; s=json.load(sys.stdin)["suggestions"]; print(s[0]["text"] if s else "")'; }
texts() { python3 -c 'import json,sys; print("|".join(i["text"] for i in json.load(sys.stdin)["suggestions"]))'; }
[ "$(sug "선ㄱ" | first)" = "선글라스" ] || fail "suggest 선ㄱ: $(sug "선ㄱ" | texts)"
ok "suggest \"선ㄱ\": 선글라스 first ($(sug "선ㄱ" | texts))"
sug "ㅅㄱㄹㅅ" | texts | tr '|' '\n' | grep -qx "선글라스" || fail "suggest ㅅㄱㄹㅅ: $(sug "ㅅㄱㄹㅅ" | texts)"
ok "suggest \"ㅅㄱㄹㅅ\" (initial consonants) finds 선글라스 ($(sug "ㅅㄱㄹㅅ" | texts))"
sug "cafe" | texts | tr '|' '\n' | grep -qx "café latte" || fail "suggest cafe: $(sug "cafe" | texts)"
ok "suggest \"cafe\" finds \"café latte\""
sug "lg 노" | texts | tr '|' '\n' | grep -qx "lg 노트북" || fail "suggest lg 노: $(sug "lg 노" | texts)"
ok "suggest \"lg 노\" finds \"lg 노트북\" (case folded)"
out=$(sug "선" --user u-me)
[ "$(echo "$out" | first)" = "선글라스 케이스" ] && echo "$out" | python3 -c 'import json,sys; assert json.load(sys.stdin)["suggestions"][0]["recent"]' ||
  fail "suggest 선 --user u-me: $out"
[ "$(sug "선" | first)" = "선글라스" ] || fail "suggest 선 without a user: $(sug "선" | texts)"
ok "suggest \"선\" --user u-me puts u-me's recent \"선글라스 케이스\" first (others get 선글라스)"
sug "retro w" | texts | tr '|' '\n' | grep -qx "retro walkman cassette player" || fail "suggest retro w: $(sug "retro w" | texts)"
sug "무선 ㅎ" | texts | tr '|' '\n' | grep -qx "무선 핸디 청소기" || fail "suggest 무선 ㅎ: $(sug "무선 ㅎ" | texts)"
sug "레트로" | texts | tr '|' '\n' | grep -qx "레트로 워크맨 카세트" || fail "suggest 레트로 (locale title): $(sug "레트로" | texts)"
ok "catalog titles nobody searched are suggested (retro w, 무선 ㅎ, 레트로)"
dym=$(redis_cli HGET "bt:$NL:dym" "선글러스")
[ "$dym" = "선글라스" ] || fail "dym[선글러스] = '$dym'"
[ "$("$BIN" query correct "선글러스" --namespace "$NL")" = "선글라스" ] || fail "query correct 선글러스"
ok "zero-result \"선글러스\" gets dym -> 선글라스 (materialized and via query correct)"
"$BIN" query trending --namespace "$NL" --window zero --json | grep -q '선글러스' || fail "trend:zero lacks 선글러스"
ok "trend:zero holds 선글러스"

# ---- 5. dead letters -------------------------------------------------------------------------
"$RAW" dump "$BROKERS" "${PREFIX}shop.search.events.dlq" "$WORK/dlq" >"$WORK/dlq.txt" || fail "dump of the DLQ"
python3 - "$WORK/dlq.txt" <<'PY' || fail "dead letters"
import sys
msgs = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    parts = line.rstrip("\n").split("\t")
    h = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    assert h.get("shop.error"), "a dead letter without a reason: " + line[:200]
    msgs.setdefault((h["shop.source.partition"], h["shop.source.offset"]), set()).add(h["shop.error"])
reasons = sorted(r for rs in msgs.values() for r in rs)
for r in reasons:
    print("  dlq reason: " + r[:150])
want = ["over the limit", "invalid UTF-8", "control character U+001B", "result_count -3 is below 0"]
missing = [w for w in want if not any(w in r for r in reasons)]
assert len(msgs) == 4, "expected 4 distinct dead-lettered messages, found %d" % len(msgs)
assert not missing, "no dead letter for: %s" % missing
PY
ok "4 bad searches (10 KB query, invalid UTF-8, ESC, negative result_count) are in ${PREFIX}shop.search.events.dlq with reasons; the worker went on (totals above)"

# ---- 6. HTTP, on a worker serving namespace L --------------------------------------------------
PL=$(free_port)
start_worker search "$WORK/http.log" "${sopts[@]}" --set "namespace=$NL" --set "http.port=$PL" --set "instance.id=$RUN_ID-h"
H=$WORKER_PID
for ((i = 0; i < 100; i++)); do
  curl -fsS "http://127.0.0.1:$PL/healthz" >/dev/null 2>&1 && break
  kill -0 "$H" 2>/dev/null || fail "HTTP worker exited: $(tail -3 "$WORK/http.log")"
  sleep 0.1
done
http() { # http PATH ARGS...: prints "<status> <body>"
  local path=$1
  shift
  curl -sS -G -o "$WORK/http.body" -w '%{http_code}' "http://127.0.0.1:$PL$path" "$@"
  printf ' %s' "$(cat "$WORK/http.body")"
}
for q in "선ㄱ" "ㅅㄱㄹㅅ" "cafe" "retro w"; do
  got=$(http /suggest --data-urlencode "q=$q")
  want=$(sug "$q")
  [ "$got" = "200 $want" ] || fail "/suggest?q=$q: '$got' vs CLI '$want'"
done
got=$(http /suggest --data-urlencode "q=선" --data-urlencode "user=u-me")
[ "$got" = "200 $(sug "선" --user u-me)" ] || fail "/suggest?q=선&user=u-me: $got"
ok "HTTP /suggest equals query suggest byte for byte (선ㄱ, ㅅㄱㄹㅅ, cafe, retro w, 선 with user=u-me)"
got=$(http /trending --data-urlencode "window=1h")
[ "${got%% *}" = 200 ] || fail "/trending?window=1h: $got"
echo "${got#* }" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["window"] == "1h" and d["items"] and all(i["count"] > 0 for i in d["items"]), d
assert all(isinstance(i["count"], int) for i in d["items"]), "a count is not an integer"' || fail "/trending?window=1h body: $got"
[ "${got#* }" = "$("$BIN" query trending --namespace "$NL" --window 1h --json)" ] || fail "/trending?window=1h differs from the CLI"
ok "HTTP /trending?window=1h is JSON ($(echo "${got#* }" | cut -c1-120)...) and equals query trending"
got=$(http /correct --data-urlencode "q=선글러스")
echo "$got" | grep -q '^200 .*"correction":"선글라스"' || fail "/correct?q=선글러스: $got"
ok "HTTP /correct?q=선글러스 -> 선글라스"
for bad in "/suggest?q=%1B" "/suggest?q=%FF" "/suggest" "/trending?window=bogus" "/correct?q=%C3"; do
  code=$(curl -sS -o "$WORK/http.body" -w '%{http_code}' "http://127.0.0.1:$PL$bad")
  [ "$code" = 400 ] || fail "$bad answered $code: $(cat "$WORK/http.body")"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d["error"], str) and d["error"]' "$WORK/http.body" ||
    fail "$bad: the body is not a JSON error: $(cat "$WORK/http.body")"
  log "  $bad -> 400 $(cat "$WORK/http.body")"
done
ok "bad HTTP input answers 400 with a JSON error"
# keep-alive: three requests (a 400 among them) on one connection; the worker once answered every
# request with "Connection: close" (a new TCP connection, thread and Redis connection each time)
reuse=$(curl -sv -o /dev/null -o /dev/null -o /dev/null "http://127.0.0.1:$PL/suggest?q=p" \
  "http://127.0.0.1:$PL/suggest?q=%FF" "http://127.0.0.1:$PL/healthz" 2>&1)
[ "$(grep -c 'Re-using existing connection' <<<"$reuse")" = 2 ] && ! grep -qi '^< connection: close' <<<"$reuse" ||
  fail "HTTP keep-alive: $(grep -Ei 'connect|^< HTTP' <<<"$reuse" | tr '\n' ' ')"
ok "HTTP keeps the connection open across requests (curl re-used it twice)"
for body in "q=p" "$(head -c 20000 /dev/zero | tr '\0' x)"; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary "$body" "http://127.0.0.1:$PL/suggest")
  [ "$code" = 405 ] || fail "POST /suggest with a ${#body}-byte body answered $code, not 405"
done
ok "POST with a body (3 bytes, 20 kB) answers 405"
kill -TERM "$H"
wait "$H" || fail "HTTP worker did not stop cleanly"
if [ "${#FAILS[@]}" -gt 0 ]; then
  for f in "${FAILS[@]}"; do log "failed: $f"; done
  fail "${#FAILS[@]} check(s) failed (above), in $(secs "$T_START") s"
fi
# lib.sh's clean-up deletes keys through xargs, which splits names with spaces ("sugg:선글라스 추천"):
# delete this run's namespaces here first, binary-safe.
python3 - "$REDIS_URL" "$HERE" "${NAMESPACES[@]}" <<'PY' || fail "deleting the namespaces"
import sys
sys.path.insert(0, sys.argv[2])
from dump_views import Redis, glob_escape
r = Redis(sys.argv[1])
for ns in sys.argv[3:]:
    keys = r.scan(glob_escape("bt:%s:" % ns) + "*")
    for i in range(0, len(keys), 1000):
        r.call("UNLINK", *keys[i:i + 1000])
PY
log "PASS in $(secs "$T_START") s"
