"""snapy against vcrpy on the example app's HTTP rates client, `invoicing.rates.fetch_rate`.

    .bench/py311/bin/python -m benchmarks.cassettes [--quick] [--runs N] [--json PATH]
    (or `python -m benchmarks --only cassettes`, which makes that environment)

The example's rates service (`examples/legacy_app/services/rates_server.py`) runs on
127.0.0.1 for the whole worker. The workload: `fetch_rate("EUR", quote, day, api_key)` for
quotes USD, GBP, CHF and JPY in turn and a new day each call; the service has no JPY rate, so
one call in four answers 404 and `fetch_rate` raises `RateUnavailable`.

1. The same test, once with a vcrpy cassette, once with snapy: a generated pytest project
   whose test makes N calls, either inside `vcr.use_cassette(..., record_mode="none")` (vcrpy
   replays the HTTP exchanges under urllib) or under
   `@pytest.mark.side_effects("invoicing.rates.fetch_rate")` (snapy replays the function);
   both recorded once against the live service. Each test times its own body with
   `time.process_time()` (the CPU time of the test process, loading the cassette or the
   recordings included) and writes it to a file; per call: that time / N, runs interleaved,
   each a child `python -m pytest`. The live service's client-side cost is measured beside.
2. Lookup with 10, 1,000 and 10,000 recordings: in this process, one vcrpy cassette and one
   snapy test holding that many recorded calls (recorded in one pass against the service:
   snapy's recording mock around the real client, inside vcrpy's recording cassette); timed:
   10 calls spread over the recordings, with the cassette loaded (`allow_playback_repeats`)
   and snapy's recordings loaded.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    ROOT,
    clean_env,
    finish,
    rotated,
    run_timed,
    runs_of,
    worker_parser,
)
from benchmarks.results import Row

EXAMPLE = ROOT / "examples" / "legacy_app"
QUOTES = ("USD", "GBP", "CHF", "JPY")
# vcrpy looks for a match among all recorded requests before recording one more, so one
# cassette of 10,000 costs ~20 minutes to record; it is recorded in parts of CHUNK, merged.
CHUNK = 50
perf_ns = time.perf_counter_ns

HEADER = """
import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from invoicing import config, rates

N = {n}
QUOTES = ("USD", "GBP", "CHF", "JPY")
RATES = {{"USD": "1.0842", "GBP": "0.8611", "CHF": "0.9437"}}
START = date(2026, 1, 1)
CALLS = [(QUOTES[i % 4], (START + timedelta(days=i)).isoformat()) for i in range(N)]
EXPECTED = [RATES.get(q, f"no EUR/{{q}} rate for {{d}}") for q, d in CALLS]


def run_calls():
    got = []
    for quote, day in CALLS:
        try:
            got.append(str(rates.fetch_rate("EUR", quote, day, config.RATES_API_KEY)))
        except rates.RateUnavailable as exc:
            got.append(str(exc))
    assert got == EXPECTED


def timed(body):
    # the CPU time of the test's body, written where the benchmark reads it
    started = time.process_time()
    body()
    Path(os.environ["BENCH_OUT"]).write_text(repr(time.process_time() - started))
"""
TESTS = {
    "live": "\n\ndef test_rates():\n    timed(run_calls)\n",
    "snapy": """

@pytest.mark.side_effects("invoicing.rates.fetch_rate")
def test_rates():
    timed(run_calls)
""",
    "vcrpy": """
import vcr

CASSETTE = Path(__file__).parent / "cassettes" / "rates.yaml"


def test_rates():
    mode = "once" if os.environ.get("BENCH_RECORDING") == "1" else "none"

    def body():
        with vcr.use_cassette(str(CASSETTE), record_mode=mode) as cassette:
            run_calls()
        assert cassette.play_count == (0 if mode == "once" else N)

    timed(body)
""",
}
PLUGINS = ("snapy", "syrupy", "pytest_record_replay.pytest_plugin", "pytest-mimic")


class Project:
    def __init__(self, root: Path, tool: str, n: int, rates_url: str) -> None:
        self.tool, self.n = tool, n
        self.folder = root / f"{tool}-{n}"
        self.folder.mkdir(parents=True)
        (self.folder / "pytest.ini").write_text("[pytest]\n")
        (self.folder / "test_rates.py").write_text(HEADER.format(n=n) + TESTS[tool])
        self.out = self.folder / "body-cpu.txt"
        self.env = clean_env(
            PYTHONPATH=str(EXAMPLE),
            RATES_URL=rates_url,
            NO_PROXY="127.0.0.1",
            no_proxy="*",
            BENCH_OUT=str(self.out),
        )

    def command(self) -> list[str]:
        keep = ("snapy", "syrupy") if self.tool == "snapy" else ()
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        return args + [a for p in PLUGINS if p not in keep for a in ("-p", f"no:{p}")]

    def record(self) -> None:
        env = {**self.env, "BENCH_RECORDING": "1"}
        if self.tool == "snapy":
            env["SIDE_EFFECT_CAPTURE"] = "1"
        run_timed(self.command(), self.folder, env)

    def replay(self) -> float:
        """CPU seconds per call of the test's body."""
        self.out.unlink(missing_ok=True)
        run_timed(self.command(), self.folder, self.env)
        return float(self.out.read_text()) / self.n


