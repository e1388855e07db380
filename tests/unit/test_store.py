"""`CaptureStorage`: atomic bundle files, retention from disk, a self-healing index."""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path
from typing import Any

import pytest

import snapy
from snapy._bundle import PendingBundle, Target
from snapy._envelope import pack

TARGET = Target("shop.prices", "Catalog.fetch")
T0 = 1_700_000_000_000_000_000


def pending(n: int, target: Target = TARGET, **kinds: str) -> PendingBundle:
    """Bundle number `n`: argument x=n, result n*10, captured at T0 + n seconds."""
    time_ns = T0 + n * 1_000_000_000
    arguments = {"x": n}
    return PendingBundle(
        target,
        f"{n:032x}",
        time_ns,
        f"1.{n}",
        arguments,
        json.dumps(arguments),
        kinds,
        "result",
        n * 10,
        json.dumps(n * 10),
        {"time_ns": time_ns},
    )


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.bundle"))


def index_of(folder: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((folder / "index.json").read_bytes())
    return value


@pytest.fixture
def storage(tmp_path: Path) -> snapy.CaptureStorage:
    return snapy.CaptureStorage(tmp_path / "root", retention=2)


def test_store_capture_writes_a_bundle_and_returns_its_path(
    storage: snapy.CaptureStorage, tmp_path: Path
) -> None:
    path = storage.store_capture(pending(1))
    folder = tmp_path / "root" / "shop.prices" / "Catalog.fetch"
    assert path == folder / pending(1).filename
    assert path.name == f"{T0 + 10**9:020d}-1.1-{1:032x}.bundle"
    head, _, payload = path.read_bytes().partition(b"\n")
    assert head.startswith(b"snapy-bundle format=1 serializer=pickle encoding=json checksum=")
    assert json.loads(payload) == {
        "target": "shop.prices.Catalog.fetch",
        "key": f"{1:032x}",
        "kinds": {},
        "arguments": {"x": 1},
        "outcome": "result",
        "value": 10,
        "meta": {"time_ns": T0 + 10**9, "time": "2023-11-14T22:13:21.000000+00:00"},
    }
    capture = storage.load(path)
    assert (capture.arguments, capture.result, capture.key) == ({"x": 1}, 10, f"{1:032x}")
    assert capture.target == "shop.prices.Catalog.fetch"
    assert capture.path == path


def test_index_describes_every_bundle(storage: snapy.CaptureStorage) -> None:
    path = storage.store_capture(pending(1))
    assert path is not None
    index = index_of(path.parent)
    assert index["snapy_index"] == 1
    assert index["target"] == "shop.prices.Catalog.fetch"
    assert (index["module"], index["qualname"]) == ("shop.prices", "Catalog.fetch")
    assert index["call_count"] == 1
    [entry] = index["bundles"]
    assert entry["file"] == path.name
    assert entry["key"] == f"{1:032x}"
    assert entry["size"] == path.stat().st_size
    assert entry["time_ns"] == T0 + 10**9
    assert entry["created"] == "2023-11-14T22:13:21.000000+00:00"
    assert entry["outcome"] == "result"
    assert entry["summary"] == "Catalog.fetch(x=1) -> 10"
    assert entry["serializer"] == "pickle"
    assert entry["signed"] is False
    assert entry["snapy"] == snapy.__version__


def test_retention_keeps_the_newest_files_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    keep_all = snapy.CaptureStorage(root, retention=math.inf)
    keep_two = snapy.CaptureStorage(root, retention=2)
    for n in (1, 2, 3):
        keep_all.store_capture(pending(n))
    folder = keep_all.folder(TARGET)
    assert len(names(folder)) == 3
    # Another writer (another process) with retention 2 prunes what the first one left.
    keep_two.store_capture(pending(4))
    assert names(folder) == [pending(3).filename, pending(4).filename]
    assert [e["file"] for e in index_of(folder)["bundles"]] == names(folder)
    assert index_of(folder)["call_count"] == 4


def test_a_batch_writes_only_what_retention_keeps(storage: snapy.CaptureStorage) -> None:
    written = storage.write(TARGET, [pending(n) for n in range(5)])
    folder = storage.folder(TARGET)
    assert written == [folder / pending(3).filename, folder / pending(4).filename]
    assert names(folder) == [p.name for p in written]
    assert index_of(folder)["call_count"] == 5
    # Older than both kept bundles: dropped at once, never written.
    assert storage.store_capture(pending(2)) is None
    assert names(folder) == [p.name for p in written]


def test_corrupt_index_is_rebuilt_with_a_warning(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    first = storage.store_capture(pending(1))
    assert first is not None
    index = first.parent / "index.json"
    index.write_bytes(b'{"bundles": [')
    with caplog.at_level(logging.WARNING, logger="snapy"):
        second = storage.store_capture(pending(2))
    assert second is not None
    [record] = [r for r in caplog.records if r.name == "snapy"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"rebuilding {index} from the files on disk: index is not valid JSON "
        "(Expecting value: line 1 column 14 (char 13))"
    )
    rebuilt = index_of(first.parent)
    assert [e["file"] for e in rebuilt["bundles"]] == [first.name, second.name]
    orphan, fresh = rebuilt["bundles"]
    assert orphan["key"] == f"{1:032x}"
    assert orphan["time_ns"] == T0 + 10**9
    assert orphan["size"] == first.stat().st_size
    assert orphan["summary"] is None
    assert fresh["summary"] == "Catalog.fetch(x=2) -> 20"
    assert rebuilt["call_count"] == 1  # the count of the lost index is gone with it


def test_index_that_is_not_an_object_is_rebuilt(
    storage: snapy.CaptureStorage, caplog: pytest.LogCaptureFixture
) -> None:
    first = storage.store_capture(pending(1))
    assert first is not None
    (first.parent / "index.json").write_text("[1, 2]")
    storage.store_capture(pending(2))
    assert "index is not a JSON object" in caplog.text
    assert len(index_of(first.parent)["bundles"]) == 2


def test_bundle_missing_from_the_index_is_taken_in(tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "root", retention=math.inf)
    storage.store_capture(pending(1))
    storage.store_capture(pending(2))
    folder = storage.folder(TARGET)
    index = index_of(folder)
    index["bundles"] = index["bundles"][1:]  # a writer died between the file and the index
    (folder / "index.json").write_text(json.dumps(index))
    storage.store_capture(pending(3))
    entries = index_of(folder)["bundles"]
    assert [e["file"] for e in entries] == [pending(n).filename for n in (1, 2, 3)]
    assert entries[0] == {
        "file": pending(1).filename,
        "key": f"{1:032x}",
        "size": (folder / pending(1).filename).stat().st_size,
        "time_ns": T0 + 10**9,
        "created": "2023-11-14T22:13:21.000000+00:00",
        "outcome": None,
        "summary": None,
    }


def test_index_entry_whose_file_is_gone_is_dropped(tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "root", retention=math.inf)
    gone = storage.store_capture(pending(1))
    storage.store_capture(pending(2))
    assert gone is not None
    gone.unlink()
    storage.store_capture(pending(3))
    files = [e["file"] for e in index_of(gone.parent)["bundles"]]
    assert files == [pending(2).filename, pending(3).filename]
    [info] = storage.targets()
    assert info.bundles == 2


def test_targets_and_target_info(tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "root", retention=math.inf)
    assert storage.targets() == []
    other = Target("billing", "charge")
    storage.write(TARGET, [pending(1), pending(2)])
    storage.store_capture(pending(5, other))
    (tmp_path / "root" / "stray").mkdir()  # a module folder without any index
    infos = storage.targets()
    assert [i.target for i in infos] == ["billing.charge", "shop.prices.Catalog.fetch"]
    folder = storage.folder(TARGET)
    sizes = sum(p.stat().st_size for p in folder.glob("*.bundle"))
    assert storage.target_info(folder) == snapy.TargetInfo(
        target="shop.prices.Catalog.fetch",
        module="shop.prices",
        qualname="Catalog.fetch",
        bundles=2,
        calls=2,
        total_bytes=sizes,
        newest=storage.load(folder / pending(2).filename).time,
        oldest=storage.load(folder / pending(1).filename).time,
        folder=folder,
    )
    assert infos[1] == storage.target_info(folder)
    assert storage.files(TARGET) == [folder / pending(n).filename for n in (1, 2)]
    assert storage.files(Target("nothing", "here")) == []


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (b"", "not a snapy bundle (no snapy-bundle header)"),
        (b"PK\x03\x04 zip file\n", "not a snapy bundle (no snapy-bundle header)"),
        (
            b"snapy-bundle format=1 serializer\n{}",
            "malformed snapy-bundle header b'snapy-bundle format=1 serializer'",
        ),
        (
            pack(b'{"half": ', serializer="pickle", signing_key=None),
            "payload is not valid JSON (Expecting value: line 1 column 10 (char 9))",
        ),
        (
            pack(b'{"target": "t"}', serializer="pickle", signing_key=None),
            "payload is not a snapy bundle ('key' missing)",
        ),
    ],
)
def test_load_of_a_corrupt_file_names_the_path(
    storage: snapy.CaptureStorage, tmp_path: Path, data: bytes, cause: str
) -> None:
    path = tmp_path / "bad.bundle"
    path.write_bytes(data)
    with pytest.raises(snapy.CorruptFileError) as info:
        storage.load(path)
    assert info.value.path == path
    assert info.value.cause == cause
    assert str(info.value) == f"{path}: {cause}"


