"""examples/legacy_app: its tests pass offline from the committed files, and the main job works.

Each run happens in a copy of the example (what a fresh clone holds), in its own process with
the example's own pytest.ini, and with the application pointed at ports nothing listens on.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "legacy_app"
README = ROOT / "README.md"


def walkthrough() -> str:
    """The README's walkthrough section, up to the next `## ` heading."""
    text = README.read_text()
    start = text.index("## Walkthrough: a legacy application put under test")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


NOT_COMMITTED = ("__pycache__", ".pytest_cache", ".ruff_cache", ".lock", "*.db", "captures")
SECRETS = ("rk_demo_4f1c2e", "smtp-demo-password")
NETWORK_TARGETS = ("invoicing.rates.fetch_rate", "invoicing.mailer.send_mail")


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would change a run: modes, settings, the
    outer pytest's state; the application points at closed ports."""
    left_out = ("SNAPY_", "SIDE_EFFECT_CAPTURE", "SNAPSHOT_UPDATE", "PYTEST_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(left_out)}
    port = closed_port()
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        RATES_URL=f"http://127.0.0.1:{port}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
    )
    return {**env, **extra}


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes, by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not {"__pycache__", ".pytest_cache", ".ruff_cache"} & set(path.parts)
        and path.name != ".lock"
    }


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of examples/legacy_app as a clone has it."""
    copy = tmp_path / "legacy_app"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(*NOT_COMMITTED[:-1]))
    shutil.rmtree(copy / "captures", ignore_errors=True)  # made by running the app there
    return copy


def test_the_committed_recordings_hold_the_redaction_key_and_no_secret() -> None:
    recordings = EXAMPLE / "tests" / "__recordings__"
    assert len((recordings / ".redaction-key").read_bytes().strip()) == 64
    stored = [p for p in (EXAMPLE / "tests").rglob("*") if p.suffix in (".bundle", ".json")]
    assert len(stored) > 50
    assert [p for p in stored if any(s.encode() in p.read_bytes() for s in SECRETS)] == []
    # Plain data only: nothing in them is unpickled when they are loaded.
    assert [p for p in stored if b'"$pickle"' in p.read_bytes()] == []


def test_the_example_tests_pass_offline_under_pytest(example: Path) -> None:
    before = tree(example)
    done = run(["-m", "pytest", "-W", "error"], example)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"=+ 9 passed in ", done.stdout), done.stdout
    assert "6 snapshots passed." in done.stdout
    assert "snapy: recording" not in done.stdout + done.stderr
    assert tree(example) == before  # replaying writes nothing


def test_the_example_tests_pass_offline_under_unittest(example: Path) -> None:
    before = tree(example)
    done = run(["-W", "error", "-m", "unittest", "discover"], example)
    assert done.returncode == 0, done.stderr
    assert "Ran 6 tests" in done.stderr and done.stderr.rstrip().endswith("OK")
    assert tree(example) == before


def test_a_changed_input_is_a_miss_that_names_the_difference(example: Path) -> None:
    test_file = example / "tests" / "test_invoices_pytest.py"
    test_file.write_text(test_file.read_text().replace('currency="GBP"', 'currency="CHF"'))
    done = run(["-m", "pytest", "tests/test_invoices_pytest.py::test_invoice_in_pounds"], example)
    assert done.returncode == 1
    assert "RecordingNotFoundError: no recording to replay for this call of " in done.stdout
    assert "quote: 'GBP' -> 'CHF'" in done.stdout
    assert (
        "to record it: SIDE_EFFECT_CAPTURE=1 python -m pytest "
        "tests/test_invoices_pytest.py::test_invoice_in_pounds" in done.stdout
    )


@pytest.fixture
def live_services(example: Path) -> Iterator[dict[str, str]]:
    """The example's rates service and SMTP sink, started from the copy."""
    sys.path.insert(0, str(example))
    try:
        import services

        rates, smtp, env = services.start()
    finally:
        sys.path.remove(str(example))
        sys.modules.pop("services", None)
    try:
        yield env
    finally:
        rates.stop()
        smtp.stop()


