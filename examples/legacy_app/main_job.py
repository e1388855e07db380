"""The README's first command: a legacy application put under test with snapy, end to end.

    python3 run.py demo                        (installs what it needs, then runs this)
    python examples/legacy_app/main_job.py [--keep DIR]

Works in a scratch copy of examples/legacy_app and never changes the committed files:

1. starts the rates service and the SMTP sink on free ports of 127.0.0.1;
2. runs the application with capture on (SNAPY_CAPTURE_ENABLED=1) and lists what it captured;
3. records the example's tests against the live services (SIDE_EFFECT_CAPTURE=1);
4. stops the services;
5. runs the tests again offline, replaying, under pytest and under python -m unittest;
6. shows what was stored (`snapy list`, `snapy show`) and checks no secret reached the disk;
7. changes one test's input and shows the miss report it gets.

`--keep DIR` leaves the scratch copy in DIR to look around in afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRETS = ("rk_demo_4f1c2e", "smtp-demo-password")  # the defaults in invoicing/config.py
# Settings of the calling shell that would change what the steps do.
LEFT_OUT = ("SNAPY_", "SIDE_EFFECT_CAPTURE", "SNAPSHOT_UPDATE", "PYTEST_", "PYTHONPATH")
# Made by running things, never committed (see .gitignore).
NOT_COMMITTED = ("__pycache__", ".pytest_cache", ".ruff_cache", ".lock", "*.db")


class StepFailed(Exception):
    """A step did not do what it should; the message holds its output."""


def fingerprint(folder: Path) -> str:
    """A hash of the files under `folder` that are committed."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        made = relative.parts[0] == "captures" or any(
            relative.match(f"**/{pattern}") or pattern in relative.parts
            for pattern in NOT_COMMITTED
        )
        if path.is_file() and not made:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Job:
    def __init__(self, scratch: Path) -> None:
        self.app = scratch / "legacy_app"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(LEFT_OUT)}
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(
        self,
        shown: str,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        keep: Callable[[str], bool] = lambda line: True,
        expect: int = 0,
    ) -> str:
        """Run `python args...` in the scratch copy, print `$ shown` and the kept output lines."""
        print(f"   $ {shown}", flush=True)
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.app,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        if done.returncode != expect:
            raise StepFailed(f"`{shown}` exited {done.returncode}, not {expect}:\n{output}")
        for line in output.splitlines():
            if keep(line):
                print(f"     {line}")
        return output

    def snapy(self, *args: str) -> str:
        """Run the `snapy` command (as `python -m snapy`) in the scratch copy."""
        return self.run(" ".join(["snapy", *args]), ["-m", "snapy", *args])


def pytest_summary(line: str) -> bool:
    return line.startswith("snapy:") or (
        line.startswith("=") and (" passed" in line or " failed" in line)
    )


