"""A tiny exchange-rates service: `GET /v1/rates?base=EUR&quote=USD&day=2026-11-22`.

    python -m services.rates_server [--port 0] [--api-key KEY] [--lifetime 300]

Listens on 127.0.0.1 (port 0 picks a free one) and prints one line, `rates service listening
on http://127.0.0.1:PORT`, once it accepts connections. Answers 401 without the API key as a
bearer token and 404 for a currency it does not quote. Rates are fixed, so recording the same
calls twice gives the same files. Stops by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RATES = {("EUR", "USD"): "1.0842", ("EUR", "GBP"): "0.8611", ("EUR", "CHF"): "0.9437"}


def make_handler(api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path != "/v1/rates":
                return self.answer(404, {"error": f"no such endpoint: {url.path}"})
            if self.headers.get("Authorization") != f"Bearer {api_key}":
                return self.answer(401, {"error": "missing or wrong API key"})
            pair = (query.get("base", ""), query.get("quote", ""))
            if pair not in RATES:
                return self.answer(404, {"error": f"no rate for {pair[0]}/{pair[1]}"})
            return self.answer(
                200,
                {"base": pair[0], "quote": pair[1], "day": query.get("day"), "rate": RATES[pair]},
            )

        def answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            print(f"rates: {self.command} {self.path} -> {args[1]}", flush=True)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="rk_demo_4f1c2e")
    parser.add_argument("--lifetime", type=float, default=300.0, help="seconds before it stops")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.api_key))
    server.daemon_threads = True
    stopper = threading.Timer(args.lifetime, server.shutdown)
    stopper.daemon = True
    stopper.start()
    print(f"rates service listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
