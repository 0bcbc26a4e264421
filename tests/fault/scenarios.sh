# scenarios.sh: the scenarios of fault_suite.sh (sourced by it): crash, scale, outage, hostile.
# Each runs the workers concurrently, each worker in namespace bt:<run><scenario>_<worker> and
# consumer group <run>-<scenario>-<worker>, over topics <run>.<scenario>.*, and records one
# summary row per worker.

PIDFILE="$WORK/pids" # instances started in subshells, for the clean-up
: >"$PIDFILE"
kill_all_started() { xargs -r kill -9 <"$PIDFILE" 2>/dev/null || true; }

# wait_gone PID...: until these instances have exited (60 s at most; 1 when one is still there).
# inst starts them inside $(...), so they are nobody's children here and `wait PID` returns at
# once (127): it neither waits nor tells a clean exit from a failed one.
wait_gone() {
  local i p alive
  for ((i = 0; i < 600; i++)); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# inst SCENARIO WORKER NAME PORT LOG [ARGS...]: starts one instance in the background; prints its pid.
inst() {
  local s=$1 w=$2 name=$3 port=$4 logf=$5
  shift 5
  "$BIN" run "$w" --set "topic.prefix=$EMIT_PREFIX" $(worker_opts "$s" "$w") --set "http.port=$port" \
    --set "instance.id=$RUN_ID-$s-$w-$name" "$@" >>"$logf" 2>&1 &
  echo $! >>"$PIDFILE"
  echo $!
}

# wait_recovered PORT PID TIMEOUT_S T0: until the instance processes events again (events_total
# above START, default 0) or has partitions and no lag; prints seconds since T0, or nothing.
wait_recovered() {
  local port=$1 pid=$2 t0=$4 start=${5:-0} i m
  for ((i = 0; i < $3 * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    m=$({ curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null || true; } | awk -v st="$start" '
      /^shopstream_events_total/ {e += $2} /^shopstream_consumer_lag\{/ {l += $2; n++}
      END {print ((e > st) || (n > 0 && l == 0)) ? "yes" : "no"}')
    [ "$m" = yes ] && { elapsed "$t0" "$(now)"; return 0; }
    sleep 0.05
  done
  return 1
}

# dlq_count WORKER: dead letters written by WORKER's group into the scenario's *.dlq topics (each
# group dead-letters independently; the shop.worker header tells them apart). Needs KAFKA_RAW.
dlq_count() {
  [ -n "$RAW" ] || { echo -; return; }
  local t d n=0
  d=$(mktemp -d "$WORK/dlq.XXXX")
  for t in $("$BIN" topics list | awk -v p="$EMIT_PREFIX" 'index($1, p) == 1 && $1 ~ /\.dlq$/ {print $1}'); do
    "$RAW" dump "$BROKERS" "$t" "$d" >>"$d/headers" 2>/dev/null || true
  done
  grep -c "shop.worker=$1"$'\t\|'"shop.worker=$1\$" "$d/headers" 2>/dev/null || true
}

finish_worker() { # finish_worker SCENARIO WORKER LOG RESTARTS RECOVERY NOTE: catch up, dump, compare, record
  local s=$1 w=$2 eq
  sleep $((SESSION_MS / 1000 + 1)) # the killed static members' sessions expire
  catch_up "$s" "$w" "$3" || { record "$s" "$w" "$NLINES" "$4" no - "$5" "catch-up run failed: $(tail -2 "$3" | tr '\n' ' ' | cut -c1-200)"; return; }
  dump "$s" "$w" || { record "$s" "$w" "$NLINES" "$4" no - "$5" "dump failed"; return; }
  eq=$(compare "$s" "$w")
  record "$s" "$w" "$NLINES" "$4" "$eq" "$(dlq_count "$w")" "$5" "$6"
}

# ---- crash: SIGKILL at random moments, right after a flush starts, and during a rebalance ------
crash_one() { # crash_one WORKER INDEX
  local w=$1 s=crash logf="$WORK/crash.$1.log" pa pb A B kills=0 restarts=0 recs=() r mode c0 i t note=""
  RANDOM=$((SEED * 1000 + $2))
  pa=$(free_port)
  pb=$(free_port)
  local opts=(--set flush.ms=50 --set flush.events=2000)
  A=$(inst $s "$w" a "$pa" "$logf" "${opts[@]}")
  wait_recovered "$pa" "$A" 60 "$(now)" >/dev/null || note="first start did not process"
  while [ "$kills" -lt "$KILLS" ]; do
    mode=$((kills % 3))
    if [ "$mode" = 2 ] && [ $((kills + 2)) -le "$KILLS" ]; then
      # a rebalance: B joins, and A then B are killed while partitions move
      B=$(inst $s "$w" b "$pb" "$logf" "${opts[@]}")
      for ((i = 0; i < 200; i++)); do
        [ "$(metric "$pb" shopstream_rebalances_total)" -gt 0 ] && break
        sleep 0.05
      done
      sleep "0.$(rand 0 9)"
      kill -9 "$A" 2>/dev/null
      t=$(now)
      sleep "0.$(rand 2 8)"
      kill -9 "$B" 2>/dev/null
      wait_gone "$A" "$B"
      kills=$((kills + 2))
      echo "kill $kills: A and B during a rebalance" >>"$WORK/crash.$w.kills"
    else
      if [ "$mode" = 1 ]; then # right after a flush starts (flush.ms=50: the next one is due)
        c0=$(metric "$pa" shopstream_flush_seconds_count)
        for ((i = 0; i < 400; i++)); do
          [ "$(metric "$pa" shopstream_flush_seconds_count)" -gt "$c0" ] && break
          sleep 0.01
        done
        sleep "0.0$(rand 0 5)"
      else
        sleep "$(rand 0 2).$(rand 0 9)"
      fi
      kill -9 "$A" 2>/dev/null
      t=$(now)
      wait_gone "$A"
      kills=$((kills + 1))
      echo "kill $kills: A (mode $mode)" >>"$WORK/crash.$w.kills"
    fi
    A=$(inst $s "$w" a "$pa" "$logf" "${opts[@]}")
    restarts=$((restarts + 1))
    r=$(wait_recovered "$pa" "$A" 120 "$t") || { note="instance did not recover after kill $kills"; break; }
    recs+=("$r")
  done
  wait_emitted "$WORK/emit.crash" || note="${note:+$note; }the stream was not emitted in time"
  kill -9 "$A" 2>/dev/null
  wait_gone "$A"
  finish_worker $s "$w" "$logf" "$kills kills" "$(max_of "${recs[@]}")" "$note"
}

scenario_crash() {
  EMIT_PREFIX="${PREFIX}crash."
  "$BIN" topics create --prefix "$EMIT_PREFIX" --partitions 6 >/dev/null
  emit_slices "$WORK/gen.jsonl" 1 40 "$WORK/emit.crash"
  local i=0 w pids=()
  for w in "${WORKERS[@]}"; do
    crash_one "$w" $((i++)) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  wait "$EMITTER" 2>/dev/null || true
  emit_check "$WORK/emit.crash" "$NLINES" || record crash emit "$NLINES" 0 no - - "emit failed"
}

# ---- scale: 3 instances over 6 partitions, joining and leaving mid-stream ----------------------
# Sum of the partitions a set of instances hold (the target is what one instance held alone).
held() { local p s=0; for p in "$@"; do s=$((s + $(metric "$p" shopstream_assigned_partitions))); done; echo $s; }
wait_held() { # wait_held TARGET T0 PORTS...: seconds until the ports hold TARGET partitions
  local target=$1 t0=$2 i
  shift 2
  for ((i = 0; i < 1200; i++)); do
    [ "$(held "$@")" -ge "$target" ] && { elapsed "$t0" "$(now)"; return 0; }
    sleep 0.05
  done
  return 1
}

scale_one() { # scale_one WORKER INDEX
  local w=$1 s=scale logf="$WORK/scale.$1.log" pa pb pc pd A B C D parts recs=() r t note="" starts=0
  RANDOM=$((SEED * 1000 + 100 + $2))
  pa=$(free_port) pb=$(free_port) pc=$(free_port) pd=$(free_port)
  local opts=(--set flush.ms=100 --set flush.events=5000)
  A=$(inst $s "$w" a "$pa" "$logf" "${opts[@]}")
  wait_recovered "$pa" "$A" 60 "$(now)" >/dev/null || note="A did not start"
  parts=$(metric "$pa" shopstream_assigned_partitions)
  sleep "$(rand 1 3)"
  t=$(now)
  B=$(inst $s "$w" b "$pb" "$logf" "${opts[@]}")
  C=$(inst $s "$w" c "$pc" "$logf" "${opts[@]}")
  starts=2
  for ((i = 0; i < 400; i++)); do # B and C got partitions
    [ "$(metric "$pb" shopstream_assigned_partitions)" -gt 0 ] && [ "$(metric "$pc" shopstream_assigned_partitions)" -gt 0 ] && break
    sleep 0.05
  done
  r=$(wait_held "$parts" "$t" "$pa" "$pb" "$pc") && recs+=("$r")
  sleep "$(rand 1 3)"
  kill -TERM "$A" # A leaves (drains and commits; a static member's partitions wait for its session)
  t=$(now)
  wait_gone "$A" || note="A did not exit within 60 s of SIGTERM"
  r=$(wait_held "$parts" "$t" "$pb" "$pc") && recs+=("$r")
  D=$(inst $s "$w" d "$pd" "$logf" "${opts[@]}")
  starts=3
  sleep "$(rand 2 4)"
  kill -9 "$C" # C dies
  t=$(now)
  wait_gone "$C"
  r=$(wait_held "$parts" "$t" "$pb" "$pd") && recs+=("$r")
  A=$(inst $s "$w" a "$pa" "$logf" "${opts[@]}") # A comes back: three again
  starts=4
  sleep "$(rand 2 4)"
  kill -TERM "$B"
  t=$(now)
  wait_gone "$B" || note="${note:+$note; }B did not exit within 60 s of SIGTERM"
  r=$(wait_held "$parts" "$t" "$pa" "$pd") && recs+=("$r")
  wait_emitted "$WORK/emit.scale" || note="${note:+$note; }the stream was not emitted in time"
  kill -9 "$A" "$D" 2>/dev/null
  wait_gone "$A" "$D"
  finish_worker $s "$w" "$logf" "$starts joins, 3 leaves" "$(max_of "${recs[@]}")" "$note${parts:+ $parts partitions}"
}

scenario_scale() {
  EMIT_PREFIX="${PREFIX}scale."
  "$BIN" topics create --prefix "$EMIT_PREFIX" --partitions 6 >/dev/null
  emit_slices "$WORK/gen.jsonl" 0.5 40 "$WORK/emit.scale"
  local i=0 w pids=()
  for w in "${WORKERS[@]}"; do
    scale_one "$w" $((i++)) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  wait "$EMITTER" 2>/dev/null || true
  emit_check "$WORK/emit.scale" "$NLINES" || record scale emit "$NLINES" 0 no - - "emit failed"
}

# ---- outage: Redis, PostgreSQL, the broker, then all three, 10 s each, mid-stream -------------
scenario_outage() {
  EMIT_PREFIX="${PREFIX}outage."
  "$BIN" topics create --prefix "$EMIT_PREFIX" --partitions 6 >/dev/null
  local w i code servers t r ev
  declare -A port pid rec seen
  for w in "${WORKERS[@]}"; do
    port[$w]=$(free_port)
    pid[$w]=$(inst outage "$w" a "${port[$w]}" "$WORK/outage.$w.log" --set flush.ms=50 --set flush.events=2000)
    rec[$w]=""
    seen[$w]=""
  done
  emit_slices "$WORK/gen.jsonl" 2 50 "$WORK/emit.outage"
  for w in "${WORKERS[@]}"; do wait_recovered "${port[$w]}" "${pid[$w]}" 60 "$(now)" >/dev/null || true; done
  for servers in redis postgres kafka "redis postgres kafka"; do
    sleep 3
    STOPPED=($servers)
    for srv in $servers; do "$STACK" stop-one "$srv" >/dev/null 2>&1; done
    t=$(now)
    log "outage: $servers stopped"
    for w in "${WORKERS[@]}"; do
      for ((i = 0; i < 150; i++)); do
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[$w]}/readyz" || true)
        [ "$code" = 503 ] && break
        sleep 0.05
      done
      if [ "$code" = 503 ]; then
        seen[$w]+="${servers// /+}:503 "
      elif [ "$w" = reco ] && [ "$servers" = postgres ] && [ "$code" = 200 ]; then
        seen[$w]+="postgres:200(no PostgreSQL sink) " # reco writes PostgreSQL only from its refresh
      else
        seen[$w]+="${servers// /+}:$code(not-503) "
      fi
    done
    sleep "$(python3 -c "import sys; print(max(0, 10 - ($(now) - $t)))")"
    for w in "${WORKERS[@]}"; do kill -0 "${pid[$w]}" 2>/dev/null || seen[$w]+="DIED-during-${servers// /+} "; done
    for srv in $servers; do "$STACK" start-one "$srv" >/dev/null 2>&1; done
    STOPPED=()
    t=$(now)
    log "outage: $servers started again"
    for w in "${WORKERS[@]}"; do
      ev=$(metric "${port[$w]}" shopstream_events_total)
      for ((i = 0; i < 1200; i++)); do
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[$w]}/readyz" || true)
        [ "$code" = 200 ] && break
        sleep 0.05
      done
      r=$(wait_recovered "${port[$w]}" "${pid[$w]}" 120 "$t" "$ev") || r="never"
      rec[$w]+="$r "
    done
    log "outage: recovered after $servers: $(for w in "${WORKERS[@]}"; do printf '%s=%ss ' "$w" "${rec[$w]##* }"; done)"
  done
  wait "$EMITTER" 2>/dev/null || true
  emit_check "$WORK/emit.outage" "$NLINES" || record outage emit "$NLINES" 0 no - - "emit failed"
  for w in "${WORKERS[@]}"; do
    kill -9 "${pid[$w]}" 2>/dev/null
    wait_gone "${pid[$w]}"
    local retries
    retries=$(grep -c 'retry_in_ms' "$WORK/outage.$w.log" || true)
    ( # recovery: the longest, in seconds, per outage in order redis, postgres, kafka, all
      r=$(max_of ${rec[$w]//never/999})
      note="readyz ${seen[$w]}; recovery per outage ${rec[$w]}; $retries retries logged"
      [[ "${seen[$w]}" == *not-503* || "${seen[$w]}" == *DIED* || "${rec[$w]}" == *never* ]] && note="CHECK FAILED: $note"
      finish_worker outage "$w" "$WORK/outage.$w.log" "4 outages" "$r" "$note"
    ) &
  done
  wait
  if grep -q $'^outage\t.*CHECK FAILED' "$RESULTS"; then FAILED=1; fi
}

source "$FAULT/hostile.sh"
