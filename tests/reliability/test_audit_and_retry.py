"""Write-audit-publish and idempotent runs, through the job's CLI in this process (the session-wide
Spark of tests/conftest.py, so no extra JVM start).

- A failed audit fails the job with the check and the numbers, and leaves ``main`` untouched: the
  staged snapshot exists but is not an ancestor of the current one. Re-running the run id with a
  higher ceiling publishes the new attempt, not the refused one.
- Retrying a finished run appends nothing; a second run over a source with one more file appends
  only the new file's rows and leaves the earlier rows as they were.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from pyspark.sql import SparkSession

from spark_mm import cli
from spark_mm.lake.lease import is_lease_table
from spark_mm.sources.sample import ensure_sample

from .jobs import REPO, fingerprint, snapshots_with_wap

BASE = ("--set", "lake.buckets=4", "--set", "tracking.enabled=false")


def run_cli(recipe: Path, namespace: str, run_id: str, *sets: str) -> int:
    args = ["run", str(recipe), "--run-id", run_id, *BASE, "--set", f"namespace={namespace}"]
    for s in sets:
        args += ["--set", s]
    return cli.main(args)


def snapshot_rows(spark: SparkSession, table: str) -> list[tuple[int, int]]:
    spark.sql(f"REFRESH TABLE {table}")
    return [(int(r[0]), int(r[1] or 0)) for r in spark.sql(f"SELECT snapshot_id, summary['added-records'] FROM {table}.snapshots ORDER BY committed_at").collect()]


@pytest.fixture(scope="module")
def image_cpu_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conf/z_image.yaml with only its CPU stage: the audit under test is the stage's, models add nothing."""
    raw = yaml.safe_load((REPO / "conf" / "z_image.yaml").read_text())
    raw["stages"] = raw["stages"][:1]
    raw.pop("dedup", None)
    path = tmp_path_factory.mktemp("recipes") / "z_image_cpu.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_failed_audit_leaves_main_untouched_and_retry_publishes_new_attempt(
    spark: SparkSession, lake_home: Path, image_cpu_recipe: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ns, run = "rel_audit", "audit-1"
    table = f"lake.{ns}.signals_image_cpu"
    rc = run_cli(image_cpu_recipe, ns, run, "run.max_error_rate=0.01")
    err = capsys.readouterr().err
    assert rc == 2, err[-3000:]
    m = re.search(r"stage 'image_cpu' chunk 1/1 \(\S+\): error-rate check failed: (\d+) of (\d+) rows have errors \((\d+\.\d)%\) > max_error_rate 1\.0%", err)
    assert m, err[-3000:]
    errors, rows = int(m.group(1)), int(m.group(2))
    assert rows == 156 and 0.01 < errors / rows < 0.1 and m.group(3) == f"{100 * errors / rows:.1f}"

    # main untouched: nothing published; the refused attempt is staged, outside the current history.
    spark.sql(f"REFRESH TABLE {table}")
    assert spark.table(table).count() == 0
    assert spark.sql(f"SELECT count(*) FROM {table}.history").first()[0] == 0
    staged, ancestry = snapshots_with_wap(lake_home, ns, "signals_image_cpu")
    assert [w for _, w in staged] == [f"{run}.image_cpu.1of1"] and not ancestry
    refused = staged[0][0]
    # The staged rows are exactly what the audit counted.
    got = spark.sql(f"SELECT count(*), sum(CAST(size(errors) > 0 AS INT)) FROM {table} VERSION AS OF {refused}").first()
    assert (got[0], got[1]) == (rows, errors)
    assert spark.table(f"lake.{ns}.samples").count() == rows  # ingest passed its own audit and was published

    # Same run id, ceiling raised: ingest is skipped, the stage is written again, audited, published.
    rc = run_cli(image_cpu_recipe, ns, run, "run.max_error_rate=0.1")
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    assert re.search(r"^ingest .*skipped: already committed by this run", out, re.M), out
    staged, ancestry = snapshots_with_wap(lake_home, ns, "signals_image_cpu")
    assert len(staged) == 2 and refused not in ancestry
    accepted = next(sid for sid, _ in staged if sid != refused)
    assert accepted in ancestry  # the audited attempt, not the refused one, is on main
    spark.sql(f"REFRESH TABLE {table}")
    assert spark.sql(f"SELECT count(*), count(DISTINCT sample_id), sum(CAST(size(errors) > 0 AS INT)) FROM {table}").first()[:] == (rows, rows, errors)


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory, lake_home: Path) -> tuple[Path, Path]:
    """A Parquet source folder with 12 sample rows, and 6 more rows to add as a second file later."""
    folder = tmp_path_factory.mktemp("src")
    sample = pq.read_table(ensure_sample())  # generated under the session's project home
    # Rows 40.. of the sample mix photos and variants; keep one corrupt payload in each file.
    corrupt = [i for i, v in enumerate(sample.column("base").to_pylist()) if v == "corrupt"]
    first = sample.take(list(range(40, 51)) + corrupt[:1])
    second = sample.take(list(range(60, 65)) + corrupt[1:2])
    pq.write_table(first, folder / "part-0.parquet")
    later = tmp_path_factory.mktemp("later") / "part-1.parquet"
    pq.write_table(second, later)
    return folder, later


