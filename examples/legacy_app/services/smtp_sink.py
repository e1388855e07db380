"""A tiny SMTP sink: accepts mail from an authenticated client and keeps it in a folder.

    python -m services.smtp_sink [--port 0] [--user U] [--password P] [--spool DIR]

Speaks the few commands `smtplib` uses (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
QUIT) on 127.0.0.1; port 0 picks a free one. Prints `smtp sink listening on 127.0.0.1:PORT`
once it accepts connections, and one line per message it accepts. A wrong password gets
`535`, as a real server would answer. Stops by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import itertools
import socketserver
import threading
from email import message_from_bytes
from pathlib import Path


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, user: str, password: str, spool: Path | None) -> None:
        super().__init__(("127.0.0.1", port), Session)
        self.credentials = (user, password)
        self.spool = spool
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def deliver(self, sender: str, recipients: list[str], data: bytes) -> int:
        with self.lock:
            number = next(self.numbers)
            if self.spool is not None:
                self.spool.mkdir(parents=True, exist_ok=True)
                (self.spool / f"{number:04d}.eml").write_bytes(data)
        subject = message_from_bytes(data).get("Subject", "")
        print(
            f"smtp: message {number} from {sender} to {', '.join(recipients)}: {subject}",
            flush=True,
        )
        return number


class Session(socketserver.StreamRequestHandler):
    timeout = 30  # a client that goes quiet does not hold a thread for ever
    server: Sink

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        authenticated, sender, recipients = False, "", []
        self.reply("220 127.0.0.1 ESMTP sink ready")
        for raw in self.rfile:
            verb, _, rest = raw.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1 hello")
                self.reply("250 AUTH PLAIN")
            elif verb == "HELO":
                self.reply("250 127.0.0.1 hello")
            elif verb == "AUTH":
                mechanism, _, answer = rest.partition(" ")
                if mechanism.upper() != "PLAIN":
                    self.reply("504 5.5.4 only AUTH PLAIN is supported")
                    continue
                if not answer:
                    self.reply("334 ")
                    answer = self.rfile.readline().decode().strip()
                authenticated = self.check(answer)
                if authenticated:
                    self.reply("235 2.7.0 Authentication successful")
                else:
                    self.reply("535 5.7.8 Authentication credentials invalid")
            elif verb in ("MAIL", "RCPT") and not authenticated:
                self.reply("530 5.7.0 Authentication required")
            elif verb == "MAIL":
                sender, recipients = rest.partition(":")[2].strip().strip("<>"), []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                recipients.append(rest.partition(":")[2].strip().strip("<>"))
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                number = self.server.deliver(sender, recipients, self.read_data())
                self.reply(f"250 2.0.0 Ok: queued as {number}")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply(f"502 5.5.2 command not implemented: {verb}")

    def check(self, answer: str) -> bool:
        try:
            _, user, password = base64.b64decode(answer).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        return (user, password) == self.server.credentials

    def read_data(self) -> bytes:
        lines = []
        for line in self.rfile:
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)  # dot-stuffing
        return b"".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="billing")
    parser.add_argument("--password", default="smtp-demo-password")
    parser.add_argument("--spool", type=Path, help="folder to keep accepted messages in")
    parser.add_argument("--lifetime", type=float, default=300.0, help="seconds before it stops")
    args = parser.parse_args(argv)
    server = Sink(args.port, args.user, args.password, args.spool)
    stopper = threading.Timer(args.lifetime, server.shutdown)
    stopper.daemon = True
    stopper.start()
    print(f"smtp sink listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
