#!/usr/bin/env bash
# test_notify_channels.sh: the notification hub's e-mail channel, quiet hours and bad input, on
# real Kafka, Redis and PostgreSQL with a local SMTP sink (notify_smtp_sink.py: aiosmtpd, from the
# Debian package python3-aiosmtpd or PyPI; a stdlib SMTP server when neither is there, said in the
# log) and the webhook receiver of test_notify.sh (signatures verified).
# Namespace A (in-app, webhook, e-mail): restock, price drop, level-up and shipped each reach the
# SMTP sink exactly once per user (counted by X-Shopstream-Id, the dedupe key), with the user's
# locale's template (ko/en subject) and HTML-escaped fields. A user whose quiet hours (set by a
# preference event, in Asia/Kathmandu, ending 1-2 minutes from now) hold "now" gets every channel
# deferred (delivery log `deferred`, nothing sent) and each delivered once after the end. A user id
# with a space and one with CR LF + "Bcc:" cannot make an address: their e-mails are dead with the
# reason, nothing reaches the SMTP envelope or headers, and their in-app and webhook notifications
# (webhook-id percent-encoded, still verified) go out. Namespace C runs on a copy of deploy/notify
# with two broken English templates (an unknown field, an unclosed tag): those notifications are
# dead with the template error, logged (the unclosed tag already at start); the same users' other
# types and the Korean templates send.
# Off-allowlist webhook hosts are covered by test_notify.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_stack
SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
VENV=${NOTIFY_VENV:-$WORK/venv}
T0=$(date +%s)

# ---- interpreters: aiosmtpd for the sink, standardwebhooks for the receiver when there ----
SMTP_PY=
for py in /usr/bin/python3 python3 "$VENV/bin/python"; do
  if "$py" -c 'import aiosmtpd' 2>/dev/null; then SMTP_PY=$py && break; fi
