#!/usr/bin/env bash
# bench_fraud_latency.sh: the fraud worker's produce -> score-visible-in-Redis latency at a fixed
# order rate (target: p99 <= 20 ms at 2,000 orders/s). One fraud worker on fresh topics writes
# into its own namespace; fraud_latency produces order.placed events at RATE with known order ids
# and times each one until Redis announces fraud:order:<id> (keyspace notifications, which this
# script switches on for the run and restores). SWEEP (see below) also runs other flush.ms and
# consume.batch settings, to show the trade-off.
# usage: SHOPSTREAM_BIN=build/shopstream FRAUD_LATENCY=build/tests/fraud_latency \
#        bench_fraud_latency.sh [SECONDS] [RATE]
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
SECONDS_RUN=${1:-${BENCH_SECONDS:-20}}
RATE=${2:-${BENCH_RATE:-2000}}
PROBE=${FRAUD_LATENCY:?set FRAUD_LATENCY to the fraud_latency binary}
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
old_notify=$(redis_cli CONFIG GET notify-keyspace-events | sed -n 2p)
restore_notify() { redis_cli CONFIG SET notify-keyspace-events "$old_notify" >/dev/null || true; }
trap 'restore_notify; cleanup' EXIT
redis_cli CONFIG SET notify-keyspace-events "${old_notify}Kh" >/dev/null || fail "CONFIG SET notify-keyspace-events"
db=${REDIS_URL##*/}
db=${db:-0}

# One run: a worker with the given settings in its own namespace, the probe, the worker stopped.
# Prints the probe's line prefixed with the settings.
run() {
  local label=$1 ns=${RUN_ID}l$2
  shift 2
  NAMESPACES+=("$ns")
  local port k
  port=$(free_port)
  # scores produced as in production (a bt: namespace would leave them out by default): each
  # flush then also waits for shop.fraud.scores' acknowledgements
  start_worker fraud "$WORK/$ns.log" --set "namespace=$ns" --set "http.port=$port" \
    --set "group.id=$ns" --set instance.id=none --set start.from=latest \
    --set fraud.scores.produce=on "$@"
  local pid=$WORKER_PID
  for ((k = 0; k < 200; k++)); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  sleep 1 # partitions assigned and their offsets read
  local out
  out=$("$PROBE" --brokers "${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}" \
    --topic "${PREFIX}shop.order.events" --redis "$REDIS_HP" --db "$db" --key-prefix "bt:$ns:" \
    --rate "$RATE" --seconds "$SECONDS_RUN" --warmup 2 --run "$ns")
  local st=$?
  # where the worker's time went: its flushes per sink (count, mean, the histogram's p99 bucket)
  curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null | awk '
    /^shopstream_flush_seconds_bucket/ { match($0, /sink="[a-z]*"/); s = substr($0, RSTART + 6, RLENGTH - 7)
      match($0, /le="[^"]*"/); le[s, ++nb[s]] = substr($0, RSTART + 4, RLENGTH - 5); cum[s, nb[s]] = $NF }
    /^shopstream_flush_seconds_sum/ { match($0, /sink="[a-z]*"/); sum[substr($0, RSTART + 6, RLENGTH - 7)] = $NF }
    /^shopstream_flush_seconds_count/ { match($0, /sink="[a-z]*"/); cnt[substr($0, RSTART + 6, RLENGTH - 7)] = $NF }
    END { for (s in cnt) if (cnt[s] > 0) { p = ""
            for (i = 1; i <= nb[s]; i++) if (p == "" && cum[s, i] >= 0.99 * cnt[s]) p = le[s, i]
            printf "  flushes %s: %d, mean %.2f ms, p99 <= %s s\n", s, cnt[s], 1000 * sum[s] / cnt[s], p } }' \
    >"$WORK/$ns.flushes" || true
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  printf '%-34s %s\n' "$label" "$out"
  cat "$WORK/$ns.flushes" 2>/dev/null
  return $st
}

printf '\nfraud worker, produce -> fraud:order:<id> visible in Redis, %s orders/s for %s s (%s cores)\n' \
  "$RATE" "$SECONDS_RUN" "$(nproc)"
run "worker defaults, scores produced" d ${BENCH_SET:-} >"$WORK/default.txt" || fail "default run: $(cat "$WORK/default.txt")"
cat "$WORK/default.txt"
# SWEEP="FLUSH_MS:CONSUME_BATCH ..." runs those settings too (SWEEP=1: a default grid).
[ "${SWEEP:-}" = 1 ] && SWEEP="5:1 10:1 20:1 50:1 100:1 500:1 10:100 10:2000 500:2000"
i=0
for pair in ${SWEEP:-}; do
  i=$((i + 1))
  run "flush.ms=${pair%%:*} consume.batch=${pair##*:}" "s$i" --set "flush.ms=${pair%%:*}" \
    --set "consume.batch=${pair##*:}" || true
done
p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' "$WORK/default.txt")
python3 -c "import sys; sys.exit(0 if float('$p99') <= 20.0 else 1)" ||
  log "WARNING: p99 $p99 ms is above the 20 ms target"
log "target: p99 <= 20 ms at 2,000 orders/s"
