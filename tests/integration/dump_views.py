#!/usr/bin/env python3
"""dump_views.py: a canonical text dump of every Redis key under a prefix (and optionally of a
PostgreSQL table), for comparing two runs byte for byte.

  dump_views.py --diff DUMP_A DUMP_B      names the key blocks that differ
  dump_views.py --prefix bt:NAME: [--redis redis://host:port/db] [--exclude REGEX]...
                [--pg-url URL --pg-table SCHEMA.TABLE --pg-order COLS] [--out FILE]

Keys are listed sorted, with the prefix removed, one header line each:
  key <name> type=<t> n=<members> ttl=<yes|no>
followed by the value, each line indented by two spaces:
  zset    "<member>\t<score>" in Redis order (ZRANGE 0 -1 WITHSCORES: score, then member bytes)
  hash    "<field>\t<value>" sorted by field bytes
  set     "<member>" sorted
  list    "<item>" in list order
  string  the value
Bytes that are not UTF-8, and tabs/newlines/backslashes, are escaped, so every key is one block.
Keys whose name (without the prefix) matches an --exclude regex are left out; by default the
runtime's offsets keys ("offsets:...") and the search worker's version counters ("srch:ver",
"srch:*:ver", which count flushes) are excluded, since a replay and a live run may legitimately
store different ones (--keep-offsets keeps them). A PostgreSQL table is appended as
"table <name>" and its rows (COPY text format) ordered by --pg-order with the C collation.
Only the standard library is used (a minimal RESP client; psql for PostgreSQL).
"""
import argparse
import re
import socket
import subprocess
import sys
from urllib.parse import urlparse


class Redis:
    def __init__(self, url):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=60)
        self.buf = b""
        db = (u.path or "/0").strip("/") or "0"
        if db != "0":
            self.call("SELECT", db)

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = b"%d" % a
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise IOError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(max(1 << 20, n + 2 - len(self.buf)))
            if not chunk:
                raise IOError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError("redis: " + rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("redis: unexpected reply %r" % line)

    def pipeline(self, cmds):
        self.sock.sendall(b"".join(self.encode(*c) for c in cmds))
        return [self.reply() for _ in cmds]

    def call(self, *args):
        return self.pipeline([args])[0]

    def scan(self, pattern):
        cursor, keys = b"0", set()
        while True:
            cursor, batch = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", 5000)
            keys.update(batch)
            if cursor == b"0":
                return sorted(keys)


def glob_escape(s):
    return re.sub(r"([*?\[\]\\])", r"\\\1", s)


def show(b):
    s = b.decode("utf-8", errors="backslashreplace") if isinstance(b, bytes) else str(b)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def dump_redis(r, prefix, excludes, out):
    pre = prefix.encode()
    keys = [k for k in r.scan(glob_escape(prefix) + "*")
            if not any(x.search(k[len(pre):].decode("utf-8", errors="backslashreplace")) for x in excludes)]
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        meta = r.pipeline([c for k in chunk for c in (("TYPE", k), ("PTTL", k))])
        reads = []
        for j, k in enumerate(chunk):
            t = meta[2 * j].decode()
            reads.append({"zset": ("ZRANGE", k, 0, -1, "WITHSCORES"), "hash": ("HGETALL", k),
                          "set": ("SMEMBERS", k), "list": ("LRANGE", k, 0, -1),
                          "string": ("GET", k), "none": ("EXISTS", k)}.get(t, ("TYPE", k)))
        vals = r.pipeline(reads)
        for j, k in enumerate(chunk):
            t = meta[2 * j].decode()
            ttl = meta[2 * j + 1]
            if t == "none":  # expired or deleted between SCAN and TYPE
                continue
            v = vals[j]
            if t == "zset":
                lines = ["%s\t%s" % (show(v[n]), show(v[n + 1])) for n in range(0, len(v), 2)]
            elif t == "hash":
                pairs = sorted((v[n], v[n + 1]) for n in range(0, len(v), 2))
                lines = ["%s\t%s" % (show(f), show(x)) for f, x in pairs]
            elif t == "set":
                lines = [show(m) for m in sorted(v)]
            elif t == "list":
                lines = [show(m) for m in v]
            elif t == "string":
                lines = [show(v)]
            else:
                lines = ["(type %s not dumped)" % t]
            out.write("key %s type=%s n=%d ttl=%s\n" % (show(k[len(pre):]), t, len(lines),
                                                      "yes" if ttl > 0 else "no"))
            for line in lines:
                out.write("  " + line + "\n")


def dump_pg(url, table, order, out):
    cols = ", ".join('%s COLLATE "C"' % c if c == "query" else c for c in order.split(","))
    sql = "COPY (SELECT * FROM %s ORDER BY %s) TO STDOUT" % (table, cols)
    p = subprocess.run(["psql", "-X", "-q", url, "-v", "ON_ERROR_STOP=1", "-c", "SET TIME ZONE 'UTC'",
                        "-c", sql], capture_output=True)
    if p.returncode:
        sys.exit("dump_views.py: psql: " + p.stderr.decode(errors="replace").strip())
    rows = p.stdout.decode("utf-8", errors="backslashreplace").splitlines()
    out.write("table %s rows=%d\n" % (table.split(".")[-1], len(rows)))
    for row in rows:
        out.write("  " + row + "\n")


def blocks(path):
    out, name = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("  "):
                name = line.split(" type=")[0].split(" rows=")[0]
                out[name] = []
            out[name].append(line)
    return out


def diff(a_path, b_path, limit=20):
    """Names the key blocks that differ between two dumps, the first `limit` of them, with a count
    per key kind (exit status 1 when any differs)."""
    a, b = blocks(a_path), blocks(b_path)
    names = [n for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
    kinds = {}
    for n in names:
        kind = n.split(" ", 1)[-1].split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    if names:
        print("  %d key blocks differ, by kind: %s" % (len(names), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    for n in names[:limit]:
        la, lb = a.get(n, []), b.get(n, [])
        print("  differs: %s (%s: %s; %s: %s)" % (n, a_path.rsplit("/", 1)[-1], la[0].strip() if la else "absent",
                                                  b_path.rsplit("/", 1)[-1], lb[0].strip() if lb else "absent"))
    return 1 if names else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--diff":
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", required=True)
    p.add_argument("--redis", default="redis://127.0.0.1:16379/0")
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("--keep-offsets", action="store_true")
    p.add_argument("--pg-url")
    p.add_argument("--pg-table")
    p.add_argument("--pg-order", default="1")
    p.add_argument("--out")
    a = p.parse_args()
    excludes = [re.compile(x) for x in a.exclude]
    if not a.keep_offsets:
        excludes.append(re.compile(r"^offsets:"))
        excludes.append(re.compile(r"^srch:(ver|trend:ver|sugg:ver)$"))
    out = open(a.out, "w", encoding="utf-8") if a.out else sys.stdout
    dump_redis(Redis(a.redis), a.prefix, excludes, out)
    if a.pg_table:
        dump_pg(a.pg_url, a.pg_table, a.pg_order, out)
    if a.out:
        out.close()


if __name__ == "__main__":
    main()
