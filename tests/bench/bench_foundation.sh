#!/usr/bin/env bash
# bench_foundation.sh: the foundation's speed figures on the local stack, side by side in one run:
# generate (to a file), emit (JSON lines -> Avro -> Kafka, acks=all), the raw librdkafka consume
# ceiling, and the runtime with the no-op worker (decode + offsets in Redis) on the same topics.
# usage: SHOPSTREAM_BIN=build/shopstream RAW_CONSUME=build/tests/raw_consume bench_foundation.sh [EVENTS]
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
N=${1:-${EVENTS:-2000000}}
RAW=${RAW_CONSUME:?set RAW_CONSUME to the raw_consume binary}
require_stack
NAMESPACES+=("$RUN_ID")
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$1" "$2"; }

t0=$(date +%s.%N)
"$BIN" generate --events "$N" --seed 1 --out "$WORK/gen.jsonl" 2>/dev/null
t1=$(date +%s.%N)
gen_s=$(secs "$t0" "$t1")
lines=$(wc -l <"$WORK/gen.jsonl")
t0=$(date +%s.%N)
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/gen.jsonl" >"$WORK/emit.out" 2>"$WORK/emit.err" || fail "emit: $(cat "$WORK/emit.out")"
t1=$(date +%s.%N)
emit_s=$(secs "$t0" "$t1")
topics=()
for t in user order search inventory catalog; do topics+=("${PREFIX}shop.$t.events"); done
raw=$("$RAW" "${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}" "${topics[@]}")
raw_rate=${raw##*events_per_s=}
"$BIN" run noop --set "topic.prefix=$PREFIX" --set "namespace=$RUN_ID" --set http.port=-1 \
  --set instance.id=none --until-caught-up 2>"$WORK/noop.log" || fail "noop worker: $(tail -3 "$WORK/noop.log")"
noop_rate=$(grep 'msg="stopped"' "$WORK/noop.log" | sed 's/.*events_per_s=//')
noop_events=$(grep 'msg="stopped"' "$WORK/noop.log" | sed 's/.*events=\([0-9]*\).*/\1/')
[ "$noop_events" = "$lines" ] || fail "noop worker saw $noop_events events, expected $lines"

printf '\n%-44s %12s %10s\n' "step ($lines events, $(nproc) cores)" "events/s" "ratio"
printf '%-44s %12s %10s\n' "generate to a file" "$(rate "$lines" "$gen_s")" ""
printf '%-44s %12s %10s\n' "emit: JSON lines -> Avro -> Kafka (acks=all)" "$(rate "$lines" "$emit_s")" \
  "$(python3 -c "print(f'{$(rate "$lines" "$emit_s")/200000:.2f}x of 200k target')")"
printf '%-44s %12s %10s\n' "raw librdkafka consume (ceiling)" "$raw_rate" "1.00"
printf '%-44s %12s %10s\n' "runtime, no-op worker (decode + offsets)" "$noop_rate" \
  "$(python3 -c "print(f'{$noop_rate/$raw_rate:.2f}')")"
log "targets: emit >= 200000/s, runtime no-op >= 500000/s"
