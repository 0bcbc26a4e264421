#!/usr/bin/env bash
# test_dashboard.sh: the analytics worker serves its dashboard on a stack with generated traffic;
# headless chromium (playwright-core) opens it, waits for the Server-Sent Events to fill it, checks
# that the numbers on the page equal the Redis values, then stops Redis and expects the outage
# banner, restarts it and expects recovery, all on one Server-Sent Events connection (>= 3
# messages, no reconnection, one /events response counted by the worker). Saves a screenshot and
# prints its path. Also: /events over curl is one streamed response (retry, data, keep-alives), and
# /api/stats equals `shopstream query stats --by hour --json`.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
BROWSER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STACK=${SHOPSTREAM_STACK:-$REPO/deploy/stack}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || fail "chromium is missing (apt-get install chromium)"
bash "$REPO/deploy/web-deps.sh" >/dev/null || fail "deploy/web-deps.sh failed"
DEPS=${SHOPSTREAM_WEB_DEPS:-$REPO/build/web-deps}/node_modules
require_stack
"$BIN" topics create --prefix "$PREFIX" --partitions 6 >/dev/null
"$BIN" generate --events 20000 --seed 9 --start 2026-11-06T00:00:00Z --out "$WORK/gen.jsonl"
# the long tail (shipments and chargebacks days later) would make "today" nearly empty
head -n 18000 "$WORK/gen.jsonl" >"$WORK/head.jsonl"
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/head.jsonl" >/dev/null 2>&1 || fail "emit"
NS=$RUN_ID
NAMESPACES+=("$NS")
PORT=$(free_port)
start_worker analytics "$WORK/worker.log" --set "namespace=$NS" --set "http.port=$PORT" --set flush.ms=100 \
  --set "instance.id=$RUN_ID" --set "analytics.web.deps.dir=$DEPS" \
  --set "analytics.health.workers=analytics=http://127.0.0.1:$PORT"
wait_metric "$PORT" shopstream_events_total "$(wc -l <"$WORK/head.jsonl")" 180 "$WORKER_PID"
sleep 1 # one more flush
day=$(redis_cli ZRANGE "bt:$NS:an:minutes" -1 -1 | cut -c1-8)
cur=KRW
cat >"$WORK/expect.json" <<JSON
{"orders_total": $(redis_cli HGET "bt:$NS:an:total" orders),
 "orders_today": $(redis_cli HGET "bt:$NS:an:day:$day" orders),
 "revenue_today": $(redis_cli HGET "bt:$NS:an:day:$day" "revenue:$cur"),
 "items_today": $(redis_cli HGET "bt:$NS:an:day:$day" items),
 "views_today": $(redis_cli HGET "bt:$NS:an:day:$day" views),
 "carts_today": $(redis_cli HGET "bt:$NS:an:day:$day" carts),
 "dau": $(redis_cli PFCOUNT "bt:$NS:an:hll:day:$day")}
JSON
log "Redis: $(tr -d '\n' <"$WORK/expect.json")"

# One HTTP response carries the stream: `retry:`, a first snapshot, then a snapshot or a
# keep-alive comment each second.
curl -sN --max-time 3.6 "http://127.0.0.1:$PORT/events" >"$WORK/events.txt" || [ $? = 28 ] || fail "curl /events"
python3 - "$WORK/events.txt" <<'PY' || fail "/events is not one stream of snapshots"
import json, sys
blocks = [b for b in open(sys.argv[1]).read().split("\n\n") if b]
data = [json.loads(b.split("data: ", 1)[1]) for b in blocks if "\ndata: " in b or b.startswith("data: ")]
keep = [b for b in blocks if b.startswith(": keep-alive")]
ok = blocks[0].startswith("retry: ") and data and len(data) + len(keep) >= 3 \
    and len({d["stream"]["id"] for d in data}) == 1 and [d["stream"]["message"] for d in data] == list(range(1, len(data) + 1))
print(f"test_dashboard.sh: /events over one connection in 3.6 s: {len(data)} snapshots, {len(keep)} keep-alives "
      f"(stream #{data[0]['stream']['id'] if data else '-'}) {'ok' if ok else 'UNEXPECTED'}")
sys.exit(0 if ok else 1)
PY
SHOT=${SCREENSHOT:-$WORK/dashboard.png}
[ -n "${KEEP_WORK:-}" ] || SHOT=${SCREENSHOT:-/tmp/shopstream-dashboard-$RUN_ID.png}
NODE_PATH=$DEPS node "$BROWSER_DIR/dashboard.js" "http://127.0.0.1:$PORT/" "$CHROMIUM" "$WORK/expect.json" "$SHOT" \
  "$STACK" || fail "browser checks failed"
log "screenshot: $SHOT"

# /api/stats and `query stats` run the same rollup query.
curl -fsS "http://127.0.0.1:$PORT/api/stats?by=hour&from=2026-11-06T00:00:00Z&to=2026-11-07T00:00:00Z" >"$WORK/api_stats.json" ||
  fail "/api/stats"
"$BIN" query stats --namespace "$NS" --by hour --from 2026-11-06T00:00:00Z --to 2026-11-07T00:00:00Z --json \
  >"$WORK/cli_stats.json" || fail "query stats --by hour"
python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a == b and a["buckets"], (a, b); print("test_dashboard.sh: /api/stats equals query stats --by hour (%d hours)" % len(a["buckets"]))' \
  "$WORK/api_stats.json" "$WORK/cli_stats.json" || fail "/api/stats differs from query stats"
log "PASS"
