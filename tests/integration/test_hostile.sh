#!/usr/bin/env bash
# test_hostile.sh: undecodable messages mixed into the order stream (random bytes, an empty value,
# truncated Avro, trailing bytes, an unknown fingerprint, a wrong magic byte). Each must end in the
# dead-letter topic with its original bytes and a reason header; the worker goes on, and its views
# equal the independent totals of the valid events.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RAW=${KAFKA_RAW:?set KAFKA_RAW to the kafka_raw test helper}
BROKERS=${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events 20000 --seed 31 --start 2026-11-04T00:00:00Z --out "$WORK/gen.jsonl"
python3 "$HERE/expected_totals.py" "$WORK/gen.jsonl" >"$WORK/expected.json"
head -n 10000 "$WORK/gen.jsonl" >"$WORK/a.jsonl"
tail -n +10001 "$WORK/gen.jsonl" >"$WORK/b.jsonl"
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/a.jsonl" >/dev/null 2>&1 || fail "emit a"

# Hostile variants of a real message.
mkdir -p "$WORK/sample" "$WORK/bad" "$WORK/dlq"
"$RAW" dump "$BROKERS" "${PREFIX}shop.order.events" "$WORK/sample" >/dev/null
good=$(ls "$WORK"/sample/*.bin | head -1)
[ -n "$good" ] || fail "no order event to start from"
len=$(stat -c %s "$good")
head -c 300 /dev/urandom >"$WORK/bad/random.bin"
: >"$WORK/bad/empty.bin"
head -c $((len - 7)) "$good" >"$WORK/bad/truncated.bin"
{ cat "$good"; printf 'xyz'; } >"$WORK/bad/trailing.bin"
{ printf '\xc3\x01\x00\x00\x00\x00\x00\x00\x00\x00'; tail -c +11 "$good"; } >"$WORK/bad/unknown_fingerprint.bin"
{ printf '\x42'; tail -c +2 "$good"; } >"$WORK/bad/wrong_magic.bin"
"$RAW" produce "$BROKERS" "${PREFIX}shop.order.events" hostile "$WORK"/bad/*.bin || fail "producing hostile messages"
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/b.jsonl" >/dev/null 2>&1 || fail "emit b"

NS=$RUN_ID
NAMESPACES+=("$NS")
"$BIN" run analytics --set "topic.prefix=$PREFIX" --set "namespace=$NS" --set http.port=-1 \
  --set "instance.id=$RUN_ID" --until-caught-up >"$WORK/worker.log" 2>&1 || fail "worker: $(tail -3 "$WORK/worker.log")"
"$BIN" query stats --namespace "$NS" --json >"$WORK/stats.json"
python3 "$HERE/compare_totals.py" "$WORK/expected.json" "$WORK/stats.json" "with hostile input" || fail "totals differ"

"$RAW" dump "$BROKERS" "${PREFIX}shop.order.events.dlq" "$WORK/dlq" >"$WORK/dlq.txt"
sed 's/^/  dlq: /' "$WORK/dlq.txt" | cut -c1-200
n=$(grep -c . "$WORK/dlq.txt" || true)
[ "$n" = 6 ] || fail "expected 6 dead letters, found $n"
[ "$(grep -c 'shop.error=' "$WORK/dlq.txt")" = 6 ] || fail "a dead letter without a reason header"
grep -q 'shop.source.topic='"${PREFIX}"'shop.order.events' "$WORK/dlq.txt" || fail "no source topic header"
want=$(cd "$WORK/bad" && sha256sum -- *.bin | awk '{print $1}' | sort | tr '\n' ' ')
got=$(cd "$WORK/dlq" && sha256sum -- *.bin | awk '{print $1}' | sort | tr '\n' ' ')
[ "$want" = "$got" ] || fail "dead letters do not hold the original bytes"
log "6 dead letters hold the original bytes and a reason; the views equal the valid events' totals"
log "PASS"
