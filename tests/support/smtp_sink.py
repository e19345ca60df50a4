"""A real SMTP server for the notification tests (aiosmtpd), on loopback.

    python3 smtp_sink.py PORT OUT_DIR [--reject ADDRESS]... [--delay SECONDS]

Each message accepted is written to OUT_DIR as one JSON file (written then renamed so a
reader never sees half of one): the envelope, the headers and the text as Python's own
e-mail parser decodes them (MIME words, quoted-printable), and the raw message. RCPT TO an address given with --reject is refused with
550 (a mailbox that does not exist); --delay holds every DATA that long before accepting
(a slow relay, to kill a sender mid-send). Prints "ready" once listening.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, reject, delay):
        self.out = out
        self.reject = set(reject)
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "message_id": message["Message-ID"],
            "from": message["From"],
            "to": message["To"],
            "subject": message["Subject"],
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "text": message.get_content(),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        name = "%d-%d.json" % (time.time_ns(), os.getpid())
        partial = os.path.join(self.out, name + ".part")
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(partial, os.path.join(self.out, name))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("out")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    controller = Controller(
        Sink(args.out, args.reject, args.delay), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), os._exit(0)))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