def pytest_rows(root: Path, rates: Any, n: int, runs: int) -> list[Row]:
    projects = {tool: Project(root, tool, n, rates.address) for tool in TESTS}
    for tool in ("snapy", "vcrpy"):
        projects[tool].record()
    served = len(rates.log)
    cost: dict[str, list[float]] = {tool: [] for tool in TESTS}
    for r in range(runs):
        for tool in rotated(["snapy", "vcrpy"], r):
            cost[tool].append(projects[tool].replay())
    if len(rates.log) != served:
        raise RuntimeError(f"replay runs reached the rates service: {rates.log[served:][:3]}")
    # The live runs after the replays: their requests would be counted above otherwise.
    for _ in range(runs):
        cost["live"].append(projects["live"].replay())
    for tool, values in cost.items():
        print(f"  {tool:<6} {statistics.median(values) * 1e6:9.1f} us per call (test body, CPU)")
    where = f"a pytest test of {n:,} calls, one in four replaying a 404"
    return [
        Row.measured(
            "replay",
            "snapy replay / vcrpy cassette replay, the same test of the rates client",
            "vcrpy",
            [a / b for a, b in zip(cost["snapy"], cost["vcrpy"], strict=True)],
            group="cassettes",
            note=where,
            why_behind="vcrpy's cassette is one YAML file, loaded once; snapy reads one file "
            "per recorded call.",
        ),
        Row.measured(
            "replay",
            "snapy replay / the live HTTP call to the loopback rates service",
            "live HTTP",
            [a / b for a, b in zip(cost["snapy"], cost["live"], strict=True)],
            group="cassettes",
            note="CPU time of the test process; the service runs in its own",
            why_behind="On the loopback interface a live call costs the client little CPU "
            "(the service's work is in its own process); snapy replays from files.",
        ),
    ]


RATES = {"USD": "1.0842", "GBP": "0.8611", "CHF": "0.9437"}  # what the service quotes


def answers(fn: Callable[..., Any], calls: Sequence[tuple[str, str]]) -> None:
    """Call the rates client once per call and check what it answers (or raises)."""
    unavailable = importlib.import_module("invoicing.rates").RateUnavailable
    for quote, day in calls:
        try:
            got = str(fn("EUR", quote, day, "rk_demo_4f1c2e"))
        except unavailable as exc:
            got = str(exc)
        want = RATES.get(quote, f"no EUR/{quote} rate for {day}")
        if got != want:
            raise RuntimeError(f"fetch_rate(EUR, {quote}, {day}) gave {got!r}, not {want!r}")


def timed(
    fn: Callable[..., Any], calls: Sequence[tuple[str, str]], reps: int, budget: float
) -> float:
    """ns per call of the rates client over `calls`: `reps` passes, or fewer once `budget`
    seconds are spent (at least one)."""
    unavailable = importlib.import_module("invoicing.rates").RateUnavailable
    gc.disable()
    try:
        done = 0
        t0 = perf_ns()
        limit = t0 + budget * 1e9
        while done < reps and (done == 0 or perf_ns() < limit):
            for quote, day in calls:
                with contextlib.suppress(unavailable):
                    fn("EUR", quote, day, "rk_demo_4f1c2e")
            done += 1
        return (perf_ns() - t0) / (done * len(calls))
    finally:
        gc.enable()


def merge(parts: Sequence[Path], path: Path) -> None:
    """One cassette from cassettes recorded in parts, through vcrpy's own persister."""
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    requests: list[Any] = []
    responses: list[Any] = []
    for part in parts:
        got = FilesystemPersister.load_cassette(part, yamlserializer)
        requests += got[0]
        responses += got[1]
        part.unlink()
    cassette = {"requests": requests, "responses": responses}
    FilesystemPersister.save_cassette(path, cassette, yamlserializer)


