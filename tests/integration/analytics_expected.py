#!/usr/bin/env python3
"""analytics_expected.py: the analytics worker's totals computed independently of the C code from a
JSON-lines event file, in file order (which is each partition's order): late events (older than the
running watermark minus the lateness) and invalid ones (negative amounts or quantities, unknown
currencies, far from the watermark) are set apart like the worker does.

usage: analytics_expected.py EVENTS.jsonl [--lateness-s N] [--bound-s N]
Prints JSON: {"total": {field: value}, "late": N, "invalid": {topic: N}, "dau": {YYYYMMDD: N}}
with fields named as in the worker's Redis hashes ("orders", "revenue:KRW", ...).
"""
import collections
import datetime
import json
import sys

ISO = set("""AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN
NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV
WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG""".split())

def topic(t):
    return {"order": "order", "user": "user", "search": "search", "inventory": "inventory",
            "catalog": "catalog"}[t.split(".")[0]]

def invalid(ev):
    t = ev["type"]
    if t in ("order.placed", "order.paid", "order.payment_failed", "order.refunded", "order.chargeback"):
        if ev["amount_minor"] < 0 or ev["amount_minor"] > 10**15 or ev["currency"] not in ISO:
            return True
        if t == "order.placed" and (not ev["items"] or any(i["quantity"] <= 0 for i in ev["items"])):
            return True
    if t == "user.cart_added":
        return ev["quantity"] <= 0 or ev["unit_price_minor"] < 0 or ev["currency"] not in ISO
    if t == "user.cart_removed":
        return ev["quantity"] <= 0
    if t in ("user.points_earned", "user.points_spent"):
        return ev["points"] < 0
    if t == "inventory.stock_level":
        return ev["quantity"] < 0
    return False

def main():
    args = sys.argv[2:]
    lateness = int(args[args.index("--lateness-s") + 1]) * 1000 if "--lateness-s" in args else 300000
    bound = int(args[args.index("--bound-s") + 1]) * 1000 if "--bound-s" in args else 7776000000
    tot = collections.Counter()
    invalid_n = collections.Counter()
    late = 0
    wm = {}  # per topic: a global watermark stands in for the per-partition one (see the test)
    dau = collections.defaultdict(set)
    open_oos = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        if not line.strip():
            continue
        ev = json.loads(line)
        t, ts, tp = ev["type"], ev["occurred_at"], topic(ev["type"])
        if invalid(ev):
            invalid_n[tp] += 1
            continue
        w = wm.get(tp)
        if w is not None and (ts > w + bound or ts < w - bound):
            invalid_n[tp] += 1
            continue
        wm[tp] = ts if w is None else max(w, ts)
        if w is not None and ts < w - lateness:
            late += 1
            continue
        day = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc).strftime("%Y%m%d")
        if ev.get("user_id"):
            dau[day].add(ev["user_id"])
        if t == "order.placed":
            tot["orders"] += 1
            tot["orders:" + ev["currency"]] += 1
            tot["revenue:" + ev["currency"]] += ev["amount_minor"]
            tot["items"] += sum(i["quantity"] for i in ev["items"])
        elif t == "order.refunded":
            tot["refunds"] += 1
            tot["refund:" + ev["currency"]] += ev["amount_minor"]
        elif t == "order.chargeback":
            tot["chargebacks"] += 1
            tot["chargeback:" + ev["currency"]] += ev["amount_minor"]
        elif t == "order.paid":
            tot["paid"] += 1
        elif t == "user.product_viewed":
            tot["views"] += 1
        elif t == "user.cart_added":
            tot["carts"] += 1
            tot["cart_units"] += ev["quantity"]
        elif t == "user.points_earned":
            tot["points_earned"] += ev["points"]
        elif t == "user.points_spent":
            tot["points_spent"] += ev["points"]
        elif t == "search.query":
            tot["searches"] += 1
        elif t == "search.visual":
            tot["visual_searches"] += 1
        elif t == "user.signup":
            tot["signups"] += 1
        elif t == "inventory.stock_level":
            key = (ev["product_id"], ev["region"])
            if ev["quantity"] == 0 and key not in open_oos:
                tot["stockouts"] += 1
                open_oos[key] = ts
            elif ev["quantity"] > 0 and key in open_oos:
                tot["restocks"] += 1
                tot["oos_ms"] += max(0, ts - open_oos.pop(key))
    out = {"total": {k: v for k, v in tot.items() if v}, "late": late, "invalid": dict(invalid_n),
           "dau": {d: len(u) for d, u in sorted(dau.items())}}
    json.dump(out, sys.stdout, sort_keys=True)
    print()

if __name__ == "__main__":
    main()
