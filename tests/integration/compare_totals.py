#!/usr/bin/env python3
"""compare_totals.py: checks `shopstream query stats --json` against expected_totals.py's output,
for the Redis view and the PostgreSQL rollup. Exit 0 when both equal the expectation exactly.

usage: compare_totals.py EXPECTED.json STATS.json LABEL
"""
import json
import sys

def views(stats):
    r = stats["redis"]["total"]
    redis = {"orders": r.get("orders", 0), "items": r.get("items", 0), "refunds": r.get("refunds", 0),
             "revenue": {k[8:]: v for k, v in r.items() if k.startswith("revenue:") and v},
             "refund": {k[7:]: v for k, v in r.items() if k.startswith("refund:") and v}}
    pg = {"orders": 0, "items": 0, "refunds": 0, "revenue": {}, "refund": {}}
    for cur, row in stats["postgresql"].items():
        if not isinstance(row, dict):
            raise SystemExit(f"postgresql error: {row}")
        pg["orders"] += row["orders"]
        pg["items"] += row["items"]
        pg["refunds"] += row["refunds"]
        if row["revenue_minor"]:
            pg["revenue"][cur] = row["revenue_minor"]
        if row["refund_minor"]:
            pg["refund"][cur] = row["refund_minor"]
    return redis, pg

def main():
    exp = json.load(open(sys.argv[1]))
    stats = json.load(open(sys.argv[2]))
    label = sys.argv[3]
    want = {k: exp[k] for k in ("orders", "items", "refunds", "revenue", "refund")}
    ok = True
    for name, got in zip(("redis", "postgresql"), views(stats)):
        same = got == want
        ok = ok and same
        print(f"{label}: {name:10s} {'equal' if same else 'DIFFERENT'} orders={got['orders']} "
              f"items={got['items']} refunds={got['refunds']} revenue={got['revenue']}")
        if not same:
            print(f"{label}: expected   orders={want['orders']} items={want['items']} "
                  f"refunds={want['refunds']} revenue={want['revenue']} refund={want['refund']}")
    sys.exit(0 if ok else 1)

if __name__ == "__main__":
    main()