def test_load_of_a_truncated_file(storage: snapy.CaptureStorage) -> None:
    path = storage.store_capture(pending(1))
    assert path is not None
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(snapy.CorruptFileError) as info:
        storage.load(path)
    assert str(info.value) == (
        f"{path}: checksum mismatch: the file is truncated or was modified (delete it, or "
        "run `snapy verify` to find every such file)"
    )


def test_load_of_a_missing_file(storage: snapy.CaptureStorage, tmp_path: Path) -> None:
    path = tmp_path / "missing.bundle"
    with pytest.raises(snapy.StoreError) as info:
        storage.load(path)
    assert str(info.value) == f"{path}: cannot read the file (No such file or directory)"


def test_signed_store_refuses_unsigned_and_foreign_files(tmp_path: Path) -> None:
    signed = snapy.CaptureStorage(tmp_path / "root", signing_key=b"k" * 32)
    plain = snapy.CaptureStorage(tmp_path / "root")
    path = signed.store_capture(pending(1))
    assert path is not None
    assert b" hmac=" in path.read_bytes().partition(b"\n")[0]
    assert signed.load(path).result == 10
    assert plain.load(path).result == 10  # without a key the checksum is still checked
    other = snapy.CaptureStorage(tmp_path / "root", signing_key=b"o" * 32)
    with pytest.raises(snapy.SignatureMismatchError) as info:
        other.load(path)
    assert info.value.path == path
    unsigned = plain.store_capture(pending(2))
    assert unsigned is not None
    with pytest.raises(snapy.SignatureMismatchError) as info:
        signed.load(unsigned)
    assert "the file is not signed but SNAPY_SIGNING_KEY is set" in str(info.value)