def test_retry_appends_nothing_and_new_data_appends_only_new_rows(
    spark: SparkSession, source_dir: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    folder, later = source_dir
    ns = "rel_incr"
    src = ("source.type=parquet", f"source.path={folder}", "source.image_column=image", "source.caption_column=caption", "source.url_column=url")
    recipe = REPO / "conf" / "z_image.yaml"  # both stages and the dedup step

    assert run_cli(recipe, ns, "incr-a", *src) == 0, capsys.readouterr().err[-3000:]
    capsys.readouterr()
    tables = [r["tableName"] for r in spark.sql(f"SHOW TABLES IN lake.{ns}").collect() if not is_lease_table(r["tableName"])]
    assert {"samples", "signals_image_cpu", "signals_image_models"} <= set(tables)
    first = fingerprint(spark, ns)
    assert first["samples"][0] == first["signals_image_cpu"][0] == first["signals_image_models"][0] == 12
    snaps = {t: snapshot_rows(spark, f"lake.{ns}.{t}") for t in tables}

    # Retry of the finished run: every step is skipped, no table gets a snapshot that adds rows.
    assert run_cli(recipe, ns, "incr-a", *src) == 0
    out = capsys.readouterr().out
    for stage in ("ingest", "image_cpu", "image_models"):
        assert re.search(rf"^{stage} .*skipped: already committed by this run", out, re.M), out
    assert fingerprint(spark, ns) == first
    for t in tables:
        after = snapshot_rows(spark, f"lake.{ns}.{t}")
        assert after[: len(snaps[t])] == snaps[t]
        assert not [s for s in after[len(snaps[t]):] if s[1] > 0], f"retry appended to {t}: {after}"

    # A second run after a new file arrived: only the new file's rows are added, in every table.
    (folder / "part-1.parquet").write_bytes(later.read_bytes())
    assert run_cli(recipe, ns, "incr-b", *src) == 0, capsys.readouterr().err[-3000:]
    capsys.readouterr()
    second = fingerprint(spark, ns)
    for t in ("samples", "signals_image_cpu", "signals_image_models"):
        assert second[t][:2] == (18, 18), (t, second[t])
    new_ids = {r[0] for r in spark.sql(f"SELECT sample_id FROM lake.{ns}.samples WHERE source_uri LIKE '%part-1.parquet'").collect()}
    assert len(new_ids) == 6
    for t, col in (("samples", "ingest_run_id"), ("signals_image_cpu", "run_id"), ("signals_image_models", "run_id")):
        by_run = {r[0]: {x for x in r[1]} for r in spark.sql(f"SELECT {col}, collect_set(sample_id) FROM lake.{ns}.{t} GROUP BY 1").collect()}
        assert set(by_run) == {"incr-a", "incr-b"} and by_run["incr-b"] == new_ids, (t, {k: len(v) for k, v in by_run.items()})
        # Rows of the first run are untouched: same content checksum as before the second run.
        old = spark.sql(f"SELECT * FROM lake.{ns}.{t} WHERE {col} = 'incr-a'")
        old.createOrReplaceTempView("rel_old_rows")
        cols = [f"to_json(`{f.name}`)" if f.dataType.typeName() == "map" else f"`{f.name}`" for f in sorted(old.schema.fields, key=lambda f: f.name) if f.name not in ("run_id", "ingest_run_id")]
        r = spark.sql(f"SELECT count(*), count(DISTINCT sample_id), coalesce(sum(CAST(xxhash64({', '.join(cols)}) AS DECIMAL(38, 0))), 0) FROM rel_old_rows").first()
        assert (int(r[0]), int(r[1]), int(r[2])) == first[t], t
