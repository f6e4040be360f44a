"""The z_image job on a real REST catalog (Iceberg's own server) with its tables on an S3 object
store (moto's server), both started on 127.0.0.1 by the session's ``stack`` fixture, through two
faults: every table ends equal to the embedded run of the same recipe, run id and input
(``first_run``), and ``spark-mm runs`` reads it back.

The faults (one run id, three attempts; the module's only z_image work on the stack):

1. ``spark-submit`` z_image; the moment ``signals_image_cpu`` holds a staged snapshot of the run
   that main does not have yet (its chunk written, the audit and the publish still to come), the
   REST catalog is SIGKILLed. The job exits 2 naming the REST catalog and its URI; main has no
   image_cpu snapshot. The catalog is restarted on its port with the same SQLite file.
2. ``spark-submit`` with the same run id; once image_models has started (its progress line on the
   job's console; image_cpu is published by then), the object store is SIGKILLed, left down
   :data:`STORE_DOWN_S` and restarted on its port, its objects restored from moto's recording
   before it listens. The job either rides the outage out (exit 0) or fails naming the object store
   (exit 2), depending on whether its S3 calls ran out of retries; never with another error.
3. The same run id in-process (``Runner``): ingest is skipped, the rest completes.

Faulted jobs are separate processes as in production (a failed job's process ends, so the next
attempt takes over its lease as "its process is gone").
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from spark_mm import recipe as recipes
from spark_mm.devstack import object_store
from spark_mm.devstack import stack as devstack
from spark_mm.engine.runner import Runner, RunResult
from spark_mm.lake.inspect import runs
from spark_mm.lake.lease import is_lease_table
from spark_mm.lake.lineage import PREFIX
from tests.reliability.jobs import chunk_of, main_history, published_in, staged_in, start_job, wait_for

REPO = Path(__file__).resolve().parents[2]
CATALOG = "stack"  # the catalog stack_catalog adds to the session
NS = "zi"  # the namespace of first_run, so every table name and sample id match
RUN = "run-1"  # first_run's run id: the run-id columns compare equal too
JOB_TIMEOUT = 900
STORE_DOWN_S = 3.0  # the store's outage before its restart begins


@dataclass
class Faults:
    result: RunResult  # the attempt that completed
    seen: dict[str, Any] = field(default_factory=dict)  # what each fault left, for the tests and the log


def _pyiceberg(stack: devstack.Stack) -> Any:
    from pyiceberg.catalog import load_catalog

    props = stack.lake_settings(catalog=CATALOG).pyiceberg_properties()
    props |= {"s3.access-key-id": object_store.DEV_ACCESS_KEY, "s3.secret-access-key": object_store.DEV_SECRET_KEY, "s3.region": object_store.REGION}
    return load_catalog(CATALOG, **props)


def _meta(stack: devstack.Stack, table: str) -> Any:
    """A table's current metadata through the REST catalog, None while it does not exist."""
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return _pyiceberg(stack).load_table(f"{NS}.{table}").metadata
    except NoSuchTableError:
        return None


def _staged_unpublished(stack: devstack.Stack, table: str) -> list[str]:
    meta = _meta(stack, table)
    if meta is None:
        return []
    staged, ancestry = staged_in(meta)
    return [wap for sid, wap in staged if sid not in ancestry and wap.startswith(f"{RUN}.")]


def _error_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.startswith("error: ")), "")