def bundles(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.bundle"))


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def main_job(scratch: Path) -> None:
    sys.path.insert(0, str(HERE))
    import services

    job = Job(scratch)
    shutil.copytree(HERE, job.app, ignore=shutil.ignore_patterns(*NOT_COMMITTED))
    shutil.rmtree(job.app / "captures", ignore_errors=True)
    tests = job.app / "tests"
    print(f"working in a scratch copy of examples/legacy_app: {job.app}\n")

    print("1. start the services the application talks to")
    rates, smtp, service_env = services.start(spool=scratch / "mail")
    job.env.update(service_env)
    try:
        print(f"   {rates.banner}\n   {smtp.banner}\n")

        print("2. run the application with capture on, as a staging server would")
        staging = {"INVOICING_DB": str(scratch / "staging.db")}
        job.run("python -m invoicing seed", ["-m", "invoicing", "seed"], env=staging)
        capture = {**staging, "SNAPY_CAPTURE_ENABLED": "1", "SNAPY_CAPTURE_DIR": "captures"}
        job.run(
            "SNAPY_CAPTURE_ENABLED=1 python -m invoicing run",
            ["-m", "invoicing", "run"],
            env=capture,
        )
        job.snapy("list", "captures")
        print(f"   the SMTP sink received {len(list((scratch / 'mail').glob('*.eml')))} e-mails\n")

        print("3. record the tests against the live services, in the scratch copy")
        for found in (tests / "__recordings__").iterdir():
            if found.is_dir():  # .redaction-key stays: redacted arguments keep their hashes
                shutil.rmtree(found)
        shutil.rmtree(tests / "__snapshots__")
        print("   (the committed recordings and snapshots were removed from the copy first)")
        requests, mails = len(rates.log), len(smtp.log)
        job.run(
            "SIDE_EFFECT_CAPTURE=1 python -m pytest --snapshot-update",
            ["-m", "pytest", "--snapshot-update"],
            env={"SIDE_EFFECT_CAPTURE": "1"},
            keep=lambda line: pytest_summary(line) or line.endswith("generated."),
        )
        recorded = bundles(tests / "__recordings__")
        print(
            f"   recorded {len(recorded)} calls in {len({p.parent for p in recorded})} folders;"
            f" the rates service answered {len(rates.log) - requests} requests and the SMTP"
            f" sink took {len(smtp.log) - mails} e-mails\n"
        )
    finally:
        print("4. stop the services")
        rates.stop()
        smtp.stop()
    if not (refuses(rates.port) and refuses(smtp.port)):
        raise StepFailed("a service still accepts connections after it was stopped")
    print(f"   127.0.0.1:{rates.port} and 127.0.0.1:{smtp.port} refuse connections now\n")

    print("5. run the tests again, offline: every side effect is replayed")
    job.run(
        "python -m pytest",
        ["-m", "pytest"],
        keep=lambda line: pytest_summary(line) or line.endswith("passed."),
    )
    job.run(
        "python -m unittest",
        ["-m", "unittest"],
        keep=lambda line: line.startswith(("Ran ", "OK", "FAILED")),
    )
    print()

    print("6. what was stored")
    job.snapy("list", "tests/__recordings__")
    for recorded_call in (
        "test_invoices_pytest::test_invoice_in_pounds::invoicing.mailer.send_mail",
        "test_invoices::InvoicingTest.test_missing_rate_waits::invoicing.rates.fetch_rate",
    ):
        job.snapy("show", recorded_call, "--path", "tests")
    job.snapy("verify", "tests")
    stored = [p for p in job.app.rglob("*") if p.is_file() and p.suffix in (".bundle", ".json")]
    leaked = [p for p in stored if any(s.encode() in p.read_bytes() for s in SECRETS)]
    print(
        f"   the API key and the SMTP password appear in {len(leaked)} of the {len(stored)}"
        " stored files\n"
    )
    if leaked:
        raise StepFailed(f"secrets written to {leaked}")

    print("7. change one test's input: the customer of test_invoice_in_pounds now pays in CHF")
    test_file = tests / "test_invoices_pytest.py"
    test_file.write_text(test_file.read_text().replace('currency="GBP"', 'currency="CHF"'))
    output = job.run(
        "python -m pytest tests/test_invoices_pytest.py::test_invoice_in_pounds",
        ["-m", "pytest", "tests/test_invoices_pytest.py::test_invoice_in_pounds", "--tb=short"],
        keep=lambda line: line.startswith("E ") or pytest_summary(line),
        expect=1,
    )
    if "RecordingNotFoundError" not in output:
        raise StepFailed(f"the changed test did not report a miss:\n{output}")
    print(
        "   the miss names the call, how it differs from the nearest recording, and the"
        " command\n   that records it if the change is intended"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="leave the scratch copy in this folder")
    args = parser.parse_args(argv)
    started, before = time.monotonic(), fingerprint(HERE)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            main_job(args.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="snapy-main-job-") as scratch:
                main_job(Path(scratch))
    except StepFailed as exc:
        print(f"\nmain job FAILED: {exc}")
        return 1
    unchanged = fingerprint(HERE) == before
    state = "unchanged" if unchanged else "CHANGED"
    print(f"\nthe committed files of examples/legacy_app are {state}")
    print(f"main job {'OK' if unchanged else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
