"""Fault tests on local-cluster: an executor killed mid-stage, the driver killed mid-run.

Each job is ``spark-submit jobs/z_image.py`` in its own process group (as a user or Airflow runs
it), writing into the session's lake home. A clean run of the same recipe in another namespace is
the baseline: the faulted runs must end with tables equal to it (row counts and a content checksum
over every column except the run ids), with every stage chunk published exactly once.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from .jobs import CLUSTER, Job, chunk_counts, executor_pids, fingerprint, gpu_discovery_script, published, rest, snapshots_with_wap, start_job, wait_for

pytestmark = pytest.mark.cluster

CHUNKS = 4
# Dedup has its own retry tests (tests/integration/test_dedup_job.py); leaving it out here keeps
# each of the four spark-submit runs about a minute shorter.
SETS = (f"run.commit_chunks={CHUNKS}", "dedup=[]")
JOB_TIMEOUT = 900  # one z_image run takes 1-2 min idle, several minutes on a loaded 2-core machine


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def gpus(workdir: Path) -> Path:
    return gpu_discovery_script(workdir)


@pytest.fixture
def jobs() -> list[Job]:
    """Jobs a test starts; whatever is left of them is killed afterwards, pass or fail."""
    started: list[Job] = []
    yield started
    for job in started:
        job.kill()


@pytest.fixture(scope="module")
def clean(spark: SparkSession, lake_home: Path, workdir: Path, gpus: Path) -> dict[str, tuple[int, int, int]]:
    """Fingerprint of an uninterrupted run (namespace rel_clean), shared by the tests of this module."""
    job = start_job(lake_home, workdir / "logs", "rel_clean", "clean-1", master=CLUSTER, sets=SETS, gpus=gpus)
    try:
        rc = job.wait(JOB_TIMEOUT)
    finally:
        job.kill()
    assert rc == 0, job.err()[-4000:]
    fp = fingerprint(spark, "rel_clean")
    assert fp["samples"][0] == fp["signals_image_cpu"][0] == fp["signals_image_models"][0] > 100, fp
    assert all(c == 1 for c in chunk_counts(published(lake_home, "rel_clean", "signals_image_models", "clean-1")).values())
    return fp


def _all_published_once(home: Path, namespace: str, run_id: str) -> None:
    for table, stage in (("signals_image_cpu", "image_cpu"), ("signals_image_models", "image_models")):
        counts = chunk_counts(published(home, namespace, table, run_id))
        assert counts == {(stage, f"{i}of{CHUNKS}"): 1 for i in range(1, CHUNKS + 1)}, (table, counts)
    assert chunk_counts(published(home, namespace, "samples", run_id)) == {("ingest", "1of1"): 1}


def test_executor_killed_mid_stage_completes_with_identical_results(
    spark: SparkSession, lake_home: Path, workdir: Path, gpus: Path, clean: dict, jobs: list[Job],
) -> None:
    ns, run = "rel_exec", "exec-1"
    job = start_job(lake_home, workdir / "logs", ns, run, master=CLUSTER, sets=SETS, gpus=gpus, ui=True)
    jobs.append(job)
    app = wait_for("the driver's status API", lambda: (rest(job, "/applications") or [{}])[0].get("id"), job, 300)
    # The model stage starts once every image_cpu chunk is published.
    wait_for("image_cpu to be published", lambda: len(published(lake_home, ns, "signals_image_cpu", run)) == CHUNKS, job, JOB_TIMEOUT)

    seen: set[str] = set()

    def model_task_running() -> tuple[str, int, int, str] | None:
        done = len(published(lake_home, ns, "signals_image_models", run))
        assert done < CHUNKS, f"image_models finished before an executor could be killed mid-stage; active stages seen: {sorted(seen)}"
        stages = [s for s in rest(job, f"/applications/{app}/stages?status=active") or [] if s.get("numActiveTasks", 0) > 0]
        seen.update(s.get("name", "") for s in stages)
        if not stages:
            return None
        busy = [e["id"] for e in rest(job, f"/applications/{app}/executors") or [] if e["id"] != "driver" and e.get("activeTasks", 0) > 0]
        pids = executor_pids(app)
        for eid in busy:
            if eid in pids:
                return eid, pids[eid], done, stages[0].get("name", "")
        return None

    # Between image_cpu's last publish and image_models' last, every running task belongs to the
    # model stage (a chunk's count, its write = the model pass, or its audit).
    executor, pid, done_at_kill, stage_name = wait_for("an image_models task on an executor", model_task_running, job, JOB_TIMEOUT, every=0.3)
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    def replaced() -> bool:  # the worker launches a new executor for the application
        ids = {e["id"] for e in rest(job, f"/applications/{app}/executors") or [] if e["id"] != "driver"}
        return bool(ids - {"0", "1"})

    try:
        wait_for("a replacement executor", replaced, job, 300, every=1.0)
        relaunched = True
    except AssertionError:  # the job may have finished on the surviving executor first
        relaunched = job.proc.poll() == 0
    rc = job.wait(JOB_TIMEOUT)
    assert rc == 0, job.err()[-4000:]
    log = job.err()
    assert re.search(rf"Lost executor {executor}\b", log), "the driver never noticed the killed executor"
    assert relaunched
    assert done_at_kill < CHUNKS
    print(f"killed executor {executor} (pid {pid}) during Spark stage {stage_name!r} with {done_at_kill}/{CHUNKS} model chunks published; job finished {time.monotonic() - killed_at:.0f}s later")
    _all_published_once(lake_home, ns, run)
    assert fingerprint(spark, ns) == clean


def test_driver_killed_mid_run_resumes_to_identical_tables(
    spark: SparkSession, lake_home: Path, workdir: Path, gpus: Path, clean: dict, jobs: list[Job],
) -> None:
    ns, run = "rel_resume", "resume-1"
    first = start_job(lake_home, workdir / "logs", ns, run, master=CLUSTER, sets=SETS, gpus=gpus)
    jobs.append(first)
    wait_for("a first image_cpu chunk to be published", lambda: published(lake_home, ns, "signals_image_cpu", run), first, JOB_TIMEOUT, every=0.2)
    first.kill()  # SIGKILL the driver and everything it started: no shutdown hooks, no cleanup
    before = published(lake_home, ns, "signals_image_cpu", run)
    assert 1 <= len(before) < CHUNKS, f"wanted a partly published stage, got {before}"
    assert not published(lake_home, ns, "signals_image_models", run)
    staged, ancestry = snapshots_with_wap(lake_home, ns, "signals_image_cpu")
    stale = [wap for sid, wap in staged if sid not in ancestry]  # a chunk staged but never published, if the kill fell there

    second = start_job(lake_home, workdir / "logs", ns, run, master=CLUSTER, sets=SETS, gpus=gpus)
    jobs.append(second)
    rc = second.wait(JOB_TIMEOUT)
    assert rc == 0, second.err()[-4000:]
    out = second.out()
    ingest = next(line for line in out.splitlines() if line.startswith("ingest "))
    assert "skipped: already committed by this run" in ingest, ingest
    cpu = next(line for line in out.splitlines() if line.startswith("image_cpu "))
    resumed = re.search(r"resumed: (\d+)/(\d+) chunks were already committed", cpu)
    assert resumed and int(resumed.group(1)) == len(before) and int(resumed.group(2)) == CHUNKS, cpu
    _all_published_once(lake_home, ns, run)
    assert fingerprint(spark, ns) == clean
    print(f"driver killed with {len(before)}/{CHUNKS} image_cpu chunks published (unpublished staged: {stale}); resumed: {cpu.strip()}")
