#!/usr/bin/env python3
"""bench_report.py: the benchmark suite's table and chart from its CSV (bench_suite.sh writes both).

usage: bench_report.py bench.csv bench.svg
Prints the table (ratios ours / ceiling, ours / Kafka Streams, ours / Python, wall clock and per
core) and the targets of issue 9 with PASS / MISS; writes a hand-made SVG chart (no plotting
library needed): catch-up rates next to their ceilings and the peers, and the latency percentiles
per worker and offered load."""
import csv
import sys
from collections import defaultdict
from html import escape

TARGET_CEILING = 0.50
TARGET_KS = 5.0
TARGET_PY = 20.0
TARGET_P99_MS = 25.0
TARGET_P99_LOAD = "10000"
TARGET_RSS_MB = 64.0


def load(path):
    d = defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            d[(row["section"], row["subject"])][row["metric"]] = row["value"]
    return d


def num(v, default=0.0):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def fmt(v, digits=0):
    if v is None or v == "":
        return "-"
    v = num(v, None)
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    return a / b if a and b else None


def main():
    d = load(sys.argv[1])
    svg_path = sys.argv[2]
    meta = d[("meta", "run")]
    workers = [s for (sec, s) in d if sec == "catchup"]
    peers = [s for (sec, s) in d if sec == "peer" and s != "search_topic"]
    loads = sorted({sec.split("_", 1)[1] for (sec, _) in d if sec.startswith("latency_")}, key=int)
    out = []
    p = out.append
    p(f"shopstream benchmark suite, {meta.get('date', '?')}: {fmt(meta.get('events'))} generated "
      f"events, {fmt(meta.get('users'))} users; {meta.get('cores')} cores, {meta.get('mem_gib')} GiB, "
      f"{meta.get('cpu', '?').strip(chr(34))}; load average {meta.get('loadavg_start')} at the start, "
      f"{meta.get('loadavg_end')} at the end (Kafka, Redis, PostgreSQL and the tools share the cores)")
    p(f"  generate --produce: {fmt(d[('fill', 'generate_produce')].get('events_per_s'))} events/s")
    if num(meta.get("outages")) > 0:
        p(f"  WARNING: the stack stopped answering {meta.get('outages')} time(s) during the run "
          "(another test on the machine?): figures near those steps are suspect")
    p("")
    p(f"{'catch-up (own topics)':<24}{'events':>11}{'events/s':>11}{'ceiling/s':>12}"
      f"{'ours/ceil':>10}{'CPU s/1M':>10}{'RSS MB':>8}")
    misses = []
    for w in workers:
        c = d[("catchup", w)]
        r = ratio(num(c.get("events_per_s")), num(c.get("ceiling_events_per_s")))
        p(f"{w:<24}{fmt(c.get('events')):>11}{fmt(c.get('events_per_s')):>11}"
          f"{fmt(c.get('ceiling_events_per_s')):>12}{fmt(r, 2) if r else '-':>10}"
          f"{fmt(c.get('cpu_s_per_m'), 2):>10}{fmt(c.get('rss_mb'), 1):>8}")
        if r is None or r < TARGET_CEILING:
            misses.append(f"{w}: {fmt(r, 2) if r else '-'} of the ceiling (target >= {TARGET_CEILING:.2f})")
        if num(c.get("rss_mb")) > TARGET_RSS_MB:
            misses.append(f"{w}: peak RSS {fmt(c.get('rss_mb'), 1)} MB (target <= {TARGET_RSS_MB:.0f} MB)")
    if peers or ("catchup", "search") in d:
        s = d.get(("catchup", "search"), {})
        ours_rate = num(s.get("events_per_s"))
        ours_core = ratio(num(s.get("events")), num(s.get("cpu_s")))
        p("")
        p(f"{'trending job':<24}{'events/s':>11}{'ev/CPU-s':>11}{'CPU s/1M':>10}{'RSS MB':>8}"
          f"{'top-10':>8}{'ours/x':>8}{'ours/x core':>12}")
        p(f"{'search worker (ours)':<24}{fmt(ours_rate):>11}{fmt(ours_core):>11}"
          f"{fmt(s.get('cpu_s_per_m'), 2):>10}{fmt(s.get('rss_mb'), 1):>8}{'':>8}{'1.00':>8}{'1.00':>12}")
        names = {"kstreams": "Kafka Streams", "python": "Python"}
        for peer in peers:
            c = d[("peer", peer)]
            prate = num(c.get("events_per_s"))
            pcore = ratio(num(c.get("events")), num(c.get("cpu_s")))
            rw, rc = ratio(ours_rate, prate), ratio(ours_core, pcore)
            match = "same" if c.get("top10_match") == "1" else "DIFFER"
            p(f"{names.get(peer, peer):<24}{fmt(prate):>11}{fmt(pcore):>11}{fmt(c.get('cpu_s_per_m'), 2):>10}"
              f"{fmt(c.get('rss_mb'), 1):>8}{match:>8}{fmt(rw, 2) if rw else '-':>8}{fmt(rc, 2) if rc else '-':>12}")
            target = TARGET_KS if peer == "kstreams" else TARGET_PY if peer == "python" else None
            if target and (rc is None or rc < target):
                misses.append(f"trending vs {names.get(peer, peer)}: {fmt(rc, 2) if rc else '-'}x per core "
                              f"(target >= {target:.0f}x)")
            if match != "same":
                misses.append(f"{names.get(peer, peer)}'s top-10 of trend:1h differs from ours")
        if not peers:
            p("(peers skipped)")
    if loads:
        p("")
        lu, ls = meta.get("lat_users", "?"), meta.get("lat_set", "").strip('"')
        p(f"latency, produce -> visible in Redis (events from {fmt(lu)} users; workers' "
          f"{'--set ' + ls if ls else 'default configuration'})")
        p(f"{'worker':<16}{'offered/s':>10}{'achieved':>10}{'visible':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'p99.9 ms':>10}{'max ms':>9}{'ack p50':>9}{'ack p99':>9}")
        for w in workers:
            for ld in loads:
                c = d.get((f"latency_{ld}", w))
                if not c:
                    continue
                vis = num(c.get("visible_pct"), None)
                p(f"{w:<16}{fmt(ld):>10}{fmt(c.get('achieved_eps')):>10}"
                  f"{fmt(vis, 1) + '%' if vis is not None else '-':>9}"
                  f"{fmt(c.get('p50_ms'), 1):>9}{fmt(c.get('p99_ms'), 1):>9}{fmt(c.get('p999_ms'), 1):>10}"
                  f"{fmt(c.get('max_ms'), 1):>9}{fmt(c.get('ack_p50_ms'), 1):>9}{fmt(c.get('ack_p99_ms'), 1):>9}"
                  + ("  saturated: not all visible 15 s after the load" if vis is not None and vis < 100
                     else ""))
                if ld == TARGET_P99_LOAD and num(c.get("p99_ms"), 1e9) > TARGET_P99_MS:
                    misses.append(f"{w}: p99 {fmt(c.get('p99_ms'), 1)} ms at {fmt(ld)} events/s "
                                  f"(target <= {TARGET_P99_MS:.0f} ms)")
    p("")
    p("targets (issue 9): every worker >= 0.50 of the ceiling; trending >= 5x Kafka Streams and >= 20x "
      "Python per core; p99 <= 25 ms at 10k events/s; RSS <= 64 MB per worker at 1M users")
    if misses:
        for m in misses:
            p(f"  MISS {m}")
    else:
        p("  all met")
    print("\n".join(out))
    write_svg(d, workers, peers, loads, svg_path, meta)