done
if [ -z "$SMTP_PY" ] && { [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV" >/dev/null 2>&1; } &&
  timeout 120 "$VENV/bin/pip" install -q aiosmtpd >"$WORK/pip.log" 2>&1; then
  SMTP_PY=$VENV/bin/python
fi
if [ -z "$SMTP_PY" ]; then
  log "aiosmtpd not importable nor installable: the sink is the stdlib SMTP server"
  SMTP_PY=python3
fi
WH_PY=python3
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  WH_PY=$VENV/bin/python
fi

on_exit() {
  [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null
  [ -n "${SINK:-}" ] && kill "$SINK" 2>/dev/null
  return 0
}
"$SMTP_PY" "$HERE/notify_smtp_sink.py" "$WORK/smtp.port" "$WORK/smtp.log" 2>>"$WORK/smtp.err" &
SINK=$!
"$WH_PY" "$HERE/notify_receiver.py" "$WORK/recv.port" "$WORK/recv.log" "$SECRET" 2>>"$WORK/recv.err" &
RECV=$!
for ((i = 0; i < 100; i++)); do [ -s "$WORK/smtp.port" ] && [ -s "$WORK/recv.port" ] && break; sleep 0.1; done
[ -s "$WORK/smtp.port" ] || fail "SMTP sink did not start: $(cat "$WORK/smtp.err")"
[ -s "$WORK/recv.port" ] || fail "receiver did not start: $(cat "$WORK/recv.err")"
SP=$(cat "$WORK/smtp.port") RP=$(cat "$WORK/recv.port")
touch "$WORK/smtp.log" "$WORK/recv.log"

# ---- C's templates: deploy/notify with two broken English ones ----
cp -r "$HERE/../../deploy/notify" "$WORK/tmpl"
printf 'You reached level {{{level}}}\n<p>Now level {{levle}}.</p>\n' >"$WORK/tmpl/level_up.en.tmpl"
printf 'Your order {{{order_id}}} has shipped\n<p>Order {{order_id}} via {{carrier</p>\n' \
  >"$WORK/tmpl/order_shipped.en.tmpl"

"$BIN" topics create --prefix "$PREFIX" --partitions 3 >/dev/null
NA=${RUN_ID}a NC=${RUN_ID}c
NAMESPACES+=("$NA" "$NC")
common=(--set flush.ms=100 --set kafka.session.timeout.ms=6000 --set notify.dispatch=on
  --set notify.dispatch.ms=100 --set notify.backoff.base.ms=200 --set notify.backoff.cap.ms=2000
  --set notify.max.attempts=40 --set "notify.smtp.url=smtp://127.0.0.1:$SP")
start_worker notify "$WORK/a.log" "${common[@]}" --set "namespace=$NA" --set "http.port=$(free_port)" \
  --set notify.channels=inapp,webhook,email --set notify.email.domain=a.example.test \
  --set "notify.templates=$HERE/../../deploy/notify" --set "notify.webhook.secret=$SECRET" \
  --set notify.webhook.allow=127.0.0.1 --set "notify.webhook.url=http://127.0.0.1:$RP/hook" \
  --set "notify.ops.webhook.url=http://127.0.0.1:$RP/ops" --set notify.ops.email=ops@a.example.test
A=$WORKER_PID
start_worker notify "$WORK/c.log" "${common[@]}" --set "namespace=$NC" --set "http.port=$(free_port)" \
  --set notify.channels=inapp,email --set notify.email.domain=c.example.test \
  --set "notify.templates=$WORK/tmpl"
C=$WORKER_PID

pg() { psql -qtA "$PG_URL" -c "SET search_path = bt_$1" -c "$2" 2>/dev/null; }

# ---- phase 1: wishlists (locale from the event), titles and prices, out of stock ----
cat >"$WORK/p1.jsonl" <<'EOF'
{"type":"user.wishlist_added","user_id":"u-e1","product_id":"p-ce1","region":"KR","session_id":"s-e1","source":"web","locale":"en-US"}
{"type":"user.wishlist_added","user_id":"u-e1","product_id":"p-ce2","session_id":"s-e1","source":"web","locale":"en-US"}
{"type":"user.wishlist_added","user_id":"u-e2","product_id":"p-ce1","region":"KR","session_id":"s-e2","source":"web","locale":"ko-KR"}
{"type":"catalog.product_upserted","product_id":"p-ce1","source":"backoffice","title":"Tea & <Cups>","category":"kitchen","brand":"Acme","price_minor":5000,"currency":"KRW"}
{"type":"catalog.product_upserted","product_id":"p-ce2","source":"backoffice","title":"Blue <Kettle>","category":"kitchen","brand":"Acme","price_minor":10000,"currency":"KRW"}
{"type":"inventory.stock_level","product_id":"p-ce1","source":"inventory","region":"KR","quantity":0}
EOF
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/p1.jsonl" >/dev/null
ready() {
  [ "$(pg "$1" "SELECT (SELECT count(*) FROM notify_wishlist WHERE user_id IN ('u-e1', 'u-e2'))
    + (SELECT count(*) FROM notify_price WHERE product_id IN ('p-ce1', 'p-ce2'))
    + (SELECT count(*) FROM notify_stock WHERE product_id = 'p-ce1')
    + (SELECT count(*) FROM notify_user WHERE user_id = 'u-e2' AND locale = 'ko-KR')")" = 7 ]
}
for ((i = 0; i < 600; i++)); do ready "$NA" && ready "$NC" && break; sleep 0.1; done
ready "$NA" && ready "$NC" || fail "phase 1 state not in PostgreSQL"

# ---- phase 2: the triggers; u-q1's quiet hours (Asia/Kathmandu, UTC+05:45) hold now ----
# The window runs from 30 min ago to the start of the minute 2 minutes ahead (so it ends 60-120 s
# from now) in Kathmandu time; read as UTC it would not hold now, so a send proves the zone ignored.
read -r QS QE QEND <<<"$(psql -qtA -F ' ' "$PG_URL" -c "SELECT
  to_char(now() AT TIME ZONE 'Asia/Kathmandu' - interval '30 min', 'HH24:MI'),
  to_char(now() AT TIME ZONE 'Asia/Kathmandu' + interval '2 min', 'HH24:MI'),
  extract(epoch FROM date_trunc('minute', now() + interval '2 min'))::bigint")"
log "u-q1 quiet hours $QS-$QE Asia/Kathmandu (end in $((QEND - $(date +%s))) s)"
sed "s/@QS@/$QS/; s/@QE@/$QE/" >"$WORK/p2.jsonl" <<'EOF'
{"type":"inventory.stock_level","product_id":"p-ce1","source":"inventory","region":"KR","quantity":5}
{"type":"catalog.product_upserted","product_id":"p-ce2","source":"backoffice","title":"Blue <Kettle>","category":"kitchen","brand":"Acme","price_minor":8000,"currency":"KRW"}
{"type":"user.level_up","user_id":"u-e1","level":3,"tier":"gold","badge":"collector","session_id":"s-e1","source":"points","locale":"en-US"}
{"type":"user.level_up","user_id":"u-e2","level":4,"tier":"gold","badge":"collector","session_id":"s-e2","source":"points","locale":"ko-KR"}
{"type":"order.shipped","user_id":"u-e1","order_id":"o-ce1","source":"backoffice","carrier":"CJ <Logistics>","tracking_id":"KR1"}
{"type":"order.shipped","user_id":"u-e2","order_id":"o-ce2","source":"backoffice","carrier":"CJ Logistics","tracking_id":"KR2"}
{"type":"user.notification_prefs_changed","user_id":"u-q1","notification_type":"*","channel":"*","enabled":true,"quiet_start":"@QS@","quiet_end":"@QE@","timezone":"Asia/Kathmandu","session_id":"s-q1","source":"web","locale":"en-US"}
{"type":"user.level_up","user_id":"u-q1","level":2,"tier":"silver","badge":"b","session_id":"s-q1","source":"points","locale":"en-US"}
{"type":"fraud.scored","user_id":"u-e1","order_id":"o-ce9","score":91,"level":"high","recommendation":"decline","reasons":["many cards"],"rules":["R1"],"model_version":"m","amount_minor":500000,"currency":"KRW","anomaly":null}
{"type":"user.level_up","user_id":"u bad","level":2,"tier":"silver","badge":"b","session_id":"s-b","source":"points","locale":"en-US"}
{"type":"user.level_up","user_id":"u-crlf\r\nBcc: evil@x.test","level":2,"tier":"silver","badge":"b","session_id":"s-b","source":"points","locale":"en-US"}
EOF
"$BIN" emit --set "topic.prefix=$PREFIX" "$WORK/p2.jsonl" >/dev/null

# settled: every crafted row of the non-quiet users left 'pending', u-q1's three are deferred
settled_a() {
  [ "$(pg "$NA" "SELECT count(*) FILTER (WHERE user_id <> 'u-q1' AND status <> 'pending')
    + count(*) FILTER (WHERE user_id = 'u-q1' AND status = 'pending' AND attempts = 0
      AND next_attempt_at > now() + interval '20 s')
    FROM notify_outbox")" = $((12 + 9 + 3 + 3 + 3 + 2)) ]
}
settled_c() {
  [ "$(pg "$NC" "SELECT count(*) FROM notify_outbox WHERE user_id IN ('u-e1', 'u-e2') AND status <> 'pending'")" = $((8 + 6 + 1)) ]
}
for ((i = 0; i < 600; i++)); do settled_a && settled_c && break; sleep 0.2; done
kill -0 "$A" 2>/dev/null || fail "A exited: $(tail -3 "$WORK/a.log")"
kill -0 "$C" 2>/dev/null || fail "C exited: $(tail -3 "$WORK/c.log")"
settled_a || fail "A did not settle:
$(pg "$NA" "SELECT replace(dedupe_key, E'\r\n', '\\r\\n'), channel, status, next_attempt_at, last_error FROM notify_outbox ORDER BY user_id, ntype, channel")"
settled_c || fail "C did not settle:
$(pg "$NC" "SELECT dedupe_key, channel, status, last_error FROM notify_outbox ORDER BY user_id, ntype, channel")"
sleep 1 # a late duplicate would show now
log "phase 2 settled after $(($(date +%s) - T0)) s; $(head -1 "$WORK/smtp.log" | python3 -c 'import json,sys; print("sink:", json.load(sys.stdin)["sink"])')"

# ---- A: each decided e-mail exactly once, templates per locale, escaping, no injection ----
pg "$NA" "SELECT dedupe_key FROM notify_outbox WHERE channel IN ('email', 'ops_email') AND status = 'sent' ORDER BY 1" >"$WORK/sent.email"
python3 - "$WORK/smtp.log" "$WORK/sent.email" <<'PY' || fail "SMTP sink (A): wrong set of e-mails"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
a = [r for r in recs if r["rcpt_tos"][0].endswith("@a.example.test")]
sent = set(open(sys.argv[2]).read().split("\n")) - {""}
n = collections.Counter(r["id"] for r in a)
assert not [k for k, v in n.items() if v > 1], "duplicates: %s" % n.most_common(3)
assert set(n) == sent, "sink %s vs outbox sent %s" % (sorted(n), sorted(sent))
assert len({r["message_id"] for r in a}) == len(a), "Message-IDs not unique"
# nothing but the expected mailboxes ever reached the envelope; no header came from a user id
for r in recs:
    assert r["rcpt_tos"] in [[u + d] for u in ("u-e1", "u-e2", "u-q1")
                             for d in ("@a.example.test", "@c.example.test")] + [["ops@a.example.test"]], r["rcpt_tos"]
    assert "bcc" not in r["header_names"] and "evil" not in r["raw_headers"], r["raw_headers"]
    assert r["html"] is not None and r["content_type"] == "text/html", r
got = collections.Counter((r["rcpt_tos"][0], r["type"]) for r in a)
want = {(u + "@a.example.test", t): 1 for u, ts in
        (("u-e1", ("restock", "price_drop", "level_up", "order_shipped")),
         ("u-e2", ("restock", "level_up", "order_shipped")), ("ops", ("fraud_alert",))) for t in ts}
assert got == want, "got %s" % dict(got)
by = {(r["rcpt_tos"][0].split("@")[0], r["type"]): r for r in a}
fa = by[("ops", "fraud_alert")]
assert fa["id"].startswith("fraud_alert:u-e1:o-ce9:"), fa["id"]  # the alert about u-e1's order
assert "score 91 (high). Reasons: many cards" in fa["html"], fa["html"]
for r in a:
    assert r["id"].startswith(r["type"] + ":"), r["id"]  # X-Shopstream-Id = dedupe key
subj = {k: r["subject"] for k, r in by.items()}
assert subj[("u-e1", "level_up")] == "You reached level 3", subj
assert subj[("u-e2", "level_up")] == "레벨 4 달성!", subj
assert subj[("u-e1", "order_shipped")] == "Your order o-ce1 has shipped", subj
assert subj[("u-e2", "order_shipped")] == "주문 o-ce2 발송 완료", subj
assert subj[("u-e2", "restock")] == "Tea & <Cups> 재입고 알림", subj
assert subj[("u-e1", "price_drop")] == "Price drop: Blue <Kettle>", subj  # subject: plain text
pd = by[("u-e1", "price_drop")]["html"]
assert "<b>Blue &lt;Kettle&gt;</b> is now 8000 KRW (was 10000)" in pd, pd
assert "<Kettle>" not in pd, pd
assert "<b>Tea &amp; &lt;Cups&gt;</b>" in by[("u-e1", "restock")]["html"]
assert "(CJ &lt;Logistics&gt; KR1)" in by[("u-e1", "order_shipped")]["html"]
assert "상품이 KR 지역에 재입고되었습니다" in by[("u-e2", "restock")]["html"]
print("sink: %d e-mails for A, each once" % len(a))
PY

# ---- A: bad addresses: dead with the reason, logged; their other channels delivered ----
bad=$(pg "$NA" "SELECT count(*) FROM notify_outbox o JOIN notify_delivery_log l ON l.outbox_id = o.id
  WHERE (o.user_id = 'u bad' OR o.user_id LIKE 'u-crlf%') AND o.channel = 'email' AND o.status = 'dead'
  AND l.status = 'dead' AND l.reason LIKE 'invalid address for user id: local part is not%'")
[ "$bad" = 2 ] || fail "invalid addresses: $bad of 2 dead with a reason:
$(pg "$NA" "SELECT o.channel, o.status, l.status, l.reason FROM notify_outbox o LEFT JOIN notify_delivery_log l ON l.outbox_id = o.id WHERE o.user_id = 'u bad' OR o.user_id LIKE 'u-crlf%'")"
[ "$(grep -c 'invalid address for user id' "$WORK/a.log")" -ge 2 ] || fail "A did not log the invalid addresses"
[ "$(pg "$NA" "SELECT count(*) FROM notify_outbox WHERE (user_id = 'u bad' OR user_id LIKE 'u-crlf%')
  AND channel IN ('inapp', 'webhook') AND status = 'sent'")" = 4 ] ||
  fail "the bad-address users' in-app and webhook notifications were not delivered"
python3 - "$WORK/recv.log" <<'PY' || fail "receiver (A): wrong set of webhooks"
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["verified"] for r in recs), [r for r in recs if not r["verified"]][:1]
n = collections.Counter(r["id"] for r in recs)
assert not [k for k, v in n.items() if v > 1], n.most_common(2)
users = collections.Counter(r["id"].split(":")[1] for r in recs)
want = {"u-e1": 5, "u-e2": 3, "u%20bad": 1, "u-crlf%0D%0ABcc": 1}  # u-e1: 4 + the fraud alert (/ops)
assert [r["path"] for r in recs if r["id"].startswith("fraud_alert:")] == ["/ops"], recs
assert dict(users) == want, dict(users)  # u-q1: still quiet
crlf = [r["id"] for r in recs if r["id"].startswith("level_up:u-crlf")][0]
assert crlf.startswith("level_up:u-crlf%0D%0ABcc:%20evil@x.test:level2:"), crlf
print("receiver: %d webhooks verified (%s), the CR LF user id percent-encoded" % (len(recs), recs[0]["verifier"]))
PY

# ---- A: quiet hours: every channel of u-q1 deferred, nothing sent yet ----
[ "$(pg "$NA" "SELECT count(DISTINCT o.channel) FROM notify_outbox o JOIN notify_delivery_log l ON l.outbox_id = o.id
  WHERE o.user_id = 'u-q1' AND l.status = 'deferred' AND l.reason = 'quiet hours'")" = 3 ] ||
  fail "u-q1: not all 3 channels deferred: $(pg "$NA" "SELECT o.channel, l.status, l.reason FROM notify_outbox o JOIN notify_delivery_log l ON l.outbox_id = o.id WHERE o.user_id = 'u-q1'")"
due=$(pg "$NA" "SELECT min(extract(epoch FROM next_attempt_at))::bigint || ' ' || max(extract(epoch FROM next_attempt_at))::bigint FROM notify_outbox WHERE user_id = 'u-q1'")
[ "${due% *}" -ge "$QEND" ] && [ "${due#* }" -le $((QEND + 2)) ] ||
  fail "u-q1: due at $due, want the end of the quiet hours $QEND"
grep -q 'u-q1' "$WORK/smtp.log" "$WORK/recv.log" && fail "u-q1 got a message in quiet hours"
[ "$(redis_cli XLEN "bt:$NA:notify:inapp:u-q1")" = 0 ] || fail "u-q1's in-app entry came in quiet hours"

# ---- C: template errors: dead with the reason, logged; other types and locales delivered ----
tmpl_dead() {
  pg "$NC" "SELECT count(*) FROM notify_outbox o JOIN notify_delivery_log l ON l.outbox_id = o.id
    WHERE o.user_id = 'u-e1' AND o.ntype = '$1' AND o.status = 'dead' AND l.status = 'dead' AND l.reason = '$2'"
}
[ "$(tmpl_dead level_up 'template: unknown variable levle')" = 2 ] &&
  [ "$(tmpl_dead order_shipped 'template: unclosed tag')" = 2 ] ||
  fail "C: broken templates not dead with the reason:
$(pg "$NC" "SELECT o.ntype, o.channel, o.status, l.status, l.reason FROM notify_outbox o LEFT JOIN notify_delivery_log l ON l.outbox_id = o.id WHERE o.user_id IN ('u-e1', 'u-e2') ORDER BY 1, 2")"
grep -q 'template: unknown variable levle' "$WORK/c.log" && grep -q 'template: unclosed tag' "$WORK/c.log" ||
  fail "C did not log the template errors"
grep -q 'notify.templates: order_shipped.en: template: unclosed tag' "$WORK/c.log" ||
  fail "C did not warn about the unclosed tag at start"
[ "$(pg "$NC" "SELECT count(*) FROM notify_outbox WHERE user_id IN ('u-e1', 'u-e2') AND status = 'sent'")" = 10 ] ||
  fail "C: the notifications with intact templates were not all sent"
python3 - "$WORK/smtp.log" <<'PY' || fail "SMTP sink (C): wrong set of e-mails"
import collections, json, sys
c = [json.loads(l) for l in open(sys.argv[1])]
c = collections.Counter((r["rcpt_tos"][0], r["type"]) for r in c if r["rcpt_tos"][0].endswith("@c.example.test"))
want = {("u-e1@c.example.test", "restock"): 1, ("u-e1@c.example.test", "price_drop"): 1,
        ("u-e2@c.example.test", "restock"): 1, ("u-e2@c.example.test", "level_up"): 1,
        ("u-e2@c.example.test", "order_shipped"): 1}
assert dict(c) == want, dict(c)
PY
log "template errors dead and logged; invalid addresses dead, never at SMTP; other notifications sent"

# ---- A: the quiet hours end: each of u-q1's channels delivered once, not before the end ----
wait_s=$((QEND - $(date +%s)))
log "waiting ${wait_s} s for u-q1's quiet hours to end"
for ((i = 0; i < (wait_s + 60) * 5; i++)); do
  [ "$(pg "$NA" "SELECT count(*) FROM notify_outbox WHERE user_id = 'u-q1' AND status = 'sent'")" = 3 ] && break
  sleep 0.2
done
[ "$(pg "$NA" "SELECT count(*) FROM notify_outbox WHERE user_id = 'u-q1' AND status = 'sent'
  AND sent_at >= to_timestamp($QEND)")" = 3 ] ||
  fail "u-q1 after the quiet hours: $(pg "$NA" "SELECT channel, status, sent_at, next_attempt_at, last_error FROM notify_outbox WHERE user_id = 'u-q1'")"
sleep 1
[ "$(grep -c '"level_up:u-q1:' "$WORK/recv.log")" = 1 ] || fail "u-q1: webhook not received once"
[ "$(grep -c '"id": "level_up:u-q1:' "$WORK/smtp.log")" = 1 ] || fail "u-q1: e-mail not received once"
[ "$(redis_cli XLEN "bt:$NA:notify:inapp:u-q1")" = 1 ] || fail "u-q1: in-app entry not added once"
log "ok in $(($(date +%s) - T0)) s: e-mail once per notification (locale, escaping), quiet hours deferred then delivered, template errors and invalid addresses dead with reasons"
