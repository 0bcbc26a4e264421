#!/usr/bin/env python3
"""expected_totals.py: the analytics totals of a JSON-lines event file, computed independently of
the C code (a reference for the integration tests).

usage: expected_totals.py EVENTS.jsonl [--since MS] [--until MS]
Prints JSON: {"orders": N, "items": N, "refunds": N, "revenue": {CUR: N}, "refund": {CUR: N},
"orders_by_currency": {CUR: N}, "invalid": N}. Events the worker must reject (negative amounts,
non-positive quantities, bad currency codes) are counted under "invalid" only.
"""
import json
import re
import sys

def main():
    path = sys.argv[1]
    args = sys.argv[2:]
    since = int(args[args.index("--since") + 1]) if "--since" in args else None
    until = int(args[args.index("--until") + 1]) if "--until" in args else None
    out = {"orders": 0, "items": 0, "refunds": 0, "revenue": {}, "refund": {},
           "orders_by_currency": {}, "invalid": 0}
    cur_ok = re.compile(r"^[A-Z]{3}$")
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            if not line.strip():
                continue
            ev = json.loads(line)
            t = ev.get("type")
            if t not in ("order.placed", "order.refunded"):
                continue
            ts = ev["occurred_at"]
            if since is not None and ts < since:
                continue
            if until is not None and ts >= until:
                continue
            amount, cur = ev["amount_minor"], ev["currency"]
            bad = amount < 0 or amount > 10**15 or not cur_ok.match(cur)
            if t == "order.placed":
                qty = [i["quantity"] for i in ev["items"]]
                bad = bad or not qty or any(q <= 0 for q in qty)
            if bad:
                out["invalid"] += 1
                continue
            if t == "order.placed":
                out["orders"] += 1
                out["items"] += sum(qty)
                out["revenue"][cur] = out["revenue"].get(cur, 0) + amount
                out["orders_by_currency"][cur] = out["orders_by_currency"].get(cur, 0) + 1
            else:
                out["refunds"] += 1
                out["refund"][cur] = out["refund"].get(cur, 0) + amount
    json.dump(out, sys.stdout, sort_keys=True)
    print()

if __name__ == "__main__":
    main()
