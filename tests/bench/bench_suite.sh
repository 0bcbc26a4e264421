#!/usr/bin/env bash
# bench_suite.sh: the benchmark suite, every figure taken in one run on the local stack:
#   1. fills fresh topics with EVENTS generated events (1,000,000 users);
#   2. the ceiling: raw librdkafka consume of each worker's topics, messages discarded;
#   3. every worker of `shopstream run --list`: catch-up rate, CPU seconds per million events,
#      peak RSS;
#   4. the trending peers on the same search topic: a Kafka Streams application and a Python worker
#      (tests/bench/peers/), first their top-10 of trend:1h against the search worker's, then their
#      throughput, CPU and RSS beside it;
#   5. end-to-end latency, produce -> visible in Redis, p50/p99/p99.9 at offered loads of 1k, 10k
#      and 50k events/s, for every worker (tests/bench/latency_probe.c);
#   6. build/bench/bench.csv, build/bench/bench.svg and a table with the ratios.
# usage: SHOPSTREAM_BIN=build/shopstream RAW_CONSUME=build/tests/raw_consume \
#        LATENCY_PROBE=build/tests/latency_probe tests/bench/bench_suite.sh [EVENTS]   (default 2M)
# Environment (all optional): BENCH_OUT (build/bench), BENCH_USERS (1000000), BENCH_LOADS
# ("1000 10000 50000"), BENCH_LAT_SECONDS (10), BENCH_PEERS ("kstreams python"; "" skips them),
# BENCH_WORKERS (default: all of `run --list`), BENCH_PERF=1 (perf profile of each worker's
# catch-up), KSTREAMS_JAVA_OPTS (-Xmx512m), BENCH_LAT_USERS (20000: users the latency events come
# from), BENCH_LAT_SET ("key=value ...": --set options of the workers under latency load),
# BENCH_SMOKE=1 (the ctest smoke: tiny loads, 2 s each).
# What each figure means: tests/bench/README.md.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
N=${1:-${EVENTS:-2000000}}
RAW=${RAW_CONSUME:?set RAW_CONSUME to the raw_consume binary}
PROBE=${LATENCY_PROBE:?set LATENCY_PROBE to the latency_probe binary}
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/build/bench}
USERS=${BENCH_USERS:-1000000}
if [ -n "${BENCH_SMOKE:-}" ]; then
  LOADS=${BENCH_LOADS:-"200 1000"}
  LAT_SECONDS=${BENCH_LAT_SECONDS:-2}
else
  LOADS=${BENCH_LOADS:-"1000 10000 50000"}
  LAT_SECONDS=${BENCH_LAT_SECONDS:-10}
fi
PEERS=${BENCH_PEERS-kstreams python}
if [ -n "${BENCH_PERF:-}" ] && ! command -v perf >/dev/null; then
  fail "BENCH_PERF needs perf: apt-get install linux-perf (Debian) or linux-tools-\$(uname -r) (Ubuntu)"
