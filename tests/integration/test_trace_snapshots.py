"""TracedSnapshot in a generated project: pytest, `python -m unittest`, and two Python versions.

The tracer changes process-wide state, so every run is its own process. The same project must
write byte-identical `.ambr` files on every run, under either runner, on 3.11 and 3.12.
"""

# ruff: noqa: E501 (expected trace lines are as long as the traces)

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the project: its snapy, its .tox envs
SHOP = """
    import asyncio


    class Declined(Exception):
        pass


    def price(item):
        return {"apple": 3, "pear": 4}[item]


    def checkout(cart, user, now, api_key=None):
        amount = sum(price(item) for item in cart)
        receipt = stamp({"user": user, "at": now, "amount": amount})
        try:
            charge(amount)
        except Declined:
            pass
        return list(lines(cart)), receipt


    def charge(amount):
        if amount > 6:
            raise Declined("no funds")


    def lines(cart):
        for i, item in enumerate(cart):
            yield f"{i}:{item}"


    def stamp(data):
        return data


    async def fetch(x):
        await asyncio.sleep(0)
        return x * 2


    async def both():
        return await asyncio.gather(fetch(1), fetch(2))
"""
PYTEST_TESTS = r"""
    import asyncio
    import datetime

    from syrupy.filters import props
    from syrupy.matchers import path_type

    import snapy
    from tapp import shop

    CLOCK = path_type({r".*\.(now|at)": (datetime.datetime,)}, regex=True)


    def test_checkout(snapshot):
        tracer = snapy.FunctionTracer(["tapp.*"])
        with tracer:
            shop.checkout(["apple", "pear"], "bob", datetime.datetime.now(), api_key="sk_live")
        assert tracer == snapshot(extension_class=snapy.TracedSnapshot, matcher=CLOCK)


    def test_async(snapshot):
        with snapy.FunctionTracer("tapp.*") as tracer:
            asyncio.run(shop.both())
        assert tracer == snapshot.use_extension(snapy.TracedSnapshot)(exclude=props("x"))


    def test_plain(snapshot):
        assert {"plain": 1} == snapshot
"""
UNITTEST_TESTS = """
    import datetime

    from syrupy.filters import props

    import snapy
    from tapp import shop


    class TestTrace(snapy.SnapTestCase):
        def test_checkout(self):
            with snapy.FunctionTracer(["tapp.*"]) as tracer:
                shop.checkout(["pear"], "ann", datetime.datetime.now())
            self.assertMatchTrace(tracer, exclude=props("now", "at"))
"""
UNITTEST_AMBR = """\
# serializer version: 1
# name: TestTrace.test_checkout
  '''
  tapp.shop.checkout(cart=['pear'], user='ann', api_key=<redacted>) -> (['0:pear'], {'user': 'ann', 'amount': 4})
    tapp.shop.price(item='pear') -> 4
    tapp.shop.stamp(data={'user': 'ann', 'amount': 4}) -> {'user': 'ann', 'amount': 4}
    tapp.shop.charge(amount=4) -> None
    tapp.shop.lines(cart=['pear']) -> yields ['0:pear']
  '''
# ---
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # this snapy, also where another one is installed
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)  # an outer xdist worker's: syrupy would skip its report
    files = {
        "tapp/__init__.py": "",
        "tapp/shop.py": SHOP,
        "tests/__init__.py": "",
        "tests/test_pytest_trace.py": PYTEST_TESTS,
        "tests/test_unittest_trace.py": UNITTEST_TESTS,
    }
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return pytester.path


def snapshots(project: Path) -> dict[str, bytes]:
    folder = project / "tests" / "__snapshots__"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ambr"))}


def run(python: str, project: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SNAPY_", "SNAPSHOT_", "PYTEST_", "PYTHON", "COV"))
    }
    env.update(PYTHONPATH=f"{REPO}{os.pathsep}{project}", PYTHONDONTWRITEBYTECODE="1", **environ)
    return subprocess.run(
        [python, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_pytest_writes_a_readable_tree_and_every_run_gives_the_same_bytes(
    project: Path, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--snapshot-update")
    result.assert_outcomes(passed=4)
    written = snapshots(project)
    assert written["test_unittest_trace.ambr"].decode() == UNITTEST_AMBR
    text = written["test_pytest_trace.ambr"].decode()
    assert (
        textwrap.dedent("""\
        # name: test_async
          '''
          async tapp.shop.both() -> [2, 4]
          async tapp.shop.fetch() -> 2
          async tapp.shop.fetch() -> 4
          '''
        """)
        in text
    )
    assert (
        "  tapp.shop.checkout(cart=['apple', 'pear'], user='bob', now=datetime, "
        "api_key=<redacted>) -> (['0:apple', '1:pear'], {'user': 'bob', 'at': datetime, "
        "'amount': 7})\n"
        "    tapp.shop.price(item='apple') -> 3\n"
    ) in text
    assert "    tapp.shop.charge(amount=7) raised Declined('no funds')\n" in text
    assert "# name: test_plain\n  dict({\n    'plain': 1,\n  })\n" in text

    again = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    again.assert_outcomes(passed=4)
    again.stdout.fnmatch_lines(["*4 snapshots passed*"])
    updated = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--snapshot-update")
    updated.assert_outcomes(passed=4)
    assert "unused" not in updated.stdout.str() and "deleted" not in updated.stdout.str()
    assert snapshots(project) == written


def test_unittest_reads_and_writes_the_entry_pytest_writes(
    project: Path, pytester: pytest.Pytester
) -> None:
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--snapshot-update")
    written = snapshots(project)["test_unittest_trace.ambr"]
    done = run(sys.executable, project, "-m", "unittest", "tests.test_unittest_trace")
    assert done.stderr.endswith("OK\n"), done.stderr
    (project / "tests" / "__snapshots__" / "test_unittest_trace.ambr").unlink()
    done = run(
        sys.executable, project, "-m", "unittest", "tests.test_unittest_trace", SNAPSHOT_UPDATE="1"
    )
    assert done.stderr.endswith("OK\n"), done.stderr
    assert snapshots(project)["test_unittest_trace.ambr"] == written


def test_a_changed_call_tree_fails_with_a_diff(
    project: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same-size edit below, within one second, would be hidden by a cached .pyc (3.13).
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--snapshot-update")
    shop = project / "tapp" / "shop.py"
    shop.write_text(shop.read_text().replace('"pear": 4', '"pear": 5'))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*-   tapp.shop.price(item='pear') -> 4", "*+   tapp.shop.price(item='pear') -> 5"]
    )
    done = run(sys.executable, project, "-m", "unittest", "tests.test_unittest_trace")
    assert "value does not match snapshot 'TestTrace.test_checkout'" in done.stderr
    assert "\n+  tapp.shop.price(item='pear') -> 5\n" in done.stderr


def _interpreter(version: tuple[int, int]) -> str | None:
    """A Python of `version` that has snapy's dependencies (snapy itself comes from REPO)."""
    candidates = [sys.executable] if sys.version_info[:2] == version else []
    name = f"py{version[0]}{version[1]}"
    candidates += [str(REPO / ".tox" / name / "bin" / "python"), f"python{version[0]}.{version[1]}"]
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            continue
        probe = subprocess.run(
            [
                path,
                "-c",
                "import sys, syrupy, dill, dotenv, deepdiff, filelock; print(sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(version):
            return path
    return None


def test_the_snapshot_file_is_byte_identical_on_3_11_and_3_12(
    project: Path, tmp_path: Path
) -> None:
    pythons = {v: _interpreter(v) for v in ((3, 11), (3, 12))}
    missing = [f"{v[0]}.{v[1]}" for v, path in pythons.items() if path is None]
    if missing:
        pytest.skip(f"no Python {', '.join(missing)} with snapy's dependencies on this machine")
    files = {}
    for version, python in pythons.items():
        copy = tmp_path / f"py{version[1]}"
        shutil.copytree(project, copy)
        done = run(str(python), copy, "-m", "pytest", "-p", "no:cacheprovider", "--snapshot-update")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "4 passed" in done.stdout
        files[version] = snapshots(copy)
    assert files[(3, 11)] == files[(3, 12)]
    assert set(files[(3, 11)]) == {"test_pytest_trace.ambr", "test_unittest_trace.ambr"}


GATEWAY_FILES = {
    "tapp/__init__.py": "",
    "tapp/gateway.py": """
        from pathlib import Path


        def fmt(value):
            return f"<{value}>"


        def charge(amount, card):
            with Path("charges.log").open("a") as log:  # the side effect
                log.write(f"{amount}\\n")
            return {"id": "ch_" + fmt(amount), "amount": amount}
    """,
    "tapp/shop.py": """
        from tapp import gateway


        def price(item):
            return {"apple": 3, "pear": 4}[item]


        def pay(cart):
            total = sum(price(item) for item in cart)
            return gateway.charge(total, "4242")["id"]
    """,
    "tests/__init__.py": "",
    "tests/test_pay.py": """
        import snapy
        from tapp import shop


        def test_pay(snapshot):
            with snapy.replaying("tapp.gateway.charge"):
                with snapy.FunctionTracer(["tapp.*"]) as tracer:
                    assert shop.pay(["apple", "pear"]) == "ch_<7>"
            assert tracer == snapshot(extension_class=snapy.TracedSnapshot)
    """,
}
PAY_AMBR = """\
# serializer version: 1
# name: test_pay
  '''
  tapp.shop.pay(cart=['apple', 'pear']) -> 'ch_<7>'
    tapp.shop.price(item='apple') -> 3
    tapp.shop.price(item='pear') -> 4
    tapp.gateway.charge(amount=7, card='4242') -> {'id': 'ch_<7>', 'amount': 7}
  '''
# ---
"""


def test_a_trace_snapshot_written_while_recording_passes_on_replay(tmp_path: Path) -> None:
    for name, text in GATEWAY_FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    pytest_args = ("-m", "pytest", "-p", "no:cacheprovider", "-q")
    recorded = run(
        sys.executable, tmp_path, *pytest_args, "--snapshot-update", SIDE_EFFECT_CAPTURE="1"
    )
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert (tmp_path / "charges.log").read_text() == "7\n"  # the real call ran, once
    written = (tmp_path / "tests" / "__snapshots__" / "test_pay.ambr").read_text()
    assert written == PAY_AMBR  # the real call's own calls (gateway.fmt) are not in the tree
    assert list((tmp_path / "tests" / "__recordings__").rglob("*.json"))

    replayed = run(sys.executable, tmp_path, *pytest_args, SIDE_EFFECT_CAPTURE="0")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "1 snapshot passed" in replayed.stdout
    assert (tmp_path / "charges.log").read_text() == "7\n"  # replayed: not called again
    assert (tmp_path / "tests" / "__snapshots__" / "test_pay.ambr").read_text() == PAY_AMBR
