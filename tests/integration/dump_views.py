#!/usr/bin/env python3
"""dump_views.py: a canonical text dump of every Redis key under a prefix (and optionally of a
PostgreSQL table), for comparing two runs byte for byte.

  dump_views.py --diff DUMP_A DUMP_B      names the key blocks that differ
  dump_views.py --prefix bt:NAME: [--redis redis://host:port/db] [--exclude REGEX]...
                [--pg-url URL --pg-table SCHEMA.TABLE --pg-order COLS] [--out FILE]
                [--pg-url URL --pg-schema SCHEMA [--pg-skip REGEX]... [--pg-drop TABLE.COL]...]
                [--hll-registers]

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
"srch:*:ver", which count flushes, and "srch:sugg:claim", which names its writer) are excluded,
since a replay and a live run may legitimately store different ones (--keep-offsets keeps them). A PostgreSQL table is appended as
"table <name>" and its rows (COPY text format) ordered by --pg-order with the C collation.
--pg-schema dumps every base table of a schema (sorted by name; its rows sorted by their bytes),
except shop_offsets and schema_migrations (bookkeeping; --pg-skip adds table-name regexes);
--pg-drop TABLE.COL leaves a column out (a wall-clock time, say). --hll-registers prints a
HyperLogLog string (Redis "HYLL" header) as its 16384 registers (a digest and the non-zero count)
rather than its bytes: the sparse/dense encoding and the cached cardinality depend on history and
reads, the registers only on the elements added.
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
        self.buf, self.pos = b"", 0
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

    # The buffer is read through a position (self.pos) and compacted only when refilled: slicing
    # the rest off after every reply made big pipelined replies quadratic.
    def _fill(self, need):
        if self.pos:
            self.buf, self.pos = self.buf[self.pos:], 0
        while len(self.buf) < need:
            chunk = self.sock.recv(max(1 << 20, need - len(self.buf)))
            if not chunk:
                raise IOError("redis closed the connection")
            self.buf += chunk

    def _line(self):
        i = self.buf.find(b"\r\n", self.pos)
        while i < 0:
            self._fill(len(self.buf) - self.pos + 1)
            i = self.buf.find(b"\r\n", self.pos)
        line, self.pos = self.buf[self.pos:i], i + 2
        return line

    def _exact(self, n):
        if len(self.buf) - self.pos < n + 2:
            self._fill(n + 2)
        data, self.pos = self.buf[self.pos:self.pos + n], self.pos + n + 2
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


def hll_registers(v):
    """The 16384 6-bit registers of a Redis HyperLogLog value (dense or sparse), or None."""
    if not isinstance(v, bytes) or len(v) < 16 or v[:4] != b"HYLL":
        return None
    regs = bytearray(16384)
    body = v[16:]
    if v[4] == 0:
        if len(body) < 12288:
            return None
        for i in range(16384):
            b0, fb = (i * 6) >> 3, (i * 6) & 7
            hi = body[b0 + 1] if b0 + 1 < len(body) else 0
            regs[i] = ((body[b0] >> fb) | (hi << (8 - fb))) & 63
        return bytes(regs)
    i = n = 0
    while i < len(body):
        b = body[i]
        if b & 0xC0 == 0:
            n += (b & 0x3F) + 1
            i += 1
        elif b & 0xC0 == 0x40:
            n += (((b & 0x3F) << 8) | body[i + 1]) + 1
            i += 2
        else:
            val, ln = ((b >> 2) & 0x1F) + 1, (b & 3) + 1
            for j in range(n, min(n + ln, 16384)):
                regs[j] = val
            n += ln
            i += 1
    return bytes(regs)


def dump_redis(r, prefix, excludes, out, hll=False):
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
                regs = hll_registers(v) if hll else None
                if regs is not None:
                    import hashlib
                    lines = ["hll registers nonzero=%d sha256=%s" % (sum(1 for x in regs if x),
                                                                     hashlib.sha256(regs).hexdigest())]
                else:
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


def psql(url, *sqls):
    args = ["psql", "-X", "-q", url, "-v", "ON_ERROR_STOP=1", "-c", "SET TIME ZONE 'UTC'"]
    for q in sqls:
        args += ["-c", q]
    p = subprocess.run(args, capture_output=True)
    if p.returncode:
        sys.exit("dump_views.py: psql: " + p.stderr.decode(errors="replace").strip())
    return p.stdout.decode("utf-8", errors="backslashreplace").splitlines()


def dump_pg_schema(url, schema, skips, drops, out):
    """Every base table of SCHEMA but the skipped ones, rows sorted by their bytes (COPY text)."""
    lit = "'%s'" % schema.replace("'", "''")
    cols = {}
    for line in psql(url, "COPY (SELECT table_name, column_name FROM information_schema.columns c "
                          "JOIN information_schema.tables t USING (table_schema, table_name) "
                          "WHERE table_schema = %s AND table_type = 'BASE TABLE' "
                          "ORDER BY table_name, ordinal_position) TO STDOUT" % lit):
        t, c = line.split("\t")
        cols.setdefault(t, []).append(c)
    for t in sorted(cols):
        if any(x.search(t) for x in skips):
            continue
        keep = [c for c in cols[t] if "%s.%s" % (t, c) not in drops]
        sel = ", ".join('"%s"' % c for c in keep)
        rows = psql(url, 'COPY (SELECT %s FROM "%s"."%s") TO STDOUT' % (sel, schema, t))
        rows.sort(key=lambda r: r.encode("utf-8", errors="surrogateescape"))
        dropped = [c for c in cols[t] if c not in keep]
        out.write("table %s rows=%d%s\n" % (t, len(rows), " dropped=" + ",".join(dropped) if dropped else ""))
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
    p.add_argument("--pg-schema", help="dump every base table of this schema")
    p.add_argument("--pg-skip", action="append", default=[], help="table-name regex left out of --pg-schema")
    p.add_argument("--pg-drop", action="append", default=[], help="TABLE.COLUMN left out of --pg-schema")
    p.add_argument("--hll-registers", action="store_true", help="HyperLogLogs as their registers")
    p.add_argument("--out")
    a = p.parse_args()
    excludes = [re.compile(x) for x in a.exclude]
    if not a.keep_offsets:
        excludes.append(re.compile(r"^offsets:"))
        excludes.append(re.compile(r"^srch:(ver|trend:ver|sugg:ver|sugg:claim)$"))
    out = open(a.out, "w", encoding="utf-8") if a.out else sys.stdout
    dump_redis(Redis(a.redis), a.prefix, excludes, out, a.hll_registers)
    if a.pg_table:
        dump_pg(a.pg_url, a.pg_table, a.pg_order, out)
    if a.pg_schema:
        skips = [re.compile(x) for x in ["^shop_offsets$", "^schema_migrations$"] + a.pg_skip]
        dump_pg_schema(a.pg_url, a.pg_schema, skips, set(a.pg_drop), out)
    if a.out:
        out.close()


if __name__ == "__main__":
    main()
