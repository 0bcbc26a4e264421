#!/usr/bin/env python3
"""hostile_stream.py: the hostile scenario's stream, from the generated one (standard library only).

  hostile_stream.py GEN.jsonl OUT.jsonl --seed S [--dups N] [--swaps N] [--partitions 6]

OUT holds every event of GEN, with
  - reorders: N pairs of user.product_viewed events of different users that land in the same
    partition (Kafka's murmur2 of the key, as librdkafka's murmur2_random) and lie within 60 s of
    each other are swapped (well inside the analytics lateness of 300 s; per-user order is kept,
    so per-user state does not see a different history);
  - duplicates: N events re-sent as new messages (same event_id, same bytes) 50-2000 lines later;
  - out-of-range but schema-valid events, each with a user or product id starting "hx-" (so the
    dead letters can be matched): a negative quantity, years 1970 and 2100 on each topic's event.
Prints one "kind key topic" line per out-of-range event on stdout (the manifest).
"""
import argparse
import json
import random

TOPIC = {"user": "shop.user.events", "order": "shop.order.events", "search": "shop.search.events",
         "inventory": "shop.inventory.events", "catalog": "shop.catalog.events"}


def murmur2(data):
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = data[4 * n4:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition(key, n):
    return (murmur2(key.encode()) & 0x7FFFFFFF) % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("gen")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dups", type=int, default=100)
    p.add_argument("--swaps", type=int, default=200)
    p.add_argument("--partitions", type=int, default=6)
    a = p.parse_args()
    rnd = random.Random(a.seed)
    lines = open(a.gen, encoding="utf-8").read().splitlines()
    ev = [json.loads(l) for l in lines]

    # reorders: consecutive product views in one partition of the user topic, different users
    last = {}
    cands = []
    for i, e in enumerate(ev):
        if e["type"] != "user.product_viewed":
            continue
        part = partition(e["user_id"], a.partitions)
        j = last.get(part)
        if j is not None and ev[j]["user_id"] != e["user_id"] and abs(e["occurred_at"] - ev[j]["occurred_at"]) <= 60000:
            # only if no event of the topic and partition lies between them (they are adjacent there)
            cands.append((j, i))
        last[part] = i
    # keep only adjacent-in-partition pairs: the last user-topic event of that partition before i is j
    lastp, adj = {}, set()
    for i, e in enumerate(ev):
        if not e["type"].startswith("user."):
            continue
        part = partition(e["user_id"], a.partitions)
        adj.add((lastp.get(part), i))
        lastp[part] = i
    cands = [c for c in cands if c in adj]
    used, swaps = set(), 0
    order = list(range(len(lines)))
    for j, i in rnd.sample(cands, min(len(cands), a.swaps * 3)):
        if swaps >= a.swaps or j in used or i in used:
            continue
        order[j], order[i] = order[i], order[j]
        used.update((j, i))
        swaps += 1
    out = [lines[k] for k in order]

    # duplicates: the same line again, a little later
    picks = sorted(rnd.sample(range(len(out) // 10, len(out) * 9 // 10), min(a.dups, len(out) // 5)), reverse=True)
    for k in picks:
        out.insert(min(len(out), k + rnd.randint(50, 2000)), out[k])

    # out-of-range, schema-valid events, mid-stream (at a third, a half and two thirds)
    mid = ev[len(ev) // 2]["occurred_at"]
    y1970, y2100 = 0, 4102444800000
    bad = [
        ("negative_quantity", {"type": "order.placed", "occurred_at": mid, "user_id": "hx-negqty", "order_id": "hx-o1",
                               "amount_minor": 1000, "currency": "KRW",
                               "items": [{"product_id": "p-00001", "quantity": -3, "unit_price_minor": 1000}]}),
        ("year_1970_order", {"type": "order.placed", "occurred_at": y1970, "user_id": "hx-y1970o", "order_id": "hx-o2",
                             "amount_minor": 1000, "currency": "KRW",
                             "items": [{"product_id": "p-00001", "quantity": 1, "unit_price_minor": 1000}]}),
        ("year_2100_order", {"type": "order.placed", "occurred_at": y2100, "user_id": "hx-y2100o", "order_id": "hx-o3",
                             "amount_minor": 1000, "currency": "KRW",
                             "items": [{"product_id": "p-00001", "quantity": 1, "unit_price_minor": 1000}]}),
        ("year_1970_view", {"type": "user.product_viewed", "occurred_at": y1970, "user_id": "hx-y1970u", "product_id": "p-00001"}),
        ("year_2100_view", {"type": "user.product_viewed", "occurred_at": y2100, "user_id": "hx-y2100u", "product_id": "p-00001"}),
        ("year_1970_search", {"type": "search.query", "occurred_at": y1970, "user_id": "hx-y1970s", "query": "hostile probe", "result_count": 3}),
        ("year_2100_search", {"type": "search.query", "occurred_at": y2100, "user_id": "hx-y2100s", "query": "hostile probe", "result_count": 3}),
        ("year_2100_stock", {"type": "inventory.stock_level", "occurred_at": y2100, "product_id": "hx-y2100i",
                             "region": "KR", "quantity": 5}),
        ("negative_stock", {"type": "inventory.stock_level", "occurred_at": mid, "product_id": "hx-negstock",
                            "region": "KR", "quantity": -5}),
    ]
    for n, (kind, e) in enumerate(bad):
        pos = len(out) * (n + 2) // (len(bad) + 3)
        out.insert(pos, json.dumps(e, ensure_ascii=False))
        key = e.get("user_id") or e.get("product_id")
        print(kind, key, TOPIC[e["type"].split(".")[0]])
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
