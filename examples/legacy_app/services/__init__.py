"""The two local services the application talks to: start them, find them, stop them.

    python -m services COMMAND...     runs COMMAND with both services up and the application's
                                      RATES_URL, SMTP_HOST and SMTP_PORT pointing at them

e.g. `SIDE_EFFECT_CAPTURE=1 python -m services python -m pytest --snapshot-update` records the
tests' side effects against live services. Each service listens on a free port of 127.0.0.1
and stops by itself after `lifetime` seconds, should its parent die without stopping it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


class Service:
    """One service in a child process; `.address` is what it printed, `.log` what followed."""

    def __init__(self, module: str, *args: str, lifetime: float = 120.0) -> None:
        self.name = module.rpartition(".")[2]
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", module, "--port", "0", "--lifetime", str(lifetime), *args],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        if "listening on" not in first:
            self.process.kill()
            raise RuntimeError(f"{module} did not start: {first or self.process.wait()!r}")
        self.banner = first
        self.address = first.rpartition(" ")[2]
        self.port = int(self.address.rpartition(":")[2])
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start(spool: Path | None = None) -> tuple[Service, Service, dict[str, str]]:
    """Both services, and the environment variables that point the application at them."""
    rates = Service("services.rates_server")
    try:
        smtp = Service("services.smtp_sink", *(["--spool", str(spool)] if spool else []))
    except BaseException:
        rates.stop()
        raise
    env = {
        "RATES_URL": rates.address,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "NO_PROXY": "127.0.0.1,localhost",  # an HTTP proxy in the environment must not get these
        "no_proxy": "127.0.0.1,localhost",
    }
    return rates, smtp, env


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    rates, smtp, env = start()
    print(f"{rates.banner}\n{smtp.banner}", flush=True)
    try:
        return subprocess.run(argv, env={**os.environ, **env}).returncode
    finally:
        rates.stop()
        smtp.stop()
