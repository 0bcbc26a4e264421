# lib.sh: helpers for the integration and fault scripts: a unique topic prefix and namespace per
# run against the local stack (deploy/stack up), worker start/kill, metrics polling, clean-up.
set -euo pipefail

BIN=${SHOPSTREAM_BIN:?set SHOPSTREAM_BIN to the shopstream binary}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN_ID=${RUN_ID:-it$$x$RANDOM}
PREFIX="$RUN_ID."
WORK=$(mktemp -d "/tmp/shopstream-$RUN_ID.XXXXXX")
REDIS_URL=${SHOPSTREAM_REDIS_URL:-redis://127.0.0.1:16379/0}
PG_URL=${SHOPSTREAM_PG_URL:-postgresql://shopstream@127.0.0.1:15432/shopstream}
WORKER_PIDS=()

log() { printf '%s: %s\n' "$(basename "$0")" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

REDIS_HP=${REDIS_URL#redis://}
REDIS_HP=${REDIS_HP%%/*}
redis_cli() { redis-cli -h "${REDIS_HP%%:*}" -p "${REDIS_HP##*:}" "$@"; }

cleanup() {
  local st=$?
  # a test's own clean-up first (e.g. restart a server it stopped), whatever happened
  if declare -F on_exit >/dev/null; then on_exit || true; fi
  for p in "${WORKER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "$st" -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then
    # the run's topics too: thousands of left-over partitions make every broker restart slow
    for p in "$PREFIX" "${EXTRA_PREFIXES[@]:-}"; do
      [ -z "$p" ] || "$BIN" topics delete --prefix "$p" >/dev/null 2>&1 || true
    done
    for ns in "${NAMESPACES[@]:-}"; do
      [ -n "$ns" ] || continue
      redis_cli --scan --pattern "bt:$ns:*" | xargs -r -d '\n' -n 500 redis-cli -h "${REDIS_HP%%:*}" -p "${REDIS_HP##*:}" DEL >/dev/null || true
      psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS bt_$ns CASCADE" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
  else
    log "kept $WORK (logs of the workers are there)"
    # a CI machine keeps nothing: the end of each worker's log goes with the test's output
    if [ "$st" -ne 0 ]; then
      local f
      for f in "$WORK"/*.log; do
        [ -f "$f" ] || continue
        printf -- '--- last lines of %s:\n' "$(basename "$f")" >&2
        tail -n 30 "$f" >&2 || true
      done
    fi
  fi
  exit "$st"
}
NAMESPACES=()
EXTRA_PREFIXES=() # topic prefixes of a run's own besides $PREFIX, deleted with it
trap cleanup EXIT

require_stack() {
  "$BIN" topics list >/dev/null 2>&1 || fail "Kafka is not answering at ${SHOPSTREAM_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}: run deploy/stack up"
  redis_cli PING >/dev/null 2>&1 || fail "Redis is not answering at $REDIS_URL: run deploy/stack up"
  psql -q "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1 || fail "PostgreSQL is not answering at $PG_URL: run deploy/stack up"
}

# start_worker NAME LOGFILE ARGS...: runs `shopstream run` in the background; sets WORKER_PID.
start_worker() {
  local worker=$1 logf=$2
  shift 2
  "$BIN" run "$worker" --set "topic.prefix=$PREFIX" "$@" >>"$logf" 2>&1 &
  WORKER_PID=$!
  WORKER_PIDS+=("$WORKER_PID")
}

# metric PORT NAME: sum of a metric's samples on a worker's /metrics (0 when unreachable).
metric() {
  { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
    awk -v m="$2" '$1 ~ "^"m"({|$)" {s += $2} END {printf "%d\n", s}'
}

# wait_metric PORT NAME MIN TIMEOUT_S PID: waits until the metric reaches MIN.
wait_metric() {
  local port=$1 name=$2 min=$3 timeout=$4 pid=$5 i v
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || fail "worker $pid exited early"
    v=$(metric "$port" "$name")
    [ "$v" -ge "$min" ] && return 0
    sleep 0.1
  done
  fail "$name stayed below $min for ${timeout}s"
}

# wait_caught_up PORT TIMEOUT_S PID: waits until every assigned partition reports a lag of 0 (all
# processed up to its high watermark), twice, a second apart (the lag is refreshed once a second).
# shopstream_events_total is no measure of that after a rewind (a lost assignment, a failed
# flush): the events read again count again.
wait_caught_up() {
  local port=$1 timeout=$2 pid=$3 i m n lags ok=0
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || fail "worker $pid exited early"
    m=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null || true)
    n=$(awk '$1 ~ /^shopstream_assigned_partitions/ {s += $2} END {print s + 0}' <<<"$m")
    lags=$(awk '$1 ~ /^shopstream_consumer_lag\{/ {c++; s += $2} END {print c + 0, s + 0}' <<<"$m")
    if [ "$n" -gt 0 ] && [ "$lags" = "$n 0" ]; then
      ok=$((ok + 1))
      [ "$ok" -ge 2 ] && return 0
      sleep 1
      continue
    fi
    ok=0
    sleep 0.1
  done
  fail "worker not caught up after ${timeout}s (assigned $n, lag lines and sum: $lags)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# emit_in_slices FILE PAUSE_S: emits FILE in 20 slices in the background, PAUSE_S apart, so that a
# test can act mid-stream; sets EMITTER (its pid). emit_wait checks that every slice went.
emit_in_slices() {
  local file=$1 pause=$2
  split -n l/20 -d -a 2 "$file" "$WORK/slice."
  (
    for f in "$WORK"/slice.*; do
      "$BIN" emit --set "topic.prefix=$PREFIX" "$f" >>"$WORK/emit.out" 2>>"$WORK/emit.err" ||
        echo "emit $f failed" >>"$WORK/emit.err"
      sleep "$pause"
    done
  ) &
  EMITTER=$!
}

emit_wait() {
  wait "$EMITTER"
  if grep -q failed "$WORK/emit.err"; then fail "emit: $(cat "$WORK/emit.err")"; fi
  local sent
  sent=$(awk -F'[= ]' '/sent=/ {s += $2} END {print s}' "$WORK/emit.out")
  [ "$sent" = "$(wc -l <"$1")" ] || fail "emit sent $sent of $(wc -l <"$1") events"
  log "emit: $sent events sent in 20 slices"
}
