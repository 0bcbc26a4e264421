#!/usr/bin/env python3
"""notify_receiver.py: a local webhook receiver for test_notify.sh (Python stdlib http.server).

Every POST is appended to LOG as one JSON line: path, webhook-id, webhook-timestamp, the body, and
whether the Standard Webhooks signature verified (with the reference `standardwebhooks` library
when it imports, else a stdlib HMAC-SHA256 implementation of the same spec; `verifier` says which).
It answers 204, or after SLOW seconds when the file SLOW_FILE exists (so a test can kill the
sender while a request is in flight).

usage: notify_receiver.py PORT_FILE LOG SECRET [SLOW_FILE]   (PORT_FILE present: reuse that port)
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_path, secret = sys.argv[1], sys.argv[2], sys.argv[3]
slow_file = sys.argv[4] if len(sys.argv) > 4 else None

try:
    from standardwebhooks.webhooks import Webhook  # the reference library (PyPI)

    VERIFIER = "standardwebhooks"

    def verify(body, headers):
        Webhook(secret).verify(body, headers)

except ImportError:  # no PyPI: the spec's scheme, stdlib only
    VERIFIER = "stdlib"

    def verify(body, headers):
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(ts)) > 300:
            raise ValueError("timestamp out of tolerance")
        mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        want = base64.b64encode(mac).decode()
        for sig in headers["webhook-signature"].split(" "):
            ver, _, val = sig.partition(",")
            if ver == "v1" and hmac.compare_digest(val, want):
                return
        raise ValueError("no matching signature")


lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = {
            "path": self.path,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "verifier": VERIFIER,
        }
        try:
            verify(body, headers)
            rec["verified"] = True
        except Exception as e:  # noqa: BLE001: any failure is a failed verification
            rec["verified"] = False
            rec["error"] = repr(e)
        try:
            rec["body"] = json.loads(body)
        except ValueError:
            rec["body"] = body.decode("utf-8", "replace")
        if slow_file and os.path.exists(slow_file):
            rec["slow"] = True
            with lock, open(log_path, "a") as f:  # logged before answering: the kill comes now
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            time.sleep(float(open(slow_file).read().strip() or "5"))
        else:
            with lock, open(log_path, "a") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


# a restart binds the port it had (the test stops the receiver to simulate an outage)
port = int(open(port_file).read()) if os.path.exists(port_file) else 0
srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
