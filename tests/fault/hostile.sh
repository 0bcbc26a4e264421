# hostile.sh: the hostile-input scenario of fault_suite.sh (sourced by scenarios.sh).
# The generated stream with reorders, duplicates and out-of-range events (hostile_stream.py),
# emitted in slices; between slices, raw messages (kafka_raw) into every topic: random bytes,
# truncated Avro, an unknown fingerprint, a wrong magic byte; into the search topic a NaN double
# (search.visual top_score) and a 10 MB query (the topic's max.message.bytes is raised for it).
# Every invalid message must end in each reading group's dead letters with a shop.error header;
# the views must equal the reference (the valid events are the same events).

hostile_prepare() {
  local d="$WORK/hostile" t good len short kind
  mkdir -p "$d/raw" "$d/probe"
  python3 "$FAULT/hostile_stream.py" "$WORK/gen.jsonl" "$d/stream.jsonl" --seed "$SEED" >"$d/manifest" ||
    return 1
  # probes: one real message per topic (and a visual search with a recognisable double), emitted
  # into topics of their own and read back as bytes
  local PP="${PREFIX}probe."
  "$BIN" topics create --prefix "$PP" --partitions 1 >/dev/null
  for t in user order search inventory catalog; do grep -m1 "\"type\":\"$t\." "$WORK/gen.jsonl"; done >"$d/probe.jsonl"
  echo '{"type":"search.visual","occurred_at":1793491230589,"user_id":"hx-nan","image_id":"img-x","matched_product_ids":["p-00001"],"top_score":0.123456789}' >>"$d/probe.jsonl"
  "$BIN" emit --set "topic.prefix=$PP" "$d/probe.jsonl" >"$d/probe.out" 2>&1 || return 1
  for t in user order search inventory catalog; do
    mkdir -p "$d/probe/$t"
    "$RAW" dump "$BROKERS" "${PP}shop.$t.events" "$d/probe/$t" >/dev/null || return 1
    good=$(ls "$d/probe/$t"/*.bin | head -1)
    len=$(stat -c %s "$good")
    python3 -c "import random,sys; r=random.Random(int(sys.argv[1])); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(300)))" \
      "$((SEED + ${#t}))" >"$d/raw/$t.random.bin"
    head -c $((len - 7)) "$good" >"$d/raw/$t.truncated.bin"
    { printf '\xc3\x01\x00\x00\x00\x00\x00\x00\x00\x00'; tail -c +11 "$good"; } >"$d/raw/$t.unknown_fingerprint.bin"
    { printf '\x42'; tail -c +2 "$good"; } >"$d/raw/$t.wrong_magic.bin"
  done
  python3 - "$d/probe/search" "$d/raw/search.nan.bin" <<'PY' || return 1
import glob, struct, sys
want = struct.pack("<d", 0.123456789)
for f in glob.glob(sys.argv[1] + "/*.bin"):
    b = open(f, "rb").read()
    if b.count(want) == 1:
        open(sys.argv[2], "wb").write(b.replace(want, struct.pack("<d", float("nan"))))
        sys.exit(0)
sys.exit("no visual-search probe with the recognisable double")
PY
  python3 -c "
import json; print(json.dumps({'type': 'search.query', 'occurred_at': 1793491230589, 'user_id': 'hx-10mb', 'query': 'q' * (10 << 20), 'result_count': 3}))" >"$d/big.jsonl"
}

# After some slices: raw messages into the topics (a quarter of the way: the undecodable ones;
# half way: the NaN and the 10 MB query).
hostile_hook() {
  local d="$WORK/hostile" f t k n
  n=$(ls "$d/slices.done" 2>/dev/null | wc -l)
  touch "$d/slices.done/$(basename "$1")"
  if [ "$n" = 5 ]; then
    for f in "$d"/raw/*.bin; do
      t=$(basename "$f" .bin)
      k=${t#*.}
      [ "$k" = nan ] && continue
      "$RAW" produce "$BROKERS" "${EMIT_PREFIX}shop.${t%%.*}.events" "hx-raw-$k" "$f" || echo "kafka_raw produce $f failed"
    done
  elif [ "$n" = 10 ]; then
    "$RAW" produce "$BROKERS" "${EMIT_PREFIX}shop.search.events" hx-nan "$d/raw/search.nan.bin" || echo "kafka_raw produce nan failed"
    "$BIN" emit --set "topic.prefix=$EMIT_PREFIX" --set kafka.message.max.bytes=16000000 "$d/big.jsonl" \
      >"$d/big.out" 2>&1 || echo "10 MB query: emit failed: $(tail -c 300 "$d/big.out")"
  fi
}

scenario_hostile() {
  [ -n "$RAW" ] || { record hostile all 0 0 no - - "KAFKA_RAW not set"; return 1; }
  EMIT_PREFIX="${PREFIX}hostile."
  "$BIN" topics create --prefix "$EMIT_PREFIX" --partitions 6 >/dev/null
  hostile_prepare || { record hostile all 0 0 no - - "preparing the hostile input failed"; return 1; }
  local d="$WORK/hostile" libs w t
  mkdir -p "$d/slices.done"
  # the search topic takes the 10 MB message (the broker's default limit is 1 MB)
  libs=$(cd "$FAULT/../.." && pwd)/.state/kafka/libs
  if [ -d "$libs" ] && command -v java >/dev/null; then
    java -cp "$libs/*" kafka.admin.ConfigCommand --bootstrap-server "$BROKERS" --entity-type topics \
      --entity-name "${EMIT_PREFIX}shop.search.events" --alter --add-config max.message.bytes=16777216 >"$d/config.out" 2>&1 ||
      log "hostile: could not raise max.message.bytes: $(tail -2 "$d/config.out")"
  fi
  declare -A port pid
  for w in "${WORKERS[@]}"; do
    port[$w]=$(free_port)
    pid[$w]=$(inst hostile "$w" a "${port[$w]}" "$WORK/hostile.$w.log" --set flush.ms=50 --set flush.events=2000)
  done
  SLICE_HOOK=hostile_hook emit_slices "$d/stream.jsonl" 0.5 20 "$WORK/emit.hostile"
  wait "$EMITTER" 2>/dev/null || true
  local sent
  sent=$(awk -F'[= ]' '/^sent=/ {s += $2} END {print s + 0}' "$WORK/emit.hostile")
  grep -q 'failed' "$WORK/emit.hostile" && log "hostile: $(grep failed "$WORK/emit.hostile" | head -3)"
  local nraw=$(($(ls "$d"/raw/*.bin | wc -l)))
  for w in "${WORKERS[@]}"; do
    kill -0 "${pid[$w]}" 2>/dev/null || echo "$w" >>"$d/crashed"
    kill -9 "${pid[$w]}" 2>/dev/null
    wait_gone "${pid[$w]}"
  done
  for w in "${WORKERS[@]}"; do
    (
      note=""
      grep -qx "$w" "$d/crashed" 2>/dev/null && note="CHECK FAILED: the worker died mid-stream; "
      finish_worker hostile "$w" "$WORK/hostile.$w.log" "0" "-" "${note}PENDING"
    ) &
  done
  wait
  # what each group dead-lettered: the hx- keys (hostile messages) and whether each has a reason
  mkdir -p "$d/dlq"
  for t in $("$BIN" topics list | awk -v p="$EMIT_PREFIX" 'index($1, p) == 1 && $1 ~ /\.dlq$/ {print $1}'); do
    "$RAW" dump "$BROKERS" "$t" "$d/dlq" >>"$d/dlq.txt" 2>/dev/null || true
  done
  python3 - "$d" "$RESULTS" "$sent" "${WORKERS[@]}" <<'PY'
import glob, os, re, sys
d, results, sent, workers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
reads = {"analytics": "user order search inventory catalog", "search": "search catalog",
         "fraud": "order user", "reco": "user order search catalog"}
raw = [os.path.basename(f)[:-4] for f in glob.glob(d + "/raw/*.bin")]  # topic.kind
manifest = [l.split() for l in open(d + "/manifest")]  # kind key topic
big_ok = os.path.exists(d + "/big.out") and "sent=1 " in open(d + "/big.out").read()
lines = open(d + "/dlq.txt", encoding="utf-8", errors="replace").read().splitlines() if os.path.exists(d + "/dlq.txt") else []
by_worker = {}
for l in lines:
    h = dict(x.split("=", 1) for x in l.split("\t")[1:] if "=" in x)
    by_worker.setdefault(h.get("shop.worker", "?"), []).append(h)
rows = open(results).read().splitlines()
out = []
for r in rows:
    f = r.split("\t")
    if f[0] != "hostile" or not f[7].endswith("PENDING"):
        out.append(r)
        continue
    w = f[1]
    topics = reads.get(w, "").split()
    dl = by_worker.get(w, [])
    noreason = sum(1 for h in dl if not h.get("shop.error"))
    # undecodable messages must all be there: count them by topic
    want = [k for k in raw if k.split(".")[0] in topics and k != "search.nan"]
    srcs = {}
    for h in dl:
        t = h.get("shop.source.topic", "").rsplit(".", 2)[-2] if h.get("shop.source.topic") else "?"
        srcs[t] = srcs.get(t, 0) + 1
    notes = []
    if noreason:
        notes.append("CHECK FAILED: %d dead letters without shop.error" % noreason)
    # reasons seen (first words), so a reader sees what was rejected
    reasons = sorted({re.sub(r"[0-9]+", "N", h.get("shop.error", ""))[:60] for h in dl})
    undecodable = sum(1 for h in dl if h.get("shop.error.class", "") in ("decode", "undecodable"))
    expect_min = len(want)
    if len(dl) < expect_min:
        notes.append("CHECK FAILED: %d dead letters, at least %d undecodable expected" % (len(dl), expect_min))
    notes.append("%d raw undecodable sent to its topics; dead letters by topic %s" % (expect_min, srcs))
    notes.append("10MB query %s" % ("delivered" if big_ok else "NOT delivered (see hostile/big.out)"))
    notes.append("reasons: " + " | ".join(reasons[:12]))
    f[3] = "%s dups, reorders" % "100"
    f[2] = sent
    f[5] = str(len(dl))
    f[7] = (f[7][:-len("PENDING")] + "; ".join(notes)).strip("; ")
    out.append("\t".join(f))
open(results, "w").write("\n".join(out) + "\n")
PY
  if awk -F'\t' '$1 == "hostile" && $8 ~ /CHECK FAILED/ {b = 1} END {exit !b}' "$RESULTS"; then FAILED=1; fi
  log "hostile: dead letters in $d/dlq.txt; the out-of-range events: $(tr '\n' ',' <"$d/manifest")"
}