def write_svg(d, workers, peers, loads, path, meta):
    bars = []  # (label, value, colour)
    for w in workers:
        c = d[("catchup", w)]
        bars.append((f"ceiling ({w}'s topics)", num(c.get("ceiling_events_per_s")), "#bbbbbb"))
        bars.append((f"{w} worker", num(c.get("events_per_s")), "#2b6cb0"))
    names = {"kstreams": "Kafka Streams (trending)", "python": "Python (trending)"}
    for peer in peers:
        bars.append((names.get(peer, peer), num(d[("peer", peer)].get("events_per_s")), "#dd6b20"))
    lat = []  # (label, p50, p99, p999)
    for w in workers:
        for ld in loads:
            c = d.get((f"latency_{ld}", w))
            if c:
                lat.append((f"{w} @ {int(ld):,}/s", num(c.get("p50_ms")), num(c.get("p99_ms")),
                            num(c.get("p999_ms"))))
    W, left, right, row = 1000, 230, 90, 22
    h1 = 40 + row * len(bars)
    h2 = 60 + row * len(lat) if lat else 0
    H = h1 + h2 + 40
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="10" y="20" font-size="14" font-weight="bold">Catch-up, events/s '
         f'({escape(meta.get("events", "?"))} events, {escape(meta.get("cores", "?"))} cores, '
         f'{escape(meta.get("date", ""))})</text>']
    vmax = max([b[1] for b in bars] + [1])
    for i, (label, v, col) in enumerate(bars):
        y = 35 + i * row
        wpx = (W - left - right) * v / vmax
        s.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        s.append(f'<rect x="{left}" y="{y + 3}" width="{wpx:.1f}" height="{row - 6}" fill="{col}"/>')
        s.append(f'<text x="{left + wpx + 4:.1f}" y="{y + 14}">{v:,.0f}</text>')
    if lat:
        y0 = h1 + 20
        s.append(f'<text x="10" y="{y0}" font-size="14" font-weight="bold">Latency, produce -> '
                 f'visible in Redis (bar p99; ticks p50 and p99.9; log scale; p50 / p99 / p99.9)</text>')
        import math
        lmax = max([x[3] for x in lat] + [1])
        scale = (W - left - 230) / math.log10(max(lmax, 10) * 1.5)  # room for the labels

        def xpos(v):
            return left + scale * math.log10(max(v, 0.0) + 1)  # log10(1 + ms): 0 ms at the axis

        for i, (label, p50, p99, p999) in enumerate(lat):
            y = y0 + 15 + i * row
            s.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
            s.append(f'<rect x="{left}" y="{y + 3}" width="{xpos(p99) - left:.1f}" height="{row - 6}" '
                     f'fill="{"#2f855a" if p99 <= TARGET_P99_MS else "#c53030"}"/>')
            for v in (p50, p999):
                s.append(f'<line x1="{xpos(v):.1f}" x2="{xpos(v):.1f}" y1="{y + 1}" y2="{y + row - 1}" '
                         f'stroke="black" stroke-width="2"/>')
            s.append(f'<text x="{xpos(max(p99, p999)) + 4:.1f}" y="{y + 14}">'
                     f'{p50:,.1f} / {p99:,.1f} / {p999:,.1f} ms</text>')
        tx = xpos(TARGET_P99_MS)
        s.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y0 + 10}" y2="{y0 + 15 + row * len(lat)}" '
                 f'stroke="#c53030" stroke-dasharray="4 3"/>')
        s.append(f'<text x="{tx + 3:.1f}" y="{y0 + 12}" fill="#c53030">25 ms</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")


if __name__ == "__main__":
    main()