fi
BROKERS=${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}
REDIS_HOST=${REDIS_HP%%:*}
REDIS_PORT=${REDIS_HP##*:}
SCHEMA=$ROOT/schemas/avro/search_events.avsc
require_stack
command -v /usr/bin/time >/dev/null || fail "GNU time is missing (apt-get install time)"
mkdir -p "$OUT"
CSV=$OUT/bench.csv
echo "section,subject,metric,value" >"$CSV"
rec() { echo "$1,$2,$3,$4" >>"$CSV"; }
# kv LINE KEY: the value of KEY=... in a key=value line
kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
calc() { python3 -c "print($1)"; }
FAILS=()
soft_fail() {
  printf '%s: FAIL: %s\n' "$(basename "$0")" "$*" >&2
  FAILS+=("$*")
}

rec meta run date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec meta run cores "$(nproc)"
rec meta run cpu "\"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\""
rec meta run mem_gib "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
rec meta run users "$USERS"
rec meta run loadavg_start "$(cut -d' ' -f1 /proc/loadavg)"

# ---- 1. the data ----
log "run $RUN_ID: $N events, $USERS users, topics ${PREFIX}*"
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
t0=$(date +%s.%N)
"$BIN" generate --events "$N" --seed 1 --users "$USERS" --set "topic.prefix=$PREFIX" --produce \
  >"$WORK/gen.out" 2>&1 || fail "generate: $(tail -3 "$WORK/gen.out")"
rec meta run events "$N"
rec fill generate_produce events_per_s "$(calc "round($N / ($(date +%s.%N) - $t0))")"

# ---- 2 and 3. ceiling and catch-up of every worker ----
if [ -n "${BENCH_WORKERS:-}" ]; then
  WORKERS=($BENCH_WORKERS)
else
  mapfile -t WORKERS < <("$BIN" run --list | awk 'NR > 1 && NF {print $1}')
fi
[ "${#WORKERS[@]}" -gt 0 ] || fail "shopstream run --list names no worker"
declare -A CEIL WTOPICS
# worker_topics NS WORKER: the topics a worker consumed, from its stored offsets (Redis, else
# PostgreSQL), one per line
worker_topics() {
  local keys
  keys=$(redis_cli --scan --pattern "bt:$1:offsets:$2:*") || return 1
  {
    sed "s/^bt:$1:offsets:$2://; s/:[0-9]*$//" <<<"$keys"
    psql -qtA "$PG_URL" -c "SELECT DISTINCT topic FROM bt_$1.shop_offsets" 2>/dev/null || true
  } | sed '/^$/d' | sort -u
}
# stack_ready STEP: waits (up to 120 s) until Kafka, Redis and PostgreSQL all answer; a step that
# had to wait is noted (the machine is shared: someone's fault test may have stopped a server).
OUTAGES=0
stack_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    if "$BIN" topics list >/dev/null 2>&1 && [ "$(redis_cli PING 2>/dev/null)" = PONG ] &&
      psql -qtA "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1; then
      [ "$i" -eq 0 ] || log "warning: the stack was not answering for ${i}s before $1"
      return 0
    fi
    [ "$i" -gt 0 ] || OUTAGES=$((OUTAGES + 1))
    sleep 1
  done
  fail "the stack did not come back within 120 s (before $1)"
}
ceiling() { # ceiling TOPIC...: sets RAW_LINE to raw consume's line, measured once per topic set
  local k="$*"
  if [ -z "${CEIL[$k]:-}" ]; then
    CEIL[$k]=$("$RAW" "$BROKERS" "$@") || fail "raw_consume $*: ${CEIL[$k]}"
  fi
  RAW_LINE=${CEIL[$k]}
}
i=0
for w in "${WORKERS[@]}"; do
  i=$((i + 1))
  ns="${RUN_ID}w$i"
  NAMESPACES+=("$ns")
  stack_ready "catch-up of $w"
  log "catch-up: $w"
  /usr/bin/time -f 'wall=%e user=%U sys=%S maxrss_kb=%M' -o "$WORK/$w.time" \
    "$BIN" run "$w" --set "topic.prefix=$PREFIX" --set "namespace=$ns" \
    --set http.port=-1 --set instance.id=none --until-caught-up 2>"$WORK/$w.log" ||
    fail "$w worker: $(tail -3 "$WORK/$w.log")"
  stopped=$(grep 'msg="stopped"' "$WORK/$w.log")
  tm=$(cat "$WORK/$w.time")
  events=$(kv "$stopped" events)
  rate=$(kv "$stopped" events_per_s)
  cpu=$(calc "$(kv "$tm" user) + $(kv "$tm" sys)")
  tl=$(worker_topics "$ns" "$w") || fail "cannot read the offsets of $w from Redis"
  mapfile -t topics <<<"$tl"
  [ -n "$tl" ] || fail "$w stored no offsets in bt:$ns"
  WTOPICS[$w]="${topics[*]}"
  ceiling "${topics[@]}"
  raw=$RAW_LINE
  raw_events=$(kv "$raw" events)
  [ "$events" = "$raw_events" ] || soft_fail "$w saw $events events, raw consume of its topics $raw_events"
  rec catchup "$w" topics "\"${topics[*]#$PREFIX}\""
  rec catchup "$w" events "$events"
  rec catchup "$w" events_per_s "$rate"
  rec catchup "$w" ceiling_events_per_s "$(kv "$raw" events_per_s)"
  rec catchup "$w" cpu_s "$cpu"
  rec catchup "$w" cpu_s_per_m "$(calc "round($cpu * 1e6 / max($events, 1), 2)")"
  rec catchup "$w" rss_mb "$(calc "round($(kv "$tm" maxrss_kb) / 1024, 1)")"
  if [ -n "${BENCH_PERF:-}" ]; then # a second catch-up under perf, apart from the measured one
    NAMESPACES+=("${ns}p")
    perf record -q -F 999 -g -o "$OUT/perf-$w.data" -- "$BIN" run "$w" --set "topic.prefix=$PREFIX" \
      --set "namespace=${ns}p" --set http.port=-1 --set instance.id=none --until-caught-up \
      2>"$WORK/$w-perf.log" || soft_fail "$w under perf: $(tail -3 "$WORK/$w-perf.log")"
    perf report -i "$OUT/perf-$w.data" --stdio --no-children --sort dso,symbol --percent-limit 1.5 \
      -g none 2>/dev/null | grep -v '^#' | sed '/^$/d' | head -20 >"$OUT/perf-$w.txt" || true
    log "perf top entries of $w: $OUT/perf-$w.txt"
  fi
  [ "$w" != search ] || SEARCH_NS=$ns
