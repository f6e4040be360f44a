"""url_filter's list archive: unpacked atomically under a race, and checked when the operator is built."""

from __future__ import annotations

import hashlib
import io
import multiprocessing as mp
import sys
import tarfile
from pathlib import Path

import pytest

from spark_mm.errors import MissingDependency
from spark_mm.ops.url_filter import UrlFilter, UrlFilterParams, unpack_lists

WORKERS = 4


def make_archive(path: Path) -> dict[str, str]:
    """A UT1-like archive big enough (~12 MB unpacked) that extraction takes a while; returns name -> sha256."""
    files = {
        "domains": "".join(f"blocked-{i:07d}.example\n" for i in range(500_000)).encode(),
        "urls": "".join(f"example.org/page/{i}\n" for i in range(100_000)).encode(),
    }
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def unpack_and_read(archive: str, target: str, start, results) -> None:  # type: ignore[no-untyped-def]
    """A worker: wait for the others, unpack (or find unpacked), then read every list back at once."""
    start.wait()
    try:
        lists = unpack_lists(Path(archive), Path(target))
        results.put({name: hashlib.sha256((lists / name).read_bytes()).hexdigest() for name in ("domains", "urls")})
    except Exception as err:  # a reader that found a list missing fails the test, not the queue
        results.put(repr(err))


def test_racing_workers_never_read_a_half_written_list(tmp_path: Path) -> None:
    expected = make_archive(tmp_path / "lists.tar.gz")
    target = tmp_path / "cache" / "lists"
    ctx = mp.get_context("spawn")  # no fork of a process that may hold a JVM
    start, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=unpack_and_read, args=(str(tmp_path / "lists.tar.gz"), str(target), start, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    seen = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert seen == [expected] * WORKERS  # every worker read complete lists
    assert sorted(p.name for p in target.parent.iterdir()) == ["lists"]  # losers' temporary copies are gone
    assert unpack_lists(tmp_path / "missing.tar.gz", target) == target  # already unpacked: the archive is not read again


def test_a_failed_unpack_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar archive")
    with pytest.raises(tarfile.TarError):
        unpack_lists(tmp_path / "broken.tar.gz", tmp_path / "cache" / "lists")
    assert list((tmp_path / "cache").iterdir()) == []  # no partial folder a later worker would trust


def test_missing_datatrove_fails_when_the_operator_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datatrove.utils._import_utils", None)
    with pytest.raises(MissingDependency, match=r"pip install 'datatrove' \(or set blocklist_dir"):
        UrlFilter(UrlFilterParams())
    UrlFilter(UrlFilterParams(use_datatrove_lists=False, extra_domains=("x.example",)))  # own lists: no datatrove needed


def test_datatrove_without_its_list_assets_fails_when_the_operator_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    utils = pytest.importorskip("datatrove.utils._import_utils")
    monkeypatch.setattr(utils, "ASSETS_PATH", str(tmp_path))  # an install whose assets lack the lists
    with pytest.raises(MissingDependency, match="lack .*url_filterblacklistsv0_3_0.tar.gz"):
        UrlFilter(UrlFilterParams())
