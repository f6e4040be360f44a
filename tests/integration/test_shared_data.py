"""Real third-party inputs from ../shared/data through the real jobs (skipped when absent).

Each test gets the job it checks from a fixture, so any one of them runs alone or in any order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner, RunResult

REPO = Path(__file__).resolve().parents[2]
# Files that break naive decoders; two of them decode to valid pixels (see docs/image_signals.md).
DECODABLE_BROKEN = {"invalid-exif.jpg", "png_decompression_dos.png"}


@pytest.fixture(scope="module")
def image_files_run(spark: SparkSession, shared_data: Path) -> RunResult:
    """The z_image CPU stage and pHash dedup over every file of shared/data/images (namespace shared_img), once."""
    raw = yaml.safe_load((REPO / "conf" / "z_image.yaml").read_text())
    raw["stages"] = raw["stages"][:1]  # the CPU stage: decode, signals, hashes, quality filter
    raw["source"] = {"type": "image_files", "path": str(shared_data / "images")}
    loaded = recipes.from_mapping(raw, ["namespace=shared_img", "lake.buckets=4"])
    return Runner(loaded, run_id="shared-img", spark=spark).run()


@pytest.mark.shared_data
def test_every_image_file_accounted_for(image_files_run: RunResult, spark: SparkSession, shared_data: Path) -> None:
    images = shared_data / "images"
    result = image_files_run
    n_files = sum(1 for p in images.rglob("*") if p.is_file())
    ingest, cpu, near = result.stages
    assert ingest.rows_in == ingest.rows_out == n_files
    assert cpu.rows_in == cpu.rows_out == n_files
    assert near.rows_in == near.rows_out == n_files
    rows = spark.sql(
        "SELECT s.source_record_id AS f, g.errors, g.img_phash FROM shared_img.samples s JOIN shared_img.signals_image_cpu g USING (sample_id)"
    ).collect()
    broken = {Path(r.f).name: r for r in rows if r.f.startswith("broken/")}
    assert len(broken) == 8
    for name, row in broken.items():
        if name in DECODABLE_BROKEN:
            continue
        assert row.errors, f"{name} should carry an error message"
    photos = [r for r in rows if r.f.startswith("photos/")]
    assert photos and all(not r.errors and r.img_phash is not None for r in photos)


@pytest.mark.shared_data
def test_all_shared_warc_files_through_the_fineweb_job(spark: SparkSession, shared_data: Path) -> None:
    loaded = recipes.load(REPO / "conf" / "fineweb.yaml", ["namespace=shared_warc", "lake.buckets=4", f"source.path={shared_data / 'warc'}"])
    result = Runner(loaded, run_id="shared-warc", spark=spark).run()
    ingest, text, minhash = result.stages
    assert ingest.rows_in == ingest.rows_out == 91  # response, resource and conversion records (record_types default)
    assert text.rows_in == text.rows_out == ingest.rows_out
    assert (minhash.stage, minhash.rows_in, minhash.rows_out) == ("dedup_text_minhash", ingest.rows_out, ingest.rows_out)
    clipped = spark.sql(
        "SELECT ingest_error FROM shared_warc.samples WHERE source_uri LIKE '%resiliparse_clipped%' AND ingest_error IS NOT NULL"
    ).collect()
    assert clipped, "the truncated record must become an error row"
    kept = spark.sql("SELECT count(*) FROM shared_warc.signals_text WHERE txt_fineweb_ok AND txt_c4_ok AND txt_gopher_quality_ok").first()[0]
    assert kept > 0


@pytest.mark.shared_data
def test_real_image_variants_cluster_and_distinct_photos_do_not(image_files_run: RunResult, spark: SparkSession) -> None:
    """pHash near-dup clusters on real photos, from the image-files job's dedup table."""
    rows = spark.sql(
        "SELECT s.source_record_id AS f, d.dup_cluster_id AS c, d.dup_keep AS keep FROM shared_img.samples s JOIN shared_img.dedup_image_phash d USING (sample_id)"
    ).collect()
    cluster = {r.f: r.c for r in rows}
    same = [cluster[f"variants/hopper.{ext}"] for ext in ("bmp", "jpg", "png", "webp")]
    assert len(set(same)) == 1, same
    assert sum(r.keep for r in rows if r.c == same[0]) == 1
    distinct = ["photos/dj_cat.jpg", "photos/dj_blip.jpg", "photos/dj_img1.png", "photos/dj_img3.jpg"]
    assert len({cluster[f] for f in distinct}) == len(distinct)


@pytest.mark.shared_data
def test_all_shared_warc_files_through_the_refinedweb_job(spark: SparkSession, shared_data: Path) -> None:
    loaded = recipes.load(REPO / "conf" / "refinedweb.yaml", ["namespace=shared_rw", "lake.buckets=4", f"source.path={shared_data / 'warc'}"])
    result = Runner(loaded, run_id="shared-rw", spark=spark).run()
    ingest, text = result.stages[:2]
    assert ingest.rows_in == ingest.rows_out == 91  # response, resource and conversion records (record_types default)
    assert text.rows_in == text.rows_out == ingest.rows_out
    row = spark.sql(
        "SELECT count(*) AS n, count(txt_line_corrections_ok) AS decided, sum(CAST(txt_line_corrections_ok AS INT)) AS kept, "
        "sum(txt_line_corrections_lines_removed) AS lines FROM shared_rw.signals_text"
    ).first()
    assert row.n == ingest.rows_out and 0 < row.kept < row.decided and row.lines > 0
