"""Fault tests: the driver killed mid-run (z_image on local-cluster), the downloader's driver killed
between two chunk commits (jobs/download.py on local[2]). A worker (and its executor) killed
mid-stage is tested on the Spark standalone cluster: tests/integration/test_standalone_cluster.py.

Each job is ``spark-submit jobs/<job>.py`` in its own process group (as a user or Airflow runs
it), writing into the session's lake home. A clean run of the same recipe in another namespace is
the baseline: the faulted runs must end with tables equal to it (row counts and a content checksum
over every column except the run ids), with every stage chunk published exactly once.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from spark_mm.download.batches import VOLATILE_META, fetch_batches
from spark_mm.download.settings import FetchSettings
from spark_mm.sources.ids import link_sample_id
from tests.download.links import link, samples, write_links
from tests.download.server import ImageServer

from .jobs import CLUSTER, Job, chunk_counts, fingerprint, gpu_discovery_script, published, snapshots_with_wap, start_job, wait_for

pytestmark = pytest.mark.cluster

CHUNKS = 4
# Dedup has its own retry tests (tests/integration/test_dedup_job.py); leaving it out here keeps
# each of the three spark-submit runs about a minute shorter.
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


# The download job: 26 links in 2 chunks of ~13; 2 connections per host and 0.15 s per image make a
# chunk's fetch take about a second (its commit a few more), so the driver is killed with chunk 2
# still to come. Two chunks, not more: each costs seconds of Spark jobs on a loaded 2-core machine.
DOWNLOAD_FETCH = {
    "connect_timeout_s": 2.0, "read_timeout_s": 0.6, "total_timeout_s": 4.0, "max_retries": 0,
    "max_connections_per_host": 2, "max_requests_per_s_per_host": 1000.0,
}
DOWNLOAD_SETS = (
    "source.namespace=rel_dl_links", "source.where=laion_alt_ok", "source.chunk_links=13", "source.fetch_tasks=1",
    *(f"source.fetch.{k}={v}" for k, v in DOWNLOAD_FETCH.items()),
)
DOWNLOAD_TIMEOUT = 300
# Both driver JVMs live for seconds: C1 only (no C2 compiles competing for the 2 cores) roughly
# halved the resumed run's ingest here (15 s against 38 s at a load average of 5-9).
SHORT_JVM = ("spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1",)


def _download_rows(spark: SparkSession, namespace: str) -> set[tuple]:
    """Every sample's content, run ids and fetch timings left out: equal for equal downloads."""
    out = set()
    for r in samples(spark, namespace).collect():
        meta = tuple(sorted((k, v) for k, v in (r.record_meta or {}).items() if k not in VOLATILE_META))
        out.add((r.sample_id, r.source_record_id, r.url, r.caption, bytes(r.image) if r.image else None, r.mime_type, r.ingest_error, meta))
    return out


def test_download_killed_after_a_chunk_resumes_without_refetching(
    spark: SparkSession, lake_home: Path, workdir: Path, jobs: list[Job],
) -> None:
    """SIGKILL ``jobs/download.py`` once a chunk is published; the same run id again fetches only the rest,
    and the table ends equal to an uninterrupted fetch of every link."""
    ns, run = "rel_dl", "dl-kill-1"
    started = time.monotonic()
    server = ImageServer().start()
    try:
        links = [link(f"d{i:02d}", server.url(f"/hold/{i}"), alt=f"image {i}", page=f"p{i % 3}", position=i) for i in range(24)]
        links += [link("d-404", server.url("/status/404"), position=98), link("d-slow", server.url("/slow/3"), position=99)]
        write_links(spark, "rel_dl_links", links)
        first = start_job(lake_home, workdir / "logs", ns, run, master="local[2]", job="download", sets=DOWNLOAD_SETS, spark_conf=SHORT_JVM)
        jobs.append(first)
        wait_for("a first download chunk to be published", lambda: published(lake_home, ns, "samples", run), first, DOWNLOAD_TIMEOUT, every=0.2)
        killed_at = time.monotonic() - started
        first.kill()  # SIGKILL driver and Python workers: no shutdown hooks, fetches in flight lost
        before = published(lake_home, ns, "samples", run)
        assert len(before) == 1, f"wanted a partly published download, got {before}"
        committed = {r.sample_id: r.url.split(str(server.port), 1)[1] for r in samples(spark, ns).collect()}
        assert 0 < len(committed) < len(links)
        hits_at_kill = dict(server.state.hits)

        second = start_job(lake_home, workdir / "logs", ns, run, master="local[2]", job="download", sets=DOWNLOAD_SETS, spark_conf=SHORT_JVM)
        jobs.append(second)
        rc = second.wait(DOWNLOAD_TIMEOUT)
        assert rc == 0, second.err()[-4000:]
        resumed_at = time.monotonic() - started
        ingest = next(line for line in second.out().splitlines() if line.startswith("ingest "))
        assert f"{len(committed)} already in the table ({len(committed)} committed by this run before it resumed)" in ingest, ingest
        for path in committed.values():  # fetched once, before the kill: never again
            assert server.state.hits[path] == 1, f"{path} was fetched again after its chunk was committed"
        refetched = {p for p, n in server.state.hits.items() if n > hits_at_kill.get(p, 0)}
        assert refetched and not refetched & set(committed.values())
        after = published(lake_home, ns, "samples", run)
        assert after[: len(before)] == before and len({p.chunk for p in after}) == len(after)  # no WAP id reused
        table = samples(spark, ns)
        assert table.count() == table.select("sample_id").distinct().count() == len(links)

        # The clean run: every link fetched once, uninterrupted, by the function the job's tasks run
        # (fetch_batches; no second Spark ingest: it cost 5-30 s here), ids computed in Python.
        rows = [
            {"sample_id": link_sample_id(lid), "link_id": lid, "page_sample_id": page, "page_url": purl, "url": url,
             "alt": alt, "title": title, "position": pos}
            for lid, page, purl, url, alt, title, pos, ok, _ in links if ok
        ]
        batches = fetch_batches(iter([pa.RecordBatch.from_pylist(rows)]), FetchSettings(**DOWNLOAD_FETCH), "iceberg:lake.rel_dl_links.image_links", "clean")
        baseline = set()
        for r in (r for b in batches for r in b.to_pylist()):
            meta = tuple(sorted((k, v) for k, v in r["record_meta"] if k not in VOLATILE_META))
            baseline.add((r["sample_id"], r["source_record_id"], r["url"], r["caption"], r["image"], r["mime_type"], r["ingest_error"], meta))
        resumed = _download_rows(spark, ns)
        assert resumed == baseline
        assert {r[6] for r in resumed} == {None, "http_status", "timeout"}
        print(f"download killed at {killed_at:.0f}s with {len(before)} chunk published ({len(committed)} links); resumed run done at "
              f"{resumed_at:.0f}s, compared with a clean fetch at {time.monotonic() - started:.0f}s: {ingest.strip()}")
    finally:
        server.stop()
