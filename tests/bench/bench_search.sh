#!/usr/bin/env bash
# bench_search.sh: the search worker's figures on the local stack, side by side in one run:
#   - catch-up rate on pre-filled search and catalog topics next to raw librdkafka consume of the
#     same topics (the ceiling) and the no-op runtime (decode + offsets) on them;
#   - CPU seconds per million events and peak RSS of the worker;
#   - HTTP /suggest latency (p50, p99) and throughput under load from wrk, with the views settled
#     and while LIVE_RATE (2000) generated events/s arrive.
# usage: SHOPSTREAM_BIN=build/shopstream RAW_CONSUME=build/tests/raw_consume bench_search.sh [EVENTS]
# EVENTS is the generator's total (about a quarter are search and catalog events).
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
N=${1:-${EVENTS:-2000000}}
WRK_SECONDS=${WRK_SECONDS:-10}
RAW=${RAW_CONSUME:?set RAW_CONSUME to the raw_consume binary}
require_stack
command -v wrk >/dev/null || fail "wrk is missing: run deploy/stack deps"
NAMESPACES+=("$RUN_ID" "${RUN_ID}n")
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events "$N" --seed 3 --set "topic.prefix=$PREFIX" --produce >"$WORK/gen.out" 2>&1 ||
  fail "generate: $(tail -3 "$WORK/gen.out")"
