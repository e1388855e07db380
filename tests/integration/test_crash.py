"""Writers killed at any moment: no half-written file is ever accepted, and the store heals.

The first test is the crash part of the reliability suite (issue 9): processes that capture
and record are SIGKILLed at random moments, 50 times (400 under `SNAPY_STRESS=long`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from stress_support import PYTHON, environ, figure, pick, problems, verify

import snapy


@pytest.fixture(autouse=True)
def _default_settings(snapy_settings: object) -> None:
    """In-process snapy settings start from the defaults, whatever SNAPY_* the shell has set."""


KILLS = pick(50, 400)
PARALLEL = 2  # writers killed together, capturing into one folder and recording into one test
RETENTION = 5
PAYLOAD = "x" * 2000

APP = """
import os
import sys

import snapy


@snapy.capture(path=sys.argv[1], retention=5, production_mode=False)
def tick(i, payload):
    return {"i": i, "echo": payload}


def lookup(i, payload):
    return {"i": i, "pid": os.getpid(), "size": len(payload)}
"""

# Forks the writers to kill, so that each costs a fork rather than a new interpreter: for each
# line of delays it starts one child per delay, waits until every child is in its loop, and
# SIGKILLs each after its delay. The children of one line record into one test.
KILLER = """
import os
import signal
import sys
import time

import snapy
from app import lookup, tick

recordings = sys.argv[2]
snapy.recording_store(recordings).redaction_key()  # made once here, not raced by the children


def write_forever(parent, fake):
    i = 0
    while os.getppid() == parent:  # never outlive the killer, whatever happens to it
        i += 1
        tick(i, "x" * 2000)
        fake(i, "y" * 500)  # a new call: recorded
        if i % 3 == 0:
            snapy.flush_recordings()  # the index
    os._exit(1)


for round_, line in enumerate(sys.stdin):
    children = []
    for delay in map(float, line.split()):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            tick(0, "x" * 2000)
            test_id = f"test_crash::test_round_{round_:03d}"
            fake = snapy.mock(lookup, recordings=recordings, test_id=test_id, mode="new")
            fake(0, "y" * 500)
            os.write(ready_w, b"!")
            write_forever(os.getppid(), fake)
        os.close(ready_w)
        children.append((pid, delay, ready_r))
    for pid, delay, ready_r in children:
        assert os.read(ready_r, 1) == b"!"
        os.close(ready_r)
    started = time.monotonic()
    for pid, delay, ready_r in sorted(children, key=lambda child: child[1]):
        time.sleep(max(0.0, started + delay - time.monotonic()))
        os.kill(pid, signal.SIGKILL)
    statuses = [os.waitpid(pid, 0)[1] for pid, _, _ in children]
    print(" ".join(str(os.waitstatus_to_exitcode(s)) for s in statuses), flush=True)
"""

# One normal run after the kills: four captures, and one more recording in each test.
HEAL = """
import os
import sys
from pathlib import Path

import snapy
from app import lookup, tick

for i in range(4):
    tick(i, "x" * 2000)
for folder in sorted(Path(sys.argv[2], "test_crash").iterdir()):
    test_id = f"test_crash::{folder.name}"
    snapy.mock(lookup, recordings=sys.argv[2], test_id=test_id, mode="new")(-1, "healed")
snapy.flush_recordings()
print(os.getpid())
"""


def _run(tmp_path: Path, script: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, script, *args],
        cwd=tmp_path,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _index_files(folder: Path) -> list[str]:
    return [entry["file"] for entry in json.loads((folder / "index.json").read_text())["bundles"]]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _replays(recordings: Path, folder: Path) -> int:
    """Check what a killed test's recordings hold, through the loader and a replaying mock."""
    test_id = f"test_crash::{folder.parent.name}"
    rset = snapy.RecordingStore(recordings).recordings(test_id, snapy.Target("app", "lookup"))
    by_key: dict[tuple[int, str], list[Any]] = {}
    for rec in rset.recordings:
        assert rec.error is None, rec.error  # every file loads whole, or it would name itself
        arguments = rec.arguments()
        value = rec.decoder().decode(rec.body["value"])
        assert (value["i"], value["size"]) == (arguments["i"], len(arguments["payload"]))
        by_key.setdefault((arguments["i"], arguments["payload"]), []).append(value)

    def lookup(i, payload):  # app.lookup's signature, unannotated as there
        raise AssertionError("replay only")

    lookup.__module__, lookup.__qualname__ = "app", "lookup"
    replay = snapy.mock(
        lookup,
        recordings=snapy.RecordingStore(recordings),
        test_id=test_id,
        mode="replay",
        on_exhausted="error",
    )
    for (i, payload), values in sorted(by_key.items()):
        assert [replay(i, payload) for _ in values] == values
    return len(rset.recordings)


