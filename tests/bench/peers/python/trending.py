#!/usr/bin/env python3
"""trending.py: the Python peer of the benchmark suite: the search worker's trending job
(trend:5m, trend:1h, trend:24h) as a plain Python consumer, the way a team would first write it:
confluent-kafka (librdkafka underneath, batch consume), fastavro (schemaless reader after the
single-object header), redis-py (one MULTI/EXEC per view rewrite).

State is dictionaries in memory: (level, bucket start) -> query -> count, with the same buckets as
the worker (1-minute buckets for 5 minutes, 5-minute buckets for the hour, hours for the day,
aligned to the epoch). Offsets are committed to Kafka by the client; unlike the worker, a crash
loses the counts (this peer does less than the worker, which favours it). Every second, like the
worker's refresh, the views are rewritten: the window's buckets ending at the latest event time
seen, top 100, in one MULTI/EXEC.

usage: trending.py BROKERS TOPIC REDIS_HOST REDIS_PORT KEY_PREFIX EXPECTED_EVENTS GROUP SCHEMA.avsc
Exits once EXPECTED_EVENTS records are consumed and the views written, printing
  events=N seconds=S events_per_s=R cpu_s=C  (first record to last record; process CPU over it)
"""
import io
import json
import re
import struct
import sys
import time
import unicodedata

import fastavro
import redis
from confluent_kafka import Consumer

LEVELS = (  # bucket width ms, buckets per window, view
    (60_000, 5, "5m"),
    (300_000, 12, "1h"),
    (3_600_000, 24, "24h"),
)
TOP_N = 100
MAX_QUERY_CP = 100
SPACE = re.compile(r"[\s\u2028\u2029]+")


def normalise(q):
    """The worker's normalisation: NFC, full case folding, whitespace collapsed and trimmed."""
    s = unicodedata.normalize("NFC", unicodedata.normalize("NFC", q).casefold())
    s = SPACE.sub(" ", s).strip()
    if not s or len(s) > MAX_QUERY_CP:
        return None
    return s


def crc64_avro_table():
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    return table


def fingerprint(canonical):
    """CRC-64-AVRO (Rabin) of the Parsing Canonical Form, as in the Avro specification."""
    table = crc64_avro_table()
    fp = 0xC15D213AA4D7A795
    for byte in canonical.encode():
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def strip_logical(node):
    if isinstance(node, dict):
        return {k: strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical(v) for v in node]
    return node


def write_views(r, prefix, buckets, wm):
    if not wm:
        return
    p = r.pipeline(transaction=True)
    for lv, (width, nb, view) in enumerate(LEVELS):
        oldest = wm - wm % width - (nb - 1) * width
        total = {}
        for (l, start), counts in buckets.items():
            if l != lv or start < oldest or start > wm:
                continue
            for q, n in counts.items():
                total[q] = total.get(q, 0) + n
        top = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
        key = f"{prefix}trend:{view}"
        p.delete(key)
        if top:
            p.zadd(key, dict(top))
    p.hset(f"{prefix}trend:meta", "watermark", wm)
    p.execute()


def drop_old(buckets, wm):
    for lv, start in [k for k in buckets]:
        width, nb, _ = LEVELS[lv]
        if start < wm - wm % width - (nb - 1) * width:
            del buckets[(lv, start)]


def main():
    if len(sys.argv) != 9:
        sys.exit(__doc__)
    brokers, topic, rhost, rport, prefix, expected, group, schema_path = sys.argv[1:]
    expected = int(expected)
    with open(schema_path) as f:
        raw = json.load(f)
    canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(raw))
    # Read timestamps as the long they are and UUIDs as strings: no conversion per event.
    schema = fastavro.parse_schema(strip_logical(raw))
    header = b"\xc3\x01" + struct.pack("<Q", fingerprint(canonical))

    r = redis.Redis(host=rhost, port=int(rport))
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "queued.min.messages": 200000,
        "fetch.wait.max.ms": 100,
    })
    c.subscribe([topic])
    buckets = {}  # (level, bucket start) -> {query: count}
    wm = 0
    seen = 0
    t_first = cpu_first = None
    last_view = time.monotonic()
    reader = fastavro.schemaless_reader
    while seen < expected:
        msgs = c.consume(num_messages=2000, timeout=0.1)
        if msgs and t_first is None:
            t_first, cpu_first = time.monotonic(), time.process_time()
        for m in msgs:
            if m.error():
                continue
            seen += 1
            v = m.value()
            if v[:10] != header:
                continue  # the worker dead-letters it; not counted either way
            ev = reader(io.BytesIO(v[10:]), schema, None)
            if ev["type"] != "search.query":
                continue
            p = ev["payload"]
            q = normalise(p["query"])
            if q is None:
                continue
            at = ev["occurred_at"]
            if at > wm:
                if wm // 60_000 != at // 60_000:
                    drop_old(buckets, at)
                wm = at
            if p["result_count"] <= 0:
                continue
            for lv, (width, _, _) in enumerate(LEVELS):
                d = buckets.setdefault((lv, at - at % width), {})
                d[q] = d.get(q, 0) + 1
        now = time.monotonic()
        if now - last_view >= 1.0:
            write_views(r, prefix, buckets, wm)
            last_view = now
    t_last, cpu_last = time.monotonic(), time.process_time()
    write_views(r, prefix, buckets, wm)
    c.close()
    secs = t_last - t_first if t_first else 0.0
    print(f"events={seen} seconds={secs:.3f} events_per_s={seen / secs if secs else 0:.0f} "
          f"cpu_s={cpu_last - cpu_first if t_first else 0:.2f}")


if __name__ == "__main__":
    main()