@pytest.fixture(scope="module")
def faults(stack: devstack.Stack, stack_catalog: str, spark: SparkSession, first_run, lake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Faults:  # type: ignore[no-untyped-def]
    root, logs = Path(stack.root), tmp_path_factory.mktemp("stack_faults")
    sets = (f"lake.catalog={stack_catalog}", *stack.set_flags())
    seen: dict[str, Any] = {}  # each attempt logs into its own folder: start_job appends to <run id>.out

    # 1. the REST catalog dies between image_cpu's staged write and its publish
    t0 = time.monotonic()
    job = start_job(lake_home, logs / "catalog_fault", NS, RUN, master="local[2]", sets=sets, env=object_store.credentials_env())
    try:
        staged = wait_for("a staged, unpublished image_cpu snapshot", lambda: _staged_unpublished(stack, "signals_image_cpu"), job, JOB_TIMEOUT, every=0.1)
        os.killpg(devstack.load(root).catalog.pid, signal.SIGKILL)
        seen["catalog_killed_at_s"] = round(time.monotonic() - t0, 1)
        killed = time.monotonic()
        seen["catalog_rc"] = job.wait(JOB_TIMEOUT)
        seen["catalog_fail_s"] = round(time.monotonic() - killed, 1)
    finally:
        job.kill()
    seen["catalog_staged"], seen["catalog_error"], seen["catalog_stderr"] = staged, _error_line(job.out() + job.err()), job.err()[-4000:]
    current, seen["catalog_restart_s"] = devstack.restart_catalog(root)
    seen["catalog_uri"] = current.catalog.uri
    meta = _meta(current, "signals_image_cpu")
    seen["after_catalog_staged"], seen["after_catalog_published"] = _staged_unpublished(current, "signals_image_cpu"), published_in(meta, RUN)

    # 2. the object store dies while image_models runs (its progress line says it started) and is
    # back STORE_DOWN_S later. Left down, the job does not fail: the REST catalog waits on the
    # store and the job on the catalog (no read timeout), so the outage is bounded here.
    t0 = time.monotonic()
    job = start_job(lake_home, logs / "store_fault", NS, RUN, master="local[2]", sets=sets, env=object_store.credentials_env())
    killed = None
    try:
        wait_for("image_models to start", lambda: "stage image_models: started" in job.out(), job, JOB_TIMEOUT, every=0.1)
        seen["store_cpu_published"] = published_in(_meta(current, "signals_image_cpu"), RUN)
        os.killpg(devstack.load(root).store.pid, signal.SIGKILL)
        killed = time.monotonic()
        seen["store_killed_at_s"] = round(killed - t0, 1)
        time.sleep(STORE_DOWN_S)
        current, seen["store_restart"] = devstack.restart_store(root)
        seen["store_down_s"] = round(time.monotonic() - killed, 1)
        seen["store_rc"] = job.wait(JOB_TIMEOUT)
        seen["store_done_s"] = round(time.monotonic() - killed, 1)
    finally:
        job.kill()
        if killed is not None and "store_restart" not in seen:  # the session's later tests need the store back
            current, seen["store_restart"] = devstack.restart_store(root)
    seen["store_endpoint"] = current.store.endpoint
    seen["store_error"], seen["store_stderr"], seen["store_stdout"] = _error_line(job.out() + job.err()), job.err()[-4000:], job.out()

    # 3. the same run id again, in-process: what a user or an Airflow retry does
    overrides = [f"namespace={NS}", "tracking.enabled=false", f"lake.catalog={stack_catalog}", "lake.buckets=4", *stack.set_flags()]
    loaded = recipes.load(REPO / "conf" / "z_image.yaml", overrides)
    t0 = time.monotonic()
    result = Runner(loaded, run_id=RUN, spark=spark).run()
    seen["rerun_s"] = round(time.monotonic() - t0, 1)
    print({k: v for k, v in seen.items() if not k.endswith(("stderr", "stdout"))})
    return Faults(result, seen)


@pytest.fixture(scope="module")
def stack_run(faults: Faults) -> RunResult:
    """The attempt that completed the run on the stack (attempt 3 of :func:`faults`)."""
    return faults.result


def test_catalog_killed_at_commit_fails_naming_it_and_leaves_main_untouched(faults: Faults) -> None:
    seen = faults.seen
    assert seen["catalog_rc"] == 2, seen["catalog_stderr"]
    expected = f"error: the REST catalog at {seen['catalog_uri']} stopped answering during step 'image_cpu' ("
    assert seen["catalog_error"].startswith(expected), seen["catalog_error"] or seen["catalog_stderr"]
    assert seen["catalog_error"].endswith(f"re-run with the same --run-id {RUN}"), seen["catalog_error"]
    assert seen["catalog_staged"] == [f"{RUN}.image_cpu.1of1"]
    # after the restart (same SQLite file): the staged chunk is there, staged only; main never saw it
    assert seen["after_catalog_staged"] == [f"{RUN}.image_cpu.1of1"] and seen["after_catalog_published"] == []


def test_store_stopped_mid_stage_is_ridden_out_or_named_and_restarts_with_its_objects(faults: Faults) -> None:
    seen = faults.seen
    assert seen["store_cpu_published"], "image_cpu was not published before image_models started"
    # the job outlived the outage (its S3 calls retried until the store was back) or said which server it lost
    assert seen["store_rc"] in (0, 2), (seen["store_rc"], seen["store_error"], seen["store_stderr"])
    if seen["store_rc"] == 2:
        expected = f"error: the object store at {seen['store_endpoint']} stopped answering during step 'image_models' ("
        assert seen["store_error"].startswith(expected), seen["store_error"] or seen["store_stderr"]
    # the restarted store served every object back: attempt 3 read them (the table comparisons below)
    assert seen["store_restart"].replayed > 0 and seen["store_restart"].store.port == int(seen["store_endpoint"].rsplit(":", 1)[1])


def test_no_half_commit_is_visible_on_main(faults: Faults, stack: devstack.Stack) -> None:
    """Every snapshot on main is a published stage chunk of the run (or dedup_keys' lineage-tagged
    MERGE, which is not staged), each chunk published once; the two killed attempts added none."""
    catalog = _pyiceberg(stack)
    chunks: list[tuple[str, str, str]] = []
    for _, table in catalog.list_tables(NS):
        if is_lease_table(table):
            continue
        for snap in main_history(catalog.load_table(f"{NS}.{table}").metadata):
            props = snap.summary.additional_properties if snap.summary else {}
            chunk = chunk_of(snap, RUN)
            if chunk is not None:
                chunks.append((table, chunk.stage, chunk.chunk))
            else:
                assert table == "dedup_keys" and props.get(f"{PREFIX}run-id") == RUN and "wap.id" not in props, (table, snap.snapshot_id, props)
    assert len(chunks) == len(set(chunks)), chunks
    assert {(t, s) for t, s, _ in chunks} >= {("samples", "ingest"), ("signals_image_cpu", "image_cpu"), ("signals_image_models", "image_models")}
    # the chunk the catalog's death left staged is still outside main; its re-run was published instead
    assert f"{RUN}.image_cpu.1of1" in _staged_unpublished(stack, "signals_image_cpu")


def _rows(df: DataFrame) -> list[tuple[object, ...]]:
    return sorted(tuple(map(repr, r)) for r in df.collect())


def _tables(spark: SparkSession, catalog: str) -> set[str]:
    # lease tables are named by attempt (each attempt takes the next generation): not the run's output
    return {r.tableName for r in spark.sql(f"SHOW TABLES IN {catalog}.{NS}").collect() if not is_lease_table(r.tableName)}


def test_every_table_equals_the_embedded_run(stack_run, first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, embedded = first_run
    assert [(s.stage, s.rows_in, s.rows_out) for s in stack_run.stages] == [(s.stage, s.rows_in, s.rows_out) for s in embedded.stages]
    local, remote = _tables(spark, "lake"), _tables(spark, CATALOG)
    assert remote == local and "samples" in remote
    for table in sorted(remote):
        a, b = spark.table(f"lake.{NS}.{table}"), spark.table(f"{CATALOG}.{NS}.{table}")
        assert a.schema == b.schema, table
        assert _rows(b) == _rows(a), table
    files = spark.sql(f"SELECT file_path FROM {CATALOG}.{NS}.samples.files").collect()
    assert files and all(f.file_path.startswith(devstack.WAREHOUSE + "/") for f in files)


def test_runs_reads_the_rest_catalog_with_pyiceberg(stack_run, stack: devstack.Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for key, value in object_store.credentials_env().items():
        monkeypatch.setenv(key, value)
    (run,) = runs(NS, stack.lake_settings(catalog=CATALOG, buckets=4))
    assert run.run_id == RUN and run.stages == [s.stage for s in stack_run.stages]