def test_recording_the_network_calls_again_writes_identical_files(
    example: Path, live_services: dict[str, str]
) -> None:
    """Recordings hold no times: recorded again against the live services, with the clock and
    the uuids replayed from the committed recordings, the files are byte for byte the same."""
    recordings = example / "tests" / "__recordings__"
    committed = tree(example / "tests")
    removed = [p for p in recordings.glob("*/*/*") if p.name in NETWORK_TARGETS]
    for folder in removed:
        shutil.rmtree(folder)
    assert len(removed) >= 16

    done = run(["-m", "pytest"], example, SIDE_EFFECT_CAPTURE="1", **live_services)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "snapy: recording calls that have no recording (mode new, from environment)" in (
        done.stdout
    )
    again = tree(example / "tests")
    assert again.keys() == committed.keys()
    assert [name for name in again if again[name] != committed[name]] == []


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The main job's output, run once for this module, and the scratch copy it left."""
    scratch = tmp_path_factory.mktemp("main-job") / "scratch"
    before = tree(EXAMPLE)
    done = run([str(EXAMPLE / "main_job.py"), "--keep", str(scratch)], ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tree(EXAMPLE) == before
    return done.stdout, scratch / "legacy_app"


def test_the_main_job(main_job: tuple[str, Path]) -> None:
    output, scratch = main_job
    for expected in [
        "1. start the services the application talks to",
        "   $ SNAPY_CAPTURE_ENABLED=1 python -m invoicing run",
        "     order 4 waits: no EUR/JPY rate for ",
        "     2 target(s), 5 bundle(s), ",
        "   the SMTP sink received 3 e-mails",
        "     snapy: recording calls that have no recording (mode new, from environment)",
        "     6 snapshots generated.",
        "   recorded 40 calls in 31 folders; the rates service answered 10 requests and the SMTP"
        " sink took 9 e-mails",
        "   $ python -m unittest",
        "     Ran 6 tests in ",
        "     6 snapshots passed.",
        "         smtp_password = <redacted>",
        "         RateUnavailable('no EUR/JPY rate for ",
        "   $ snapy verify tests",
        "     checked 45 bundle(s) and 33 index(es) in 33 folder(s): no problems",
        "   the API key and the SMTP password appear in 0 of the ",
        "     E          quote: 'GBP' -> 'CHF'",
        "the committed files of examples/legacy_app are unchanged",
        "main job OK in ",
    ]:
        assert expected in output
    assert re.search(r"^     =+ 9 passed in .*=+$", output, re.MULTILINE)
    took = re.search(r"main job OK in ([\d.]+) s", output)
    assert took is not None and float(took.group(1)) < 60
    # The scratch copy holds what the job made: captures, new recordings, the changed test.
    assert len(list((scratch / "captures").rglob("*.bundle"))) == 5
    assert 'currency="CHF"' in (scratch / "tests" / "test_invoices_pytest.py").read_text()


def normalise(text: str) -> str:
    """Output with what changes from run to run (times, ports, ids, paths) made equal."""
    text = re.sub(r"/\S*?/(snapy-main-job-\w+|scratch)/", "SCRATCH/", text)
    text = re.sub(r"\b[0-9a-fA-F]{6,}\b", "H", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return re.sub(r" +", " ", text)


def test_the_walkthrough_shows_the_main_jobs_real_output(main_job: tuple[str, Path]) -> None:
    """Every line of the walkthrough's console blocks is a line the main job prints."""
    printed = {normalise(line).strip() for line in main_job[0].splitlines()}
    blocks = re.findall(r"```console\n(.*?)```", walkthrough(), re.DOTALL)
    assert len(blocks) >= 4
    missing = [
        line
        for block in blocks
        for line in block.splitlines()
        if line.strip() and normalise(line).strip() not in printed
    ]
    assert missing == []
