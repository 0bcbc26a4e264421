#!/usr/bin/env python3
"""notify_smtp_sink.py: a local SMTP sink for test_notify_channels.sh.

Every message accepted is appended to LOG as one JSON line: the envelope (mail_from, rcpt_tos),
every header as sent (raw, so a test can see an injected one), the decoded Subject, Message-ID,
X-Shopstream-Id, X-Shopstream-Type and the decoded HTML body. The server is aiosmtpd when it
imports (the Debian package python3-aiosmtpd, or PyPI), else a minimal stdlib SMTP server written
here (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT: what libcurl uses); `sink` says which.

usage: notify_smtp_sink.py PORT_FILE LOG
"""
import json
import os
import socketserver
import sys
import threading
from email import policy
from email.parser import BytesParser

port_file, log_path = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def record(mail_from, rcpt_tos, data, sink):
    msg = BytesParser(policy=policy.default).parsebytes(data)
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    rec = {
        "sink": sink,
        "mail_from": mail_from,
        "rcpt_tos": rcpt_tos,
        "raw_headers": head,
        "header_names": [k.lower() for k in msg.keys()],
        "to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")),
        "id": str(msg.get("X-Shopstream-Id", "")),
        "type": str(msg.get("X-Shopstream-Type", "")),
        "content_type": msg.get_content_type(),
    }
    try:
        rec["html"] = msg.get_content()
    except Exception as e:  # noqa: BLE001: a body we cannot decode is itself the finding
        rec["html"] = None
        rec["error"] = repr(e)
    with lock, open(log_path, "a") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_port(port):
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(port_file + ".tmp", port_file)


def serve_aiosmtpd():
    import asyncio

    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            record(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, "aiosmtpd")
            return "250 OK"

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = loop.run_until_complete(
        loop.create_server(lambda: SMTP(Handler(), hostname="sink.test"), "127.0.0.1", 0))
    write_port(srv.sockets[0].getsockname()[1])
    loop.run_forever()


class StdlibSMTP(socketserver.StreamRequestHandler):
    """Just enough RFC 5321 for libcurl: one transaction at a time, dot-unstuffing on DATA."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink.test ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink.test")
            elif verb == "MAIL":
                mail_from, rcpts = cmd.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    data.append(l[1:] if l.startswith(b".") else l)
                record(mail_from, rcpts, b"".join(data), "stdlib")
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 not implemented")


def serve_stdlib():
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), StdlibSMTP)
    write_port(srv.server_address[1])
    srv.serve_forever()


try:
    import aiosmtpd  # noqa: F401

    serve_aiosmtpd()
except ImportError:
    serve_stdlib()