def test_large_payloads_are_compressed(tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "root", compress_over=10)
    path = storage.store_capture(pending(1))
    assert path is not None
    head, _, payload = path.read_bytes().partition(b"\n")
    assert b" encoding=json+zlib " in head
    assert b'"arguments"' not in payload
    assert storage.load(path).arguments == {"x": 1}


def test_files_0600_and_folders_0700(storage: snapy.CaptureStorage, tmp_path: Path) -> None:
    path = storage.store_capture(pending(1))
    assert path is not None
    storage.redaction_key()
    root = tmp_path / "root"
    for file in (path, path.parent / "index.json", path.parent / ".lock", root / ".redaction-key"):
        assert file.stat().st_mode & 0o777 == 0o600, file
    for folder in (root, root / "shop.prices", path.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp-")] == []


def test_redaction_key_is_kept_per_root(tmp_path: Path) -> None:
    first = snapy.CaptureStorage(tmp_path / "root").redaction_key()
    assert len(first) == 64
    assert (tmp_path / "root" / ".redaction-key").read_bytes() == first
    assert snapy.CaptureStorage(tmp_path / "root").redaction_key() == first
    assert snapy.CaptureStorage(tmp_path / "other").redaction_key() != first
    signed = snapy.CaptureStorage(tmp_path / "signed", signing_key=b"k" * 32)
    assert len(signed.redaction_key()) == 32
    assert not (tmp_path / "signed" / ".redaction-key").exists()


def test_damaged_redaction_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / ".redaction-key").write_bytes(b"short")
    with pytest.raises(snapy.CorruptFileError) as info:
        snapy.CaptureStorage(tmp_path / "root").redaction_key()
    assert str(info.value) == (
        f"{tmp_path / 'root' / '.redaction-key'}: redaction key file is damaged; delete it"
    )


def test_qualnames_become_safe_folders_inside_the_root(tmp_path: Path) -> None:
    storage = snapy.CaptureStorage(tmp_path / "root")
    local = Target("tests.mod", "test_x.<locals>.helper")
    escape = Target("..", "../../etc")
    for target in (local, escape):
        path = storage.store_capture(pending(1, target))
        assert path is not None
        assert path.resolve().is_relative_to((tmp_path / "root").resolve())
        assert storage.load(path).target == target.name
    assert storage.folder(local).name.startswith("test_x._locals_.helper-")
    assert sorted(i.target for i in storage.targets()) == sorted([local.name, escape.name])


def test_concurrent_writers_share_one_index(tmp_path: Path) -> None:
    root = tmp_path / "root"

    def work(worker: int) -> None:
        storage = snapy.CaptureStorage(root, retention=math.inf)
        for i in range(20):
            storage.store_capture(pending(worker * 100 + i))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folder = snapy.CaptureStorage(root).folder(TARGET)
    index = index_of(folder)
    assert index["call_count"] == 80
    assert sorted(e["file"] for e in index["bundles"]) == names(folder)
    assert len(names(folder)) == 80
