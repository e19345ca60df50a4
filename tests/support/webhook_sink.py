"""A real HTTP receiver of Carnet's signed webhooks, for the notification tests.

    python3 webhook_sink.py PORT OUT_DIR SECRET

Checks each POST the way a receiver must: `Carnet-Signature: t=<seconds>,v1=<hex>` is
HMAC-SHA256 of "<t>.<body>" under SECRET, and t is within five minutes; a request that
fails either is refused with 401 and not kept. A good one is written to OUT_DIR as
<Carnet-Delivery>.<nanoseconds>.json (duplicates kept, for the test to count).
Prints "ready" once listening.
"""

import hashlib
import hmac
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, OUT, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        fields = dict(
            part.split("=", 1)
            for part in self.headers.get("carnet-signature", "").split(",")
            if "=" in part
        )
        try:
            at = int(fields.get("t", ""))
        except ValueError:
            at = 0
        expected = hmac.new(SECRET, b"%d." % at + body, hashlib.sha256).hexdigest()
        if abs(time.time() - at) > 300 or not hmac.compare_digest(
            expected, fields.get("v1", "")
        ):
            self.send_response(401)
            self.end_headers()
            return
        delivery = self.headers.get("carnet-delivery", "none")
        name = os.path.join(OUT, "%s.%d.json" % (delivery, time.time_ns()))
        with open(name + ".part", "wb") as f:
            f.write(body)
        os.rename(name + ".part", name)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)
print("ready", flush=True)
server.serve_forever()