done

# ---- 4. the trending peers ----
top10() { # top10 KEY: "query<TAB>count" lines, by count then query (ties decided the same way)
  redis_cli --raw ZREVRANGE "$1" 0 99 WITHSCORES | paste - - | sort -t$'\t' -k2,2nr -k1,1 | head -10
}
peer_build_kstreams() {
  local dir=$OUT/peers/kstreams
  mkdir -p "$dir"
  if ! (cd "$HERE/../bench/peers/kstreams" && mvn -B -q -Dbench.build.dir="$dir/target" \
    -Dmdep.outputFile="$dir/classpath.txt" package dependency:build-classpath) >"$dir/build.log" 2>&1; then
    if grep -qiE 'could not (transfer|resolve)|unknown ?host|network is unreachable|connection (refused|timed out)|offline' "$dir/build.log"; then
      log "SKIP Kafka Streams peer: Maven Central is unreachable ($(grep -m1 -iE 'could not|unknown|unreachable|connection' "$dir/build.log" | cut -c1-160))"
      return 1
    fi
    fail "Kafka Streams peer does not build: $(tail -20 "$dir/build.log")"
  fi
  KS_CP="$dir/target/classes:$(cat "$dir/classpath.txt")"
}
peer_build_python() {
  local venv=$OUT/peers/venv
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >"$OUT/peers-venv.log" 2>&1; then
    fail "python3 -m venv failed (apt-get install python3-venv): $(tail -3 "$OUT/peers-venv.log")"
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/../bench/peers/python/requirements.txt" \
    >"$OUT/peers-pip.log" 2>&1; then
    if grep -qiE 'connection|temporary failure|network|could not find a version|no matching distribution' "$OUT/peers-pip.log"; then
      log "SKIP Python peer: PyPI is unreachable ($(grep -m1 -iE 'connection|temporary|network|could not|no matching' "$OUT/peers-pip.log" | cut -c1-160))"
      return 1
    fi
    fail "Python peer: pip install failed: $(tail -5 "$OUT/peers-pip.log")"
  fi
  PY=$venv/bin/python
}
search_topic="${PREFIX}shop.search.events"
if [ -n "$PEERS" ] && [ -n "${SEARCH_NS:-}" ]; then
  ceiling "$search_topic"
  search_raw=$RAW_LINE
  search_events=$(kv "$search_raw" events)
  ours_top=$(top10 "bt:$SEARCH_NS:trend:1h")
  [ -n "$ours_top" ] || soft_fail "the search worker wrote no trend:1h"
  for peer in $PEERS; do
    pns="${RUN_ID}$peer"
    NAMESPACES+=("$pns")
    case $peer in
    kstreams)
      peer_build_kstreams || continue
      cmd=(java ${KSTREAMS_JAVA_OPTS:--Xmx512m} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KS_CP"
        shopstream.bench.TrendingStreams "$BROKERS" "$search_topic" "$REDIS_HOST" "$REDIS_PORT"
        "bt:$pns:" "$search_events" "${PREFIX}ks" "$SCHEMA")
      ;;
    python)
      peer_build_python || continue
      cmd=("$PY" "$HERE/../bench/peers/python/trending.py" "$BROKERS" "$search_topic" "$REDIS_HOST"
        "$REDIS_PORT" "bt:$pns:" "$search_events" "${PREFIX}py" "$SCHEMA")
      ;;
    *) fail "unknown peer $peer (kstreams, python)" ;;
    esac
    stack_ready "peer $peer"
    log "peer: $peer on $search_events events of $search_topic"
    /usr/bin/time -f 'wall=%e user=%U sys=%S maxrss_kb=%M' -o "$WORK/$peer.time" "${cmd[@]}" \
      >"$WORK/$peer.out" 2>"$WORK/$peer.log" || fail "$peer peer: $(tail -5 "$WORK/$peer.log")"
    res=$(tail -1 "$WORK/$peer.out")
    tm=$(cat "$WORK/$peer.time")
    peer_top=$(top10 "bt:$pns:trend:1h")
    if [ "$peer_top" = "$ours_top" ]; then
      match=1
    else
      match=0
      soft_fail "$peer's top-10 of trend:1h differs from the search worker's:
$(diff <(echo "$ours_top") <(echo "$peer_top") | sed 's/^/    /')"
    fi
    rec peer "$peer" top10_match "$match"
    rec peer "$peer" events "$(kv "$res" events)"
    rec peer "$peer" events_per_s "$(kv "$res" events_per_s)"
    rec peer "$peer" cpu_s "$(kv "$res" cpu_s)"
    rec peer "$peer" cpu_s_total "$(calc "$(kv "$tm" user) + $(kv "$tm" sys)")"
    rec peer "$peer" cpu_s_per_m "$(calc "round($(kv "$res" cpu_s) * 1e6 / max($(kv "$res" events), 1), 2)")"
    rec peer "$peer" rss_mb "$(calc "round($(kv "$tm" maxrss_kb) / 1024, 1)")"
  done
  rec peer search_topic ceiling_events_per_s "$(kv "$search_raw" events_per_s)"
fi

# ---- 5. latency ----
# The event each worker is sent: its main one (@USER@ from a pool of BENCH_LAT_USERS users in
# turn, @SEQ@ the event's number, @TS@ now). Another worker: by the topics it reads.
ORDER_EV='{"type":"order.placed","user_id":"@USER@","occurred_at":@TS@,"order_id":"o-@SEQ@","amount_minor":1000,"currency":"KRW","items":[{"product_id":"p-00042","quantity":1,"unit_price_minor":1000}],"payment_method":"card","country":"KR"}'
SEARCH_EV='{"type":"search.query","user_id":"@USER@","occurred_at":@TS@,"query":"latency probe","result_count":3}'
VIEW_EV='{"type":"user.product_viewed","user_id":"@USER@","occurred_at":@TS@,"session_id":"s-@USER@","source":"web","locale":"ko-KR","product_id":"p-00042","category":"dress","price_minor":51900}'
LAT_USERS=${BENCH_LAT_USERS:-20000}
LAT_SET=()
for kv_ in ${BENCH_LAT_SET:-}; do LAT_SET+=(--set "$kv_"); done
rec meta run lat_users "$LAT_USERS"
rec meta run lat_set "\"${BENCH_LAT_SET:-}\""
i=0
for w in "${WORKERS[@]}"; do
  i=$((i + 1))
  case "$w: ${WTOPICS[$w]} " in
  search:*) ev=$SEARCH_EV topic=shop.search.events ;;
  fraud:*) ev=$ORDER_EV topic=shop.order.events ;;
  analytics:* | noop:*) ev=$VIEW_EV topic=shop.user.events ;;
  *" ${PREFIX}shop.order.events "*) ev=$ORDER_EV topic=shop.order.events ;;
  *" ${PREFIX}shop.search.events "*) ev=$SEARCH_EV topic=shop.search.events ;;
  *" ${PREFIX}shop.user.events "*) ev=$VIEW_EV topic=shop.user.events ;;
  *)
    log "SKIP latency of $w: it reads none of the order, search or user topics"
    continue
    ;;
  esac
  for load in $LOADS; do
    stack_ready "latency of $w at $load/s"
    lp="${RUN_ID}l$i$load."
    ns="${RUN_ID}l$i$load"
    NAMESPACES+=("$ns")
    EXTRA_PREFIXES+=("$lp")
    "$BIN" topics create --prefix "$lp" --partitions 6 >/dev/null
    port=$(free_port)
    "$BIN" run "$w" --set "topic.prefix=$lp" --set "namespace=$ns" --set "http.port=$port" \
      --set instance.id=none "${LAT_SET[@]}" >"$WORK/lat-$w-$load.log" 2>&1 &
    wpid=$!
    WORKER_PIDS+=("$wpid")
    for _ in $(seq 300); do
      curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      kill -0 "$wpid" 2>/dev/null || fail "$w died: $(tail -3 "$WORK/lat-$w-$load.log")"
      sleep 0.1
    done
    log "latency: $w at $load events/s for ${LAT_SECONDS}s ($(sed 's/^{"type":"\([^"]*\)".*/\1/' <<<"$ev") on $topic)"
    # the probe's own topic.prefix puts it on $lp; its offsets are those of $lp$topic
    res=$("$PROBE" --brokers "$BROKERS" --topic-prefix "$lp" --redis "$REDIS_HP" \
      --offset-key "bt:$ns:offsets:$w:$lp$topic" --rate "$load" --seconds "$LAT_SECONDS" \
      --warmup 2 --drain 15 --users "$LAT_USERS" --event "$ev" --out "$WORK/lat-$w-$load.txt" \
      2>"$WORK/probe-$w-$load.err") ||
      soft_fail "latency $w at $load/s: delivery failed: $res $(tail -3 "$WORK/probe-$w-$load.err")"
    kill -TERM "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    for m in p50_ms p99_ms p999_ms max_ms ack_p50_ms ack_p99_ms achieved_eps measured visible_pct; do
      rec "latency_$load" "$w" "$m" "$(kv "$res" $m)"
    done
  done
done
rec meta run loadavg_end "$(cut -d' ' -f1 /proc/loadavg)"
rec meta run outages "$OUTAGES"

# ---- 6. the report ----
python3 "$HERE/../bench/bench_report.py" "$CSV" "$OUT/bench.svg" | tee "$OUT/bench.txt"
log "wrote $CSV, $OUT/bench.svg, $OUT/bench.txt"
[ "${#FAILS[@]}" -eq 0 ] || fail "${#FAILS[@]} check(s) failed: ${FAILS[*]}"
