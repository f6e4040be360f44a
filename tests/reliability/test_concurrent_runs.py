"""Runs into one namespace at the same time take turns through the namespace lease (spark_mm/lake/lease.py).

- Real ``spark-mm run`` processes racing into one namespace (two crawls with cross-crawl
  duplicates and the same run id twice) run on the dev stack's REST catalog:
  tests/integration/test_stack_concurrency.py.
- In this process (the shared session): a lease whose process is gone on this host, or whose
  heartbeat expired, is taken over; a live one makes ``acquire`` give up after
  ``run.lease_timeout_s`` naming the holder and ``spark-mm unlock``, which releases it; the
  heartbeat advances in its own session; other namespaces never wait.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_mm import cli
from spark_mm.errors import LeaseHeld
from spark_mm.lake import lease as lease_mod
from spark_mm.lake.lease import LeaseRecord, LeaseStore, NamespaceLease, Verdict, judge



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