def test_writers_killed_at_random_moments_never_leave_a_file_that_fails_to_load(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for name, text in (("app.py", APP), ("killer.py", KILLER), ("heal.py", HEAL)):
        (tmp_path / name).write_text(text)
    root = tmp_path / "captures"
    recordings = tmp_path / "__recordings__"
    folder = root / "app" / "tick"
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    rounds = [
        [rng.uniform(0.005, 0.060) for _ in range(PARALLEL)] for _ in range(KILLS // PARALLEL)
    ]
    killer = _run(
        tmp_path,
        "killer.py",
        str(root),
        str(recordings),
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = killer.communicate(
            "".join(" ".join(map(repr, delays)) + "\n" for delays in rounds),
            timeout=pick(60, 600),
        )
    finally:
        if killer.poll() is None:
            # Stuck: the killer and every child it forked share this process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(killer.pid, signal.SIGKILL)
            killer.communicate()
    assert (killer.returncode, err) == (0, ""), seed
    assert out.split() == [str(-signal.SIGKILL)] * KILLS, seed

    # Captures: every bundle loads whole; anything else is a lock, the index or a temp file.
    storage = snapy.CaptureStorage(root)
    names = _names(folder)
    bundles = [name for name in names if name.endswith(".bundle")]
    assert bundles, f"no child got a bundle written (seed {seed})"
    others = {name for name in names if name not in bundles}
    assert {n for n in others if not n.startswith(".tmp-")} <= {".lock", "index.json"}, seed
    assert all(n.endswith(".part") for n in others if n.startswith(".tmp-")), seed
    for name in bundles:
        capture = storage.load(folder / name)
        assert capture.result == {"i": capture.arguments["i"], "echo": PAYLOAD}, seed
    # The index is replaced atomically too: whatever it lists, it is always whole JSON.
    if (folder / "index.json").exists():
        _index_files(folder)
    assert snapy.load_capture("app.tick", path=root).path == folder / bundles[-1]

    # Recordings: the same, for every test the killed writers recorded into.
    tests = sorted(recordings.glob("test_crash/*/app.lookup"))
    assert len(tests) == KILLS // PARALLEL, seed
    recorded = 0
    temps: set[str] = {str(folder / n) for n in others if n.startswith(".tmp-")}
    unindexed: set[str] = set()
    missing: set[str] = set()  # retention deleted it, the writer died before the index
    no_index: set[str] = set()
    if (folder / "index.json").exists():
        listed = set(_index_files(folder))
        unindexed = {str(folder / n) for n in set(bundles) - listed}
        missing = {str(folder / n) for n in listed - set(bundles)}
    else:
        no_index.add(str(folder / "index.json"))
    for test in tests:
        names = _names(test)
        files = {n for n in names if n.endswith(".bundle")}
        assert set(names) - files - {".lock", "index.json"} == {
            n for n in names if n.startswith(".tmp-") and n.endswith(".part")
        }, seed
        temps |= {str(test / n) for n in names if n.startswith(".tmp-")}
        recorded += _replays(recordings, test)
        if (test / "index.json").exists():
            calls = json.loads((test / "index.json").read_text())["calls"]
            listed = {c["file"] for c in calls}
            assert listed <= files, seed  # nothing is deleted in mode new
            unindexed |= {str(test / n) for n in files - listed}
        else:
            no_index.add(str(test / "index.json"))

    # `snapy verify` names exactly the files to remove: those no loader accepts, here the
    # temp files of killed writes and no bundle (each loaded above); apart from them, the
    # indexes that lag behind the files (the next write to the folder brings them in line).
    status, report = verify(tmp_path)
    expected = {
        "leftover-temp": temps,
        "not-indexed": unindexed,
        "missing-file": missing,
        "index": no_index,
    }
    found = problems(report)
    for kind in sorted(expected.keys() | found.keys()):
        assert found.get(kind, set()) == expected.get(kind, set()), (kind, seed)
    assert status == int(any(expected.values())), seed

    # One normal run heals what the kills left: indexes, retention and temp files.
    healer = _run(tmp_path, "heal.py", str(root), str(recordings))
    out, err = healer.communicate(timeout=60)
    assert (healer.returncode, err) == (0, ""), seed
    pid = out.strip()
    files = sorted(p.name for p in folder.glob("*.bundle"))
    assert len(files) == RETENTION, seed
    assert [name.split("-")[1].split(".")[0] for name in files[-4:]] == [pid] * 4, seed
    assert _index_files(folder) == files, seed
    assert _names(folder) == sorted([".lock", "index.json", *files])
    assert [storage.load(folder / name).arguments["i"] for name in files[-4:]] == [0, 1, 2, 3]
    for test in tests:
        assert not [n for n in _names(test) if n.startswith(".tmp-")], seed
    assert sum(_replays(recordings, test) for test in tests) == recorded + len(tests)
    status, report = verify(tmp_path)
    assert (status, report["problems"]) == (0, []), seed
    assert report["checked"] == {
        "folders": 1 + len(tests),
        "bundles": RETENTION + recorded + len(tests),
        "indexes": 1 + len(tests),
    }
    figure(
        request,
        f"crashes: {KILLS} writers SIGKILLed at random moments while capturing and recording "
        f"(seed {seed}): {len(bundles)} bundles and {recorded} recordings left, all load; "
        f"verify named exactly the {len(temps)} temp file(s) to remove, and as lagging "
        f"indexes {len(unindexed)} file(s) not yet listed, {len(missing)} listed file(s) "
        f"deleted, {len(no_index)} index(es) not yet written; after one normal run: verify "
        "clean",
    )


def _captured_folder(tmp_path: Path, calls: int = 3) -> tuple[snapy.CaptureStorage, Path]:
    storage = snapy.CaptureStorage(tmp_path / "captures", retention=math.inf)

    @snapy.capture(storage=storage, production_mode=False)
    def charge(amount: int) -> dict[str, int]:
        return {"charged": amount}

    for amount in range(calls):
        charge(amount)
    assert snapy.flush_captures(10) is True
    (folder,) = {p.parent for p in storage.root.rglob("*.bundle")}
    return storage, folder


@pytest.mark.parametrize(
    ("keep", "cause"),
    [
        (
            0.5,
            "checksum mismatch: the file is truncated or was modified (delete it, or run "
            "`snapy verify` to find every such file)",
        ),
        (20, "not a snapy bundle (no snapy-bundle header)"),
        (0, "not a snapy bundle (no snapy-bundle header)"),
    ],
)
def test_a_truncated_bundle_is_refused_naming_the_file(
    tmp_path: Path, keep: float, cause: str
) -> None:
    storage, folder = _captured_folder(tmp_path)
    path = sorted(folder.glob("*.bundle"))[-1]
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else int(keep)])
    with pytest.raises(snapy.CorruptFileError) as excinfo:
        storage.load(path)
    assert excinfo.value.path == path
    assert str(excinfo.value) == f"{path}: {cause}"
    with pytest.raises(snapy.CorruptFileError) as excinfo:
        snapy.load_capture(f"{__name__}.{_captured_name()}", path=storage.root)
    assert str(excinfo.value) == f"{path}: {cause}"


def _captured_name() -> str:
    return "_captured_folder.<locals>.charge"


def test_a_leftover_temp_file_is_ignored_by_loaders_and_removed_by_the_next_write(
    tmp_path: Path,
) -> None:
    storage, folder = _captured_folder(tmp_path, calls=1)
    leftover = folder / ".tmp-k1ll3d.part"
    leftover.write_bytes(b"snapy-bundle format=1 serializer=pickle encod")
    name = f"{__name__}.{_captured_name()}"
    assert snapy.load_capture(name, path=storage.root).result == {"charged": 0}
    assert storage.files(snapy.Target(__name__, _captured_name())) == sorted(
        folder.glob("*.bundle")
    )

    _captured_folder(tmp_path, calls=1)
    assert not leftover.exists()
    assert len(list(folder.glob("*.bundle"))) == 2


def test_an_index_out_of_step_with_the_files_heals_on_the_next_write(tmp_path: Path) -> None:
    storage, folder = _captured_folder(tmp_path, calls=3)
    first, second, third = sorted(folder.glob("*.bundle"))
    # As if a writer was killed after deleting a bundle, and another before indexing one.
    second.unlink()
    index = json.loads((folder / "index.json").read_text())
    index["bundles"] = [e for e in index["bundles"] if e["file"] != third.name]
    (folder / "index.json").write_text(json.dumps(index))

    _captured_folder(tmp_path, calls=1)
    files = sorted(p.name for p in folder.glob("*.bundle"))
    assert files[:2] == [first.name, third.name]
    assert len(files) == 3
    assert _index_files(folder) == files
    entries = json.loads((folder / "index.json").read_text())["bundles"]
    assert entries[1]["size"] == third.stat().st_size
    assert entries[1]["key"] == storage.load(third).key


def test_a_damaged_index_is_rebuilt_from_the_files_with_a_log_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage, folder = _captured_folder(tmp_path, calls=2)
    (folder / "index.json").write_bytes(b'{"bundles": [')
    with caplog.at_level(logging.WARNING, logger="snapy"):
        _captured_folder(tmp_path, calls=1)
    assert [r.getMessage() for r in caplog.records] == [
        f"rebuilding {folder / 'index.json'} from the files on disk: index is not valid JSON "
        "(Expecting value: line 1 column 14 (char 13))"
    ]
    files = sorted(p.name for p in folder.glob("*.bundle"))
    assert len(files) == 3
    assert _index_files(folder) == files
    assert [storage.load(folder / name).result for name in files] == [
        {"charged": 0},
        {"charged": 1},
        {"charged": 0},
    ]
