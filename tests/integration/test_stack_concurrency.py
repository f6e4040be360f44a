"""Concurrent runs on the dev stack: two crawls ingested and deduplicated into one namespace at once.

Three real ``spark-mm run`` processes (each its own JVM, as users and schedulers start them) write
into one namespace of the stack's REST catalog, tables on its S3 store:

- ``run-a`` ingests crawl A; 2 s later ``run-b`` ingests crawl B, whose first ``DUPS`` documents
  repeat A's texts under other ids; 2 s after that ``run-a`` is started again.
- Both recipes run the exact and the MinHash dedup steps, which ``MERGE`` their kept keys into the
  one ``dedup_keys`` table.

The runs take turns through the namespace lease (a ``CREATE TABLE`` compare-and-swap on the REST
server, docs/operations.md "Concurrency"), so their MERGEs never interleave: both exit 0, exactly
one waited for the other, and the second ``run-a`` fails fast ("already running", exit 2) having
committed nothing. The tables are then compared with a serial run of the same two crawls in the
same order, in this process on the embedded catalog: every dedup signal and every ``dedup_keys`` row
equal, no key lost or stored twice, and the cross-crawl duplicates found in the run that went second.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.devstack import object_store
from spark_mm.devstack import stack as devstack
from spark_mm.engine.runner import Runner
from spark_mm.lake.inspect import lineage, runs
from spark_mm.lake.lease import is_lease_table
from spark_mm.lake.settings import LakeSettings

REPO = Path(__file__).resolve().parents[2]
NS = "conc_stack"
SERIAL_NS = "conc_serial"  # the serial baseline, on the session's embedded catalog
DOCS, DUPS = 30, 8
DEDUP_TABLES = ("dedup_text_exact", "dedup_text_minhash")
RUN_TIMEOUT_S = 600
WORDS = "river stone cloud paper lamp orchard violin harbor meadow copper lantern thunder glacier pepper window canyon".split()


def _recipe(data: Path) -> dict[str, object]:
    return {
        "job": "concurrency",
        "namespace": NS,
        "source": {"type": "jsonl", "path": str(data)},
        "stages": [{"name": "text", "ops": [{"op": "txt_minhash"}]}],
        "dedup": [
            {"name": "text_exact", "method": "exact", "column": "txt_exact_key"},
            {"name": "text_minhash", "method": "minhash", "column": "txt_minhash_bands", "keep": {"kind": "smallest_id"}},
        ],
        "lake": {"buckets": 4},
        "spark": {"master": "local[1]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "1"}},
        "tracking": {"enabled": False},
    }


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(n)]


def _write_crawls(root: Path) -> dict[str, Path]:
    """Crawl A and crawl B (its first DUPS texts are A's, under B's own ids and URLs)."""
    a_texts = _texts(1, DOCS)
    b_texts = a_texts[:DUPS] + _texts(2, DOCS - DUPS)
    crawls = {}
    for name, texts in (("a", a_texts), ("b", b_texts)):
        folder = root / f"crawl_{name}"
        folder.mkdir()
        with (folder / "part-0.jsonl").open("w") as f:  # the same file name in both crawls
            for i, text in enumerate(texts):
                f.write(json.dumps({"id": f"{name}-{i}", "text": text, "url": f"https://{name}.example.com/{i}"}) + "\n")
        crawls[name] = folder
    return crawls


@dataclass
class Proc:
    name: str
    run_id: str
    proc: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def concurrent(stack: devstack.Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """run-a (crawl A), run-b (crawl B) 2 s later, run-a again 2 s after that; all waited for (bounded)."""
    root = tmp_path_factory.mktemp("stack_concurrency")
    logs = root / "logs"
    logs.mkdir()
    crawls = _write_crawls(root)
    recipes_by_crawl = {}
    for name, folder in crawls.items():
        path = root / f"recipe_{name}.yaml"
        path.write_text(yaml.safe_dump(_recipe(folder)))
        recipes_by_crawl[name] = path
    env = dict(os.environ, SPARK_MM_HOME=str(root / "home"), PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **object_store.credentials_env())
    sets = [a for flag in stack.set_flags() for a in ("--set", flag)]

    def start(name: str, crawl: str, run_id: str) -> Proc:
        log = logs / f"{name}.log"
        with log.open("w") as out:
            cmd = [sys.executable, "-m", "spark_mm.cli", "run", str(recipes_by_crawl[crawl]), *sets, "--run-id", run_id]
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=REPO, start_new_session=True)
        return Proc(name, run_id, proc, log)

    started = time.monotonic()
    procs = [start("a", "a", "run-a")]
    time.sleep(2)
    procs.append(start("b", "b", "run-b"))
    time.sleep(2)
    procs.append(start("a_again", "a", "run-a"))
    try:
        for p in procs:
            p.proc.wait(timeout=max(1.0, RUN_TIMEOUT_S - (time.monotonic() - started)))
    finally:
        for p in procs:
            if p.proc.poll() is None:
                os.killpg(p.proc.pid, 9)
                p.proc.wait(timeout=60)
    wall = time.monotonic() - started
    print(f"\nthree concurrent runs on the stack took {wall:.1f} s")
    return {"procs": {p.name: p for p in procs}, "crawls": crawls, "wall_s": wall}


@pytest.fixture(scope="module")
def order(concurrent: dict[str, object]) -> list[str]:
    """The crawls in the order their runs held the lease (the one that waited went second)."""
    procs = concurrent["procs"]
    # the two run-a processes: whichever was refused, the other is crawl A's run
    a = next((p for p in (procs["a"], procs["a_again"]) if p.proc.returncode == 0), procs["a"])  # type: ignore[index]
    b = procs["b"]  # type: ignore[index]
    for p in (a, b):
        assert p.proc.returncode == 0, f"{p.name} exited {p.proc.returncode}:\n{p.output()[-4000:]}"
    waited = [p for p in (a, b) if f"waiting for the lease on {NS} held by run " in p.output()]
    assert len(waited) == 1, "exactly one of the two runs waits for the other:\n" + "\n---\n".join(p.output()[-2000:] for p in (a, b))
    first = b if waited[0] is a else a
    assert f"held by run {first.run_id} (" in waited[0].output()
    return ["a" if first is a else "b", "a" if waited[0] is a else "b"]


@pytest.fixture(scope="module")
def serial(order: list[str], concurrent: dict[str, object], spark: SparkSession) -> list[str]:
    """The same two runs one after the other, in the same order, into the embedded catalog."""
    crawls = concurrent["crawls"]
    for crawl in order:
        raw = _recipe(crawls[crawl])  # type: ignore[index]
        raw["namespace"] = SERIAL_NS
        Runner(recipes.from_mapping(raw), run_id=f"run-{crawl}", spark=spark).run()
    return order


def _rows(spark: SparkSession, table: str, columns: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in spark.sql(f"SELECT {columns} FROM {table}").collect())


def test_two_crawls_take_turns_and_every_table_has_one_row_per_sample(order: list[str], stack: devstack.Stack, stack_catalog: str, spark: SparkSession) -> None:
    tables = {r.tableName for r in spark.sql(f"SHOW TABLES IN {stack_catalog}.{NS}").collect() if not is_lease_table(r.tableName)}
    assert tables == {"samples", "signals_text", "dedup_keys", *DEDUP_TABLES}, tables
    for table in sorted(tables - {"dedup_keys"}):
        ids = [r[0] for r in spark.sql(f"SELECT sample_id FROM {stack_catalog}.{NS}.{table}").collect()]
        assert len(ids) == len(set(ids)) == 2 * DOCS, f"{table}: {len(ids)} rows for {len(set(ids))} ids, expected {2 * DOCS}"
    # Each run added its own crawl, once: one publish per stage table, DOCS rows.
    settings = stack.lake_settings(buckets=4)
    with _stack_env():
        for table in ("samples", "signals_text"):
            for run_id in ("run-a", "run-b"):
                added = [s.added_records or 0 for s in lineage(f"{NS}.{table}", settings) if s.status == "main" and s.run_id == run_id]
                assert added == [DOCS], f"{table} {run_id}: {added}"
        found = {r.run_id for r in runs(NS, settings)}
    assert {"run-a", "run-b"} <= found


def test_cross_crawl_duplicates_and_dedup_keys_equal_the_serial_run(serial: list[str], stack_catalog: str, spark: SparkSession) -> None:
    second = serial[1]
    for table in DEDUP_TABLES:
        cols = "sample_id, dup_keep, dup_reason"
        got = _rows(spark, f"{stack_catalog}.{NS}.{table}", cols)
        assert got == _rows(spark, f"lake.{SERIAL_NS}.{table}", cols), table
        urls = dict(spark.sql(f"SELECT sample_id, url FROM {stack_catalog}.{NS}.samples").collect())
        dropped = sorted(urls[s] for s, keep, _ in got if not keep)
        assert dropped == sorted(f"https://{second}.example.com/{i}" for i in range(DUPS)), (table, dropped)
        assert {r for _, k, r in got if not k} == {"history"}, table
    # No key lost, none stored twice: every kept sample's keys once, exactly the serial run's rows.
    keys = _rows(spark, f"{stack_catalog}.{NS}.dedup_keys", "key_type, hex(key), sample_id, first_seen_run")
    assert keys == _rows(spark, f"lake.{SERIAL_NS}.dedup_keys", "key_type, hex(key), sample_id, first_seen_run")
    assert len(keys) == len(set(keys))
    kept = {s for s, keep, _ in _rows(spark, f"{stack_catalog}.{NS}.dedup_text_exact", "sample_id, dup_keep, dup_reason") if keep}
    assert {s for t, _, s, _ in keys if t == "txt_exact_key"} == kept


def test_same_run_id_twice_at_once_fails_fast_and_writes_nothing_twice(concurrent: dict[str, object], serial: list[str], stack: devstack.Stack) -> None:
    serial_settings = LakeSettings(buckets=4)
    procs = concurrent["procs"]
    pair = (procs["a"], procs["a_again"])  # type: ignore[index]
    assert sorted(p.proc.returncode for p in pair) == [0, 2], "\n---\n".join(p.output()[-3000:] for p in pair)
    text = next(p for p in pair if p.proc.returncode == 2).output()
    assert f"error: run run-a is already running on namespace {NS!r}" in text, text[-3000:]
    assert f"spark-mm unlock {NS}" in text
    # Nothing written twice: per table, the commits on main (run id, rows added) are the serial run's.
    with _stack_env():
        settings = stack.lake_settings(buckets=4)
        for table in ("samples", "signals_text", *DEDUP_TABLES, "dedup_keys"):
            got = [(s.run_id, s.added_records) for s in lineage(f"{NS}.{table}", settings) if s.status == "main"]
            want = [(s.run_id, s.added_records) for s in lineage(f"{SERIAL_NS}.{table}", serial_settings) if s.status == "main"]
            assert got == want, table


class _stack_env:
    """The store's credentials in this process's environment while pyiceberg reads the stack."""

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in object_store.credentials_env()}
        os.environ.update(object_store.credentials_env())

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