def lookup_rows(root: Path, sizes: Sequence[int], runs: int, reps: int) -> list[Row]:
    import vcr

    import snapy

    rates_module = importlib.import_module("invoicing.rates")
    real = rates_module.fetch_rate
    store = snapy.RecordingStore(root / "__recordings__")
    start = date(2026, 1, 1)

    def calls(size: int) -> list[tuple[str, str]]:
        return [(QUOTES[i % 4], (start + timedelta(days=i)).isoformat()) for i in range(size)]

    def spread(size: int) -> list[tuple[str, str]]:
        every = calls(size)
        step = max(size // 10, 1)
        return [every[k * step + step // 2] for k in range(min(10, size))]

    t0 = time.perf_counter()
    for size in sizes:
        recorder = snapy.mock(real, recordings=store, test_id=f"t::T.test_{size}", mode="new")
        every = calls(size)
        parts = []
        for first in range(0, size, CHUNK):
            parts.append(root / f"rates-{size}-part{first}.yaml")
            with vcr.use_cassette(str(parts[-1]), record_mode="all"):
                answers(recorder, every[first : first + CHUNK])
        merge(parts, root / f"rates-{size}.yaml")
    store.flush()
    print(f"recorded {sum(sizes):,} calls in {time.perf_counter() - t0:.1f} s", flush=True)

    def snapy_job(size: int) -> float:
        fn = snapy.mock(
            real,
            recordings=snapy.RecordingStore(root / "__recordings__"),
            test_id=f"t::T.test_{size}",
            mode="replay",
        )
        answers(fn, spread(size))  # loads the recordings
        per_call = timed(fn, spread(size), reps, budget=0.05)
        assert {c.source for c in fn.calls} == {"replayed"}
        return per_call

    def vcrpy_job(size: int) -> float:
        path = str(root / f"rates-{size}.yaml")
        with vcr.use_cassette(path, record_mode="none", allow_playback_repeats=True) as tape:
            answers(real, spread(size))  # the cassette is loaded on entering; warm up
            per_call = timed(real, spread(size), reps, budget=0.2)
            assert tape.play_count > 0 and not tape.dirty
        return per_call

    jobs: list[tuple[str, Callable[[], float]]] = []
    for size in sizes:
        jobs += [
            (f"snapy {size}", lambda s=size: snapy_job(s)),
            (f"vcrpy {size}", lambda s=size: vcrpy_job(s)),
        ]
    ns: dict[str, list[float]] = {name: [] for name, _ in jobs}
    for r in range(runs):
        for name, job in rotated(jobs, r):
            ns[name].append(job())
    for name, values in ns.items():
        print(f"  {name:<12} {statistics.median(values) / 1000:9.1f} us per call (in process)")

    def ratio(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(ns[a], ns[b], strict=True)]

    rows = [
        Row.measured(
            "replay lookup",
            f"{size:,} recordings for the target: snapy / vcrpy cassette, per call",
            "vcrpy",
            ratio(f"snapy {size}", f"vcrpy {size}"),
            group="cassettes",
            note="rates client, 10 calls spread over the recordings",
            why_behind="vcrpy matches a request against a short cassette quickly.",
        )
        for size in sizes
    ]
    rows.append(
        Row.measured(
            "replay lookup",
            f"vcrpy per call: {sizes[-1]:,} recordings / {sizes[0]}",
            "vcrpy",
            ratio(f"vcrpy {sizes[-1]}", f"vcrpy {sizes[0]}"),
            group="cassettes",
            scaling=True,
            note="vcrpy tries every recorded request in turn",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    options = worker_parser(__doc__.splitlines()[0], runs=5).parse_args(argv)
    runs = runs_of(options, 5)
    n = 40 if options.quick else 200
    sizes = [10, 100, 1_000] if options.quick else [10, 1_000, 10_000]
    reps = 20 if options.quick else 100
    started = time.perf_counter()
    sys.path.insert(0, str(EXAMPLE))
    from services import Service  # the example's own service runner

    rates = Service("services.rates_server", lifetime=1800)
    try:
        os.environ.update(RATES_URL=rates.address, NO_PROXY="127.0.0.1", no_proxy="*")
        with tempfile.TemporaryDirectory(prefix="snapy-bench-cassettes-") as tmp:
            root = Path(tmp)
            import snapy

            snapy.refresh_settings(environ={}, dotenv_path=root / "no.env")
            rows = pytest_rows(root / "pytest", rates, n, runs)
            rows += lookup_rows(root / "lookup", sizes, runs, reps)
            snapy.refresh_settings()
    finally:
        rates.stop()
    return finish(options, rows, started)


if __name__ == "__main__":
    raise SystemExit(main())
