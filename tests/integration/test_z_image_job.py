"""The z_image job end to end on the embedded sample: tables, lineage, idempotent re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner
from spark_mm.lake.settings import LakeSettings
from spark_mm.sources.ids import record_id
from spark_mm.sources.sample import build_rows

REPO = Path(__file__).resolve().parents[2]
LINEAGE_KEYS = ["run-id", "job", "recipe-sha256", "code-version", "stage", "ops", "input"]


def test_every_record_accounted_for(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, result = first_run
    n = len(build_rows())
    ingest, cpu, models, near_dups = result.stages
    assert (ingest.rows_in, ingest.rows_out) == (n, n)
    assert (cpu.rows_in, cpu.rows_out) == (n, n)
    assert (models.rows_in, models.rows_out) == (n, n)
    assert (near_dups.stage, near_dups.rows_in, near_dups.rows_out) == ("dedup_image_phash", n, n)
    assert set(result.skipped_models["image_models"]) == {"img_clip@1", "img_aesthetic@1", "img_siglip2@1"}
    assert spark.sql("SELECT count(*) FROM zi.samples").first()[0] == n
    assert spark.sql("SELECT count(DISTINCT sample_id) FROM zi.signals_image_cpu").first()[0] == n


def test_signals_and_error_rows(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    rows = {
        r["key"]: r
        for r in spark.sql(
            "SELECT s.source_record_id AS key, g.img_width, g.img_height, g.img_format, g.errors, "
            "g.img_quality_filter_ok AS q_ok, g.img_quality_filter_reason AS q_reason "
            "FROM zi.samples s JOIN zi.signals_image_cpu g USING (sample_id)"
        ).collect()
    }
    astro = rows["astronaut/original"]
    assert (astro.img_width, astro.img_height, astro.img_format) == (512, 512, "png")
    assert astro.errors == {}
    assert rows["coffee/webp_q80"].img_format == "webp"
    assert rows["corrupt/random_bytes"].errors["img_meta"].startswith("unrecognised image format")
    assert rows["corrupt/empty"].errors["img_meta"] == "empty payload"
    assert rows["corrupt/null_payload"].errors["img_meta"] == "null image payload"
    assert set(rows["corrupt/empty"].errors) >= {"img_meta", "img_signals"}
    assert "decompression-bomb guard" in rows["corrupt/png_bomb_header"].errors["img_meta"]
    assert rows["corrupt/png_bomb_header"].img_width == 60000  # header signals kept
    # no corrupt payload passes the quality filter (its header alone may look fine)
    corrupt = {k: (r.q_ok, r.q_reason) for k, r in rows.items() if k.startswith("corrupt/")}
    assert corrupt["corrupt/truncated_jpeg"] == (False, "decode_error")
    assert corrupt["corrupt/null_payload"] == (False, "missing_input")
    assert all(v == (False, "decode_error") for k, v in corrupt.items() if k != "corrupt/null_payload"), corrupt


def test_sample_ids_are_stable_and_match_python(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    got = {r[0]: r[1] for r in spark.sql("SELECT source_record_id, sample_id FROM zi.samples").collect()}
    assert got["astronaut/original"] == record_id("sample_images/seed=0", "astronaut/original")


def test_lineage_on_every_commit(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    loaded, _ = first_run
    for table in ("samples", "signals_image_cpu"):
        summaries = [r[0] for r in spark.sql(f"SELECT summary FROM zi.{table}.snapshots").collect()]
        ours = [s for s in summaries if s.get("spark-mm.run-id") == "run-1"]
        assert len(ours) == 1
        s = ours[0]
        assert all(f"spark-mm.{k}" in s for k in LINEAGE_KEYS)
        assert s["spark-mm.job"] == "z_image"
        assert s["spark-mm.recipe-sha256"] == loaded.sha256
    cpu = spark.sql("SELECT summary FROM zi.signals_image_cpu.snapshots").first()[0]
    assert cpu["spark-mm.ops"] == "img_meta@1,img_signals@3,img_quality_filter@2"
    samples_snap = spark.sql("SELECT snapshot_id FROM zi.samples.snapshots").first()[0]
    assert cpu["spark-mm.input"] == f"lake.zi.samples@{samples_snap}"
    ingest = spark.sql("SELECT summary FROM zi.samples.snapshots").first()[0]
    assert ingest["spark-mm.input"].startswith("parquet:") and "sha256=" in ingest["spark-mm.input"]


def test_same_run_id_never_appends_twice(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    loaded, _ = first_run
    before = spark.sql("SELECT count(*) FROM zi.signals_image_cpu.snapshots").first()[0]
    again = Runner(loaded, run_id="run-1", spark=spark).run()
    assert all(s.skipped for s in again.stages)
    assert spark.sql("SELECT count(*) FROM zi.signals_image_cpu.snapshots").first()[0] == before
    assert spark.sql("SELECT count(*) FROM zi.samples").first()[0] == len(build_rows())


def test_new_run_on_same_data_adds_no_rows(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    loaded, _ = first_run
    result = Runner(loaded, run_id="run-2", spark=spark).run()
    assert [s.rows_out for s in result.stages] == [0, 0, 0, 0]
    assert result.stages[0].rows_in == len(build_rows())
    assert spark.sql("SELECT count(*) FROM zi.signals_image_cpu").first()[0] == len(build_rows())


def test_tables_readable_with_pyiceberg(first_run) -> None:  # type: ignore[no-untyped-def]
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog("lake", **LakeSettings().pyiceberg_properties())
    table = catalog.load_table("zi.signals_image_cpu")
    arrow = table.scan(selected_fields=("sample_id", "img_width")).to_arrow()
    assert arrow.num_rows == len(build_rows())
    spec = table.spec()
    assert [f.transform.__class__.__name__ for f in spec.fields] == ["BucketTransform"]
    summaries = [s.summary for s in table.snapshots()]
    assert any(s.additional_properties.get("spark-mm.run-id") == "run-1" for s in summaries if s)


def test_bad_recipe_fails_before_spark_writes(spark: SparkSession) -> None:
    with pytest.raises(recipes.RecipeError, match=r"stages\[0\]\.ops\[0\]\.max_pixel: unknown key"):
        recipes.load(REPO / "conf" / "z_image.yaml", ["namespace=never_made", "stages.0.ops.0.max_pixel=5"])
    assert spark.sql("SHOW NAMESPACES").where("namespace = 'never_made'").count() == 0


def test_sample_variants_are_near_duplicates(first_run, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    rows = spark.sql(
        "SELECT s.source_record_id AS key, d.dup_cluster_id, d.dup_keep FROM zi.samples s JOIN zi.dedup_image_phash d USING (sample_id)"
    ).collect()
    cluster = {r.key: r.dup_cluster_id for r in rows}
    keep = {r.key: r.dup_keep for r in rows}
    for base in ("astronaut", "coffee", "rocket"):
        assert cluster[f"{base}/jpeg_q95"] == cluster[f"{base}/jpeg_q95_copy"] == cluster[f"{base}/webp_q80"] == cluster[f"{base}/resize_half"]
        members = [k for k in cluster if k.startswith(f"{base}/") and cluster[k] == cluster[f"{base}/jpeg_q95"]]
        assert sum(keep[k] for k in members) == 1
    assert cluster["astronaut/jpeg_q95"] != cluster["coffee/jpeg_q95"]
