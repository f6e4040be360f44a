"""Runs into one namespace at the same time take turns through the namespace lease (spark_mm/lake/lease.py).

- Three real ``spark-mm run`` processes (each its own JVM, as users start them) into one namespace
  on a tiny JSONL recipe (one cheap CPU stage; dedup steps run inside the same lease block):
  ``run-a``, 2 s later ``run-b``, 2 s later ``run-a`` again. The two distinct runs both exit 0,
  one of them having waited for the other, and every table holds one row per sample; the second
  ``run-a`` fails fast (exit 2, "already running") and commits nothing.
- In this process (the shared session): a lease whose process is gone on this host, or whose
  heartbeat expired, is taken over; a live one makes ``acquire`` give up after
  ``run.lease_timeout_s`` naming the holder and ``spark-mm unlock``, which releases it; the
  heartbeat advances in its own session; other namespaces never wait.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from spark_mm import cli
from spark_mm.errors import LeaseHeld
from spark_mm.lake import lease as lease_mod
from spark_mm.lake.inspect import lineage, open_catalog, runs
from spark_mm.lake.lease import LeaseRecord, LeaseStore, NamespaceLease, Verdict, is_lease_table, judge
from spark_mm.lake.settings import LakeSettings

from .jobs import REPO, published

NS = "conc_runs"
SAMPLES = 40
RECIPE = {
    "job": "concurrency",
    "namespace": NS,
    "source": {"type": "jsonl", "path": "SET-BY-TEST"},
    "stages": [{"name": "text", "ops": [{"op": "txt_minhash"}]}],
    "lake": {"buckets": 4},
    "spark": {"master": "local[1]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "1"}},
    "tracking": {"enabled": False},
}
RUN_TIMEOUT_S = 300


@dataclass
class Proc:
    name: str
    run_id: str
    proc: subprocess.Popen[str]
    log: Path
    started: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start(home: Path, recipe: Path, run_id: str, name: str, logs: Path) -> Proc:
    env = dict(os.environ, SPARK_MM_HOME=str(home), PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    log = logs / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spark_mm.cli", "run", str(recipe), "--run-id", run_id],
            env=env, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=REPO, start_new_session=True,
        )
    return Proc(name, run_id, proc, log, time.monotonic())


def _settings(home: Path) -> LakeSettings:
    return LakeSettings(uri=f"jdbc:sqlite:{home / 'catalog.db'}", warehouse=(home / "warehouse").as_uri(), buckets=4)


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """run-a, run-b 2 s later, run-a again 2 s after that; all three waited for (bounded)."""
    root = tmp_path_factory.mktemp("concurrent")
    home, logs, data = root / "home", root / "logs", root / "data"
    logs.mkdir()
    data.mkdir()
    with (data / "part-0.jsonl").open("w") as f:
        for i in range(SAMPLES):
            f.write(json.dumps({"id": f"doc-{i}", "text": f"document number {i} " + "word " * (i % 7), "url": f"https://example.com/{i}"}) + "\n")
    recipe = root / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, "source": {"type": "jsonl", "path": str(data)}}))
    started = time.monotonic()
    procs = [_start(home, recipe, "run-a", "a", logs)]
    time.sleep(2)
    procs.append(_start(home, recipe, "run-b", "b", logs))
    time.sleep(2)
    procs.append(_start(home, recipe, "run-a", "a_again", logs))
    try:
        for p in procs:
            p.proc.wait(timeout=max(1.0, RUN_TIMEOUT_S - (time.monotonic() - started)))
    finally:
        for p in procs:
            if p.proc.poll() is None:
                os.killpg(p.proc.pid, 9)
                p.proc.wait(timeout=60)
    wall = time.monotonic() - started
    print(f"\nthree concurrent runs took {wall:.1f} s")
    return {"home": home, "procs": {p.name: p for p in procs}, "wall_s": wall}


def _ids(home: Path, table: str) -> list[str]:
    t = open_catalog(_settings(home)).load_table(f"{NS}.{table}")
    return t.scan(selected_fields=("sample_id",)).to_arrow().column("sample_id").to_pylist()


def _added(home: Path, table: str, run_id: str) -> list[int]:
    """Rows added by each commit of ``run_id`` on main (pyiceberg, metadata only)."""
    return [s.added_records or 0 for s in lineage(f"{NS}.{table}", _settings(home)) if s.status == "main" and s.run_id == run_id]


def test_two_runs_take_turns_and_every_table_has_one_row_per_sample(three_runs: dict[str, object]) -> None:
    home, procs = three_runs["home"], three_runs["procs"]
    a, b = procs["a"], procs["b"]  # type: ignore[index]
    for p in (a, b):
        assert p.proc.returncode == 0, f"{p.name} exited {p.proc.returncode}:\n{p.output()[-4000:]}"
    waited = [p for p in (a, b) if f"waiting for the lease on {NS} held by run " in p.output()]
    assert len(waited) == 1, "exactly one of the two runs waits for the other:\n" + "\n---\n".join(p.output()[-2000:] for p in (a, b))
    other = b if waited[0] is a else a
    assert f"held by run {other.run_id} (" in waited[0].output()

    tables = [i[-1] for i in open_catalog(_settings(home)).list_tables(NS) if not is_lease_table(i[-1])]  # type: ignore[arg-type]
    assert set(tables) == {"samples", "signals_text"}, tables
    for table in tables:
        ids = _ids(home, table)  # type: ignore[arg-type]
        assert len(ids) == len(set(ids)), f"{table}: {len(ids)} rows for {len(set(ids))} sample ids"
        assert len(set(ids)) == SAMPLES, f"{table}: {len(set(ids))} sample ids, expected {SAMPLES}"
    # The run that went second found everything there: it committed, but added no rows.
    for table in ("samples", "signals_text"):
        assert _added(home, table, other.run_id) == [SAMPLES], table  # type: ignore[arg-type]
        assert _added(home, table, waited[0].run_id) in ([], [0]), table  # type: ignore[arg-type]
    # `spark-mm runs` lists both runs and none of the lease tables.
    found = {r.run_id: r for r in runs(NS, _settings(home))}  # type: ignore[arg-type]
    assert {"run-a", "run-b"} <= set(found)
    assert not any(is_lease_table(t.split(".")[-1]) for r in found.values() for t in r.tables)


def test_same_run_id_twice_at_once_fails_fast_and_writes_nothing_twice(three_runs: dict[str, object]) -> None:
    home, procs = three_runs["home"], three_runs["procs"]
    first, again = procs["a"], procs["a_again"]  # type: ignore[index]
    outcomes = sorted((p.proc.returncode, p.name) for p in (first, again))
    assert [rc for rc, _ in outcomes] == [0, 2], "\n---\n".join(p.output()[-3000:] for p in (first, again))
    refused = first if first.proc.returncode == 2 else again
    text = refused.output()
    assert f"error: run run-a is already running on namespace {NS!r}" in text, text[-3000:]
    assert f"spark-mm unlock {NS}" in text
    for table in ("samples", "signals_text"):
        chunks = published(home, NS, table, "run-a")  # type: ignore[arg-type]
        assert len(chunks) == 1, f"{table}: run-a published {chunks} (expected one commit)"


@pytest.fixture
def store(spark: SparkSession) -> LeaseStore:
    s = LeaseStore(spark, "lake", "conc_lease")
    s.ensure_namespace()
    return s


def _plant(store: LeaseStore, run_id: str, host: str, pid: int, heartbeat_age_s: float) -> LeaseRecord:
    gens = store.generations()
    now = datetime.now(timezone.utc)
    record = LeaseRecord((gens[-1] if gens else 0) + 1, run_id, host, pid, "planted", now - timedelta(seconds=heartbeat_age_s + 1), now - timedelta(seconds=heartbeat_age_s))
    store.create(record)
    return record


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_leases_are_taken_over_and_a_live_one_times_out_until_unlocked(spark: SparkSession, store: LeaseStore, capsys: pytest.CaptureFixture[str]) -> None:
    said: list[str] = []

    def lease(run_id: str, timeout_s: float) -> NamespaceLease:
        return NamespaceLease(spark, "lake", "conc_lease", run_id, timeout_s, poll_s=0.2, say=said.append)

    # A dead pid on this host: taken over at once, though its heartbeat is fresh.
    dead = _plant(store, "ghost-1", socket.gethostname(), _dead_pid(), heartbeat_age_s=0)
    with lease("r-1", timeout_s=0) as held:
        assert held.record is not None and held.record.generation == dead.generation + 1
    assert said[-1].startswith(f"taking over the lease on conc_lease from run ghost-1 ({socket.gethostname()}, pid ") and said[-1].endswith(Verdict.DEAD.value)

    # Another host, heartbeat older than STALE_AFTER_S: taken over.
    old = _plant(store, "ghost-2", "elsewhere", 1, heartbeat_age_s=lease_mod.STALE_AFTER_S + 5)
    with lease("r-2", timeout_s=0) as held:
        assert held.record is not None and held.record.generation == old.generation + 1
    assert said[-1].endswith(Verdict.STALE.value) and "run ghost-2 (elsewhere, pid 1)" in said[-1]
    assert len(store.generations()) == 2  # generations before the previous one are dropped

    # Another host, fresh heartbeat: wait, then give up naming the holder and the fix.
    live = _plant(store, "ghost-3", "elsewhere", 1, heartbeat_age_s=0)
    started = time.monotonic()
    with pytest.raises(LeaseHeld) as err:
        lease("r-3", timeout_s=1.0).acquire()
    assert 1.0 <= time.monotonic() - started < 10
    assert said[-1] == f"waiting for the lease on conc_lease held by run ghost-3 (elsewhere, pid 1) since {lease_mod._iso(live.acquired_at)}"
    assert "run ghost-3 (elsewhere, pid 1)" in str(err.value) and "run.lease_timeout_s=1" in str(err.value) and "spark-mm unlock conc_lease" in str(err.value)

    assert cli.main(["unlock", "conc_lease"]) == 0
    out = capsys.readouterr().out
    assert "released the lease on conc_lease held by run ghost-3 (elsewhere, pid 1)" in out and "warning: its last heartbeat" in out
    with lease("r-3", timeout_s=0) as held:
        assert held.record is not None and held.record.generation == live.generation + 1
    assert cli.main(["unlock", "conc_lease"]) == 0
    assert "no lease is held on conc_lease" in capsys.readouterr().out


def test_heartbeat_runs_in_its_own_session_and_other_namespaces_do_not_wait(spark: SparkSession) -> None:
    held = NamespaceLease(spark, "lake", "conc_beat", "beat-1", 0, heartbeat_s=0.3, say=lambda line: None).acquire()
    try:
        assert held.record is not None
        spark.conf.set("spark.wap.id", "main-thread-wap")  # what Lake.append sets around a stage write
        time.sleep(1.5)
        beat = held.store.read(held.record.generation)
        assert beat is not None and beat.heartbeat_at > held.record.heartbeat_at and not beat.released
        assert held.store.session.conf.get("spark.wap.id", None) is None  # the lease session never sees it
        assert spark.conf.get("spark.wap.id") == "main-thread-wap"
        assert spark.sql(f"SELECT count(*) FROM {held.store.table(held.record.generation)}.snapshots").first()[0] == 0
        # Another namespace is not blocked, and the same namespace is (timeout 0: fail at once).
        with NamespaceLease(spark, "lake", "conc_beat_other", "beat-2", 0, say=lambda line: None) as other:
            assert other.record is not None and other.waited_s < 5
        with pytest.raises(LeaseHeld):
            NamespaceLease(spark, "lake", "conc_beat", "beat-3", 0, say=lambda line: None).acquire()
    finally:
        spark.conf.unset("spark.wap.id")
        generation = held.record.generation if held.record else 0
        held.release()
    after = held.store.read(generation)
    assert after is not None and after.released


def test_judge_and_names() -> None:
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    r = LeaseRecord(1, "r", "h", 7, "tok", t, t)
    assert judge(r, t + timedelta(seconds=299), "other").value == "held"
    assert judge(r, t + timedelta(seconds=301), "other") is Verdict.STALE
    assert judge(r, t, "h", alive=lambda pid: pid != 7) is Verdict.DEAD
    assert judge(r, t, "h", alive=lambda pid: True) is Verdict.HELD
    assert judge(LeaseRecord(1, "r", "h", 7, "tok", t, t, released=True), t, "h") is Verdict.RELEASED
    # Unreadable properties read as stale, never as held.
    assert judge(LeaseRecord.from_properties(1, {}), t, "h") is not Verdict.HELD
    assert LeaseRecord.from_properties(2, r.properties()) == LeaseRecord(2, "r", "h", 7, "tok", t, t)


def test_a_locked_sqlite_catalog_is_retried(spark: SparkSession, lake_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Another process holding the SQLite catalog's write lock past sqlite-jdbc's 3 s busy timeout."""
    lease = NamespaceLease(spark, "lake", "conc_locked", "locked-1", 0, say=lambda line: None)
    lease.store.ensure_namespace()  # the lease session's catalog is open before the lock is taken
    holder = sqlite3.connect(lake_home / "catalog.db", timeout=30, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    unlock_at = time.monotonic() + 6
    timer = threading.Timer(6, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="spark_mm.lake.lease"):
            with lease as held:
                assert held.record is not None
                assert time.monotonic() >= unlock_at - 0.5  # it could only get through once the lock was gone
    finally:
        timer.join()
        holder.close()
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried and any("locked" in m.lower() or "busy" in m.lower() for m in retried), retried
