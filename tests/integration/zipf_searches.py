#!/usr/bin/env python3
"""zipf_searches.py: seeded search streams for the search worker's integration test, as flat JSON
lines for `shopstream emit`.

  zipf_searches.py zipf --events N --distinct D [--exponent S] [--seed X] --start RFC3339
                   [--span-s SECONDS] [--users U] [--clicks-every K] --out FILE [--expected FILE]
      N search.query events whose queries follow a Zipf law over D distinct query strings (rank r
      has weight 1/r^S). The strings are seeded random words, so their order says nothing about
      their rank. Event times are spread evenly over [start, start + span) in line order;
      result_count is always above search.few.results (no "did you mean" traffic). With
      --clicks-every K, every K-th search is followed by a search.result_clicked of the same query.
      --expected writes the exact counts: {"events", "distinct", "top": [[query, count], ...]
      (the 20 most searched, count descending then query), "count_11th"}.

  zipf_searches.py shop --start RFC3339 --out FILE
      The small hand-made stream of the Korean/English checks: catalog titles, popular Korean and
      English queries, a user's own recent search, a zero-result misspelling. Times are within
      [start, start + 30 min). Prints the user id whose recent search is checked.
"""
import argparse
import bisect
import datetime
import itertools
import json
import random
import sys

# Consonants only: no Hangul, no "c" (so no word can start like "cafe"), no vowels (so no English
# word): the Zipf words never collide with the hand-made queries' suggestion keys.
ALPHABET = "bdfghjkmnpqrstvwxz"


def epoch_ms(rfc3339):
    d = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(d.timestamp() * 1000)


def words(rng, n):
    seen, out = set(), []
    while len(out) < n:
        w = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(5, 9)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def esc(s):
    return json.dumps(s, ensure_ascii=False)


def zipf(a):
    rng = random.Random(a.seed)
    vocab = words(rng, a.distinct)  # vocab[r] is the query of rank r + 1
    cum = list(itertools.accumulate(1.0 / (r ** a.exponent) for r in range(1, a.distinct + 1)))
    ranks = rng.choices(range(a.distinct), cum_weights=cum, k=a.events)
    start = epoch_ms(a.start)
    span = a.span_s * 1000
    counts = [0] * a.distinct
    with open(a.out, "w", encoding="utf-8") as f:
        out = []
        for i, r in enumerate(ranks):
            counts[r] += 1
            t = start + i * span // a.events
            q = vocab[r]
            user = "zu%d" % rng.randrange(a.users)
            out.append('{"type":"search.query","occurred_at":%d,"user_id":"%s","query":"%s",'
                       '"result_count":%d}\n' % (t, user, q, 4 + r % 97))
            if a.clicks_every and i % a.clicks_every == 0:
                out.append('{"type":"search.result_clicked","occurred_at":%d,"user_id":"%s",'
                           '"query":"%s","product_id":"p-%05d","position":%d}\n'
                           % (t, user, q, r % 1000, i % 10))
            if len(out) >= 65536:
                f.writelines(out)
                out = []
        f.writelines(out)
    if a.expected:
        order = sorted(range(a.distinct), key=lambda r: (-counts[r], vocab[r]))
        exp = {
            "events": a.events,
            "distinct": a.distinct,
            "distinct_seen": sum(1 for c in counts if c),
            "top": [[vocab[r], counts[r]] for r in order[:20]],
            "count_11th": counts[order[10]],
        }
        with open(a.expected, "w", encoding="utf-8") as f:
            json.dump(exp, f, ensure_ascii=False)


def shop(a):
    rng = random.Random(5)
    start = epoch_ms(a.start)
    lines = []

    def at(minute, i=0):
        return start + minute * 60000 + i * 7

    # Catalog titles nobody has searched for (the catalog topic, keyed by product_id).
    lines.append({"type": "catalog.product_upserted", "occurred_at": at(0), "product_id": "p-walkman",
                  "source": "backoffice", "title": "Retro Walkman Cassette Player",
                  "category": "audio", "brand": "Haneul", "price_minor": 129000, "currency": "KRW",
                  "locale_titles": {"en": "Retro Walkman Cassette Player", "ko": "레트로 워크맨 카세트"}})
    lines.append({"type": "catalog.product_upserted", "occurred_at": at(0, 1), "product_id": "p-vacuum",
                  "source": "backoffice", "title": "무선 핸디 청소기", "category": "appliance",
                  "brand": "Nuri", "price_minor": 259000, "currency": "KRW"})
    plan = [("선글라스", 300, 25, "sunglasses"), ("선글라스 추천", 60, 18, "sunglasses"),
            ("빨간색 선글라스 찾아줘", 30, 7, "sunglasses"), ("LG 노트북", 80, 40, "laptop"),
            ("café latte", 50, 9, None), ("선글러스", 6, 0, None)]
    events = []
    for q, n, results, cat in plan:
        for i in range(n):
            ev = {"type": "search.query", "user_id": "su%03d" % rng.randrange(400), "query": q,
                  "result_count": results}
            if cat:
                ev["category"] = cat
            events.append(ev)
    rng.shuffle(events)
    for i, ev in enumerate(events):
        ev["occurred_at"] = at(1 + i * 28 // len(events), i)
    lines += events
    # u-me searched something rarer, recently: it comes first for u-me only.
    lines.append({"type": "search.query", "occurred_at": at(29), "user_id": "u-me",
                  "query": "선글라스 케이스", "result_count": 5})
    lines.append({"type": "search.result_clicked", "occurred_at": at(29, 1), "user_id": "u-me",
                  "query": "선글라스 케이스", "product_id": "p-case", "position": 0})
    with open(a.out, "w", encoding="utf-8") as f:
        for ev in lines:
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")
    print("u-me")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    z = sub.add_parser("zipf")
    z.add_argument("--events", type=int, required=True)
    z.add_argument("--distinct", type=int, required=True)
    z.add_argument("--exponent", type=float, default=1.0)
    z.add_argument("--seed", type=int, default=1)
    z.add_argument("--start", required=True)
    z.add_argument("--span-s", type=int, default=3600)
    z.add_argument("--users", type=int, default=20000)
    z.add_argument("--clicks-every", type=int, default=0)
    z.add_argument("--out", required=True)
    z.add_argument("--expected")
    s = sub.add_parser("shop")
    s.add_argument("--start", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    zipf(a) if a.cmd == "zipf" else shop(a)


if __name__ == "__main__":
    sys.exit(main())