topics=("${PREFIX}shop.search.events" "${PREFIX}shop.catalog.events")
raw=$("$RAW" "${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}" "${topics[@]}")
raw_rate=${raw##*events_per_s=}
raw_events=$(sed 's/.*events=\([0-9]*\).*/\1/' <<<"$raw")

# CPU seconds of the parts sharing the machine, around the catch-up: Redis (INFO cpu, main and
# I/O threads) and the local Kafka broker (its /proc entry; empty when it runs elsewhere).
redis_cpu() { redis_cli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.2f", s}'; }
# (empty, not a failure, when the process is not here: the script runs under set -e)
proc_cpu() { [ -z "$1" ] || awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || true; }
kafka_pid=$(pgrep -f 'kafka\.Kafka' | head -1 || true)
redis0=$(redis_cpu)
kafka0=$(proc_cpu "$kafka_pid")

# A search worker on the run's namespace and a free HTTP port (sets port and WPID).
start_search() { # LOG
  port=$(free_port)
  "$BIN" run search --set "topic.prefix=$PREFIX" --set "namespace=$RUN_ID" --set "http.port=$port" \
    --set instance.id=none >"$1" 2>&1 &
  WPID=$!
  WORKER_PIDS+=("$WPID")
}
# The worker catches up, then stays up for the HTTP load.
start_search "$WORK/search.log"
deadline=$((SECONDS + 600))
until [ "$(metric "$port" shopstream_events_total)" -ge "$raw_events" ]; do
  [ $SECONDS -lt $deadline ] || fail "search worker did not catch up: $(tail -3 "$WORK/search.log")"
  kill -0 "$WPID" 2>/dev/null || fail "search worker died: $(tail -5 "$WORK/search.log")"
  sleep 0.5
done
redis1=$(redis_cpu)
kafka1=$(proc_cpu "$kafka_pid")
worker1=$(proc_cpu "$WPID")
curl -fsS "http://127.0.0.1:$port/suggest?q=p" >/dev/null || fail "/suggest does not answer"
wrk_run() { # NAME CONNECTIONS [PACE_MS]
  SUGGEST_PACE_MS=${3:-0} wrk -t"$(($2 / 4 < 2 ? 1 : 2))" -c"$2" -d"${WRK_SECONDS}s" --latency \
    -s "$(dirname "${BASH_SOURCE[0]}")/suggest.lua" "http://127.0.0.1:$port" >"$WORK/wrk$1.txt" 2>&1 ||
    fail "wrk: $(cat "$WORK/wrk$1.txt")"
}
# First while the refresh after the catch-up recomputes and rewrites every suggestion key (0.5 s
# of CPU, 100k commands in chunks), then with the views settled: their versions equal the state's.
wrk_run 4r 4
views_settled() {
  local v
  v=$(redis_cli MGET "bt:$RUN_ID:srch:ver" "bt:$RUN_ID:srch:sugg:ver" "bt:$RUN_ID:srch:trend:ver" | sort -u)
  [ -n "$v" ] && [ "$(wc -l <<<"$v")" = 1 ]
}
deadline=$((SECONDS + 60))
until views_settled; do
  [ $SECONDS -lt $deadline ] || fail "the views did not settle: $(tail -3 "$WORK/search.log")"
  sleep 0.5
done
# Two loads: 4 connections (the latency target) and 16 (saturation, on the same 2 cores as wrk,
# Redis and Kafka, so the tail there is mostly scheduling).
wrk_run 4 4
wrk_run 16 16
# A fixed offered load below saturation: each of 4 connections waits 1 ms after every response
# (about 2.5k requests/s; the closed loops above saturate the 2 cores, where the tail is the
# scheduler's). wrk's pacing does not correct for coordinated omission: a stalled response also
# delays the requests behind it.
wrk_run 4p 4 1
# peak RSS and CPU time of the worker, from /proc before it stops
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$WPID/status")
cpu_s=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$WPID/stat")
kill -TERM "$WPID"
wait "$WPID" || true
rate=$(grep 'msg="stopped"' "$WORK/search.log" | sed 's/.*events_per_s=//')
events=$(grep 'msg="stopped"' "$WORK/search.log" | sed 's/.*events=\([0-9]*\).*/\1/')
consume_cpu=$(grep 'msg="stopped"' "$WORK/search.log" | sed 's/.*cpu_s=\([0-9.]*\).*/\1/')
[ "$events" = "$raw_events" ] || fail "search worker saw $events events, raw consume $raw_events"

"$BIN" run noop --set "topic.prefix=$PREFIX" --set "namespace=${RUN_ID}n" --set http.port=-1 \
  --set instance.id=none --until-caught-up 2>"$WORK/noop.log" || fail "noop: $(tail -3 "$WORK/noop.log")"
noop_rate=$(grep 'msg="stopped"' "$WORK/noop.log" | sed 's/.*events_per_s=//')

# And while events arrive: a second instance on the same namespace (caught up: it resumes from
# the stored offsets) serves the queries while the generator produces LIVE_RATE events/s (about
# a quarter of them search and catalog events), so it consumes, flushes and refreshes its views
# (the trend unions each refresh.ms, suggestions within search.suggest.refresh.cpu) meanwhile.
LIVE_RATE=${LIVE_RATE:-2000}
start_search "$WORK/search-live.log"
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$port/suggest?q=p" >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "the second search worker does not answer: $(tail -3 "$WORK/search-live.log")"
  sleep 0.3
done
"$BIN" generate --events $((LIVE_RATE * (WRK_SECONDS + 5))) --rate "$LIVE_RATE" --seed 9 \
  --start "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --produce --realtime --set "topic.prefix=$PREFIX" \
  >"$WORK/live.out" 2>&1 &
live_pid=$!
sleep 3
wrk_run 4l 4
wait "$live_pid" || fail "generate --realtime: $(tail -3 "$WORK/live.out")"
kill -TERM "$WPID"
wait "$WPID" || true

lat() { awk -v p="$2" '$1 == p {print $2}' "$WORK/wrk$1.txt"; }
rps() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk$1.txt"; }
non2xx=$(cat "$WORK"/wrk*.txt | awk '/Non-2xx/ {print $NF}')

printf '\n%-62s %12s %8s\n' "search worker ($events search+catalog events, $(nproc) cores)" "events/s" "ratio"
printf '%-62s %12s %8s\n' "raw librdkafka consume, same topics (ceiling)" "$raw_rate" "1.00"
printf '%-62s %12s %8s\n' "runtime, no-op worker (decode + offsets)" "$noop_rate" \
  "$(python3 -c "print(f'{$noop_rate/$raw_rate:.2f}')")"
printf '%-62s %12s %8s\n' "search worker catch-up" "$rate" "$(python3 -c "print(f'{$rate/$raw_rate:.2f}')")"
per_m() { python3 -c "print(f'{($2 - $1) * 1e6 / $events:.2f}')"; }
printf '%-62s %12s\n' "CPU s per 1M events until caught up: search worker, all threads" "$(per_m 0 "$worker1")"
printf '%-62s %12s\n' "  of which its consume thread (first to last event)" "$(per_m 0 "$consume_cpu")"
printf '%-62s %12s\n' "  Redis server (applying flushes and view refreshes)" "$(per_m "$redis0" "$redis1")"
[ -z "$kafka0" ] || [ -z "$kafka1" ] ||
  printf '%-62s %12s\n' "  Kafka broker (serving the fetches)" "$(per_m "$kafka0" "$kafka1")"
printf '%-62s %12s\n' "search worker CPU s per 1M events (incl. HTTP load)" \
  "$(python3 -c "print(f'{$cpu_s * 1e6 / $events:.1f}')")"
printf '%-62s %12s\n' "search worker peak RSS (MB)" "$(python3 -c "print(f'{$rss_kb/1024:.0f}')")"
for c in 4r 4 16 4p 4l; do
  case $c in
    4r) what="wrk 4 connections, first refresh running" ;;
    4p) what="wrk 4 connections paced 1 ms, settled" ;;
    4l) what="wrk 4 connections, $LIVE_RATE events/s arriving" ;;
    *) what="wrk $c connections, views settled" ;;
  esac
  printf '%-62s %12s\n' "/suggest, $what: requests/s" "$(rps $c)"
  printf '%-62s %12s\n' "/suggest, $what: latency p50" "$(lat $c 50%)"
  printf '%-62s %12s\n' "/suggest, $what: latency p99" "$(lat $c 99%)"
done
[ -z "$non2xx" ] || fail "/suggest answered $non2xx non-2xx responses under load"
log "targets: catch-up >= 0.50 of raw consume; /suggest p99 < 2 ms (4 connections, views settled)"
