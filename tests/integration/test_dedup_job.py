"""Dedup steps in a real job: near-duplicate clusters, cross-run history via dedup_keys (surviving a
changed radius), undecodable images not kept, candidate generation once per step, idempotent retries."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

import sys

import spark_mm.dedup
from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner
from spark_mm.sources.sample import _load

PHOTOS = ["astronaut.png", "coffee.png", "rocket.jpg", "chelsea.png"]


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, fmt, **kw)
    return buf.getvalue()


def variants(names: list[str], tag: str, broken: bool = False) -> pa.Table:
    keys, images = ([f"{tag}/broken"], [b"\xff\xd8 not a jpeg"]) if broken else ([], [])
    for name in names:
        _, img = _load(name)
        w, h = img.size
        for variant, payload in {
            "q90": encode(img, "JPEG", quality=90),
            "q40": encode(img, "JPEG", quality=40),
            "half": encode(img.resize((w // 2, h // 2)), "JPEG", quality=90),
            "png": encode(img, "PNG"),
        }.items():
            keys.append(f"{tag}/{name}/{variant}")
            images.append(payload)
    return pa.table({"key": keys, "image": pa.array(images, pa.binary())})


def recipe(path: Path, radius_bits: int) -> recipes.LoadedRecipe:
    return recipes.from_mapping(
        {
            "job": "z_image",
            "namespace": "dd",
            "source": {"type": "parquet", "path": str(path), "image_column": "image", "id_column": "key"},
            "stages": [{"name": "cpu", "ops": [{"op": "img_meta"}, {"op": "img_signals", "mode": "fast"}]}],
            "dedup": [{"name": "near", "method": "phash", "radius_bits": radius_bits}],
            "lake": {"buckets": 4},
        }
    )


@pytest.fixture(scope="module")
def runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    src = tmp_path_factory.mktemp("dedup_src")
    # Spy on candidate generation: the step's components must be computed once per run.
    module = sys.modules[spark_mm.dedup.phash_dedup.__module__]
    calls: list[str] = []
    real = module.connected_components

    def counted(*args, **kw):  # type: ignore[no-untyped-def]
        calls.append("cc")
        return real(*args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, "connected_components", counted)
        pq.write_table(variants(PHOTOS[:3], "crawl1", broken=True), src / "crawl1.parquet")
        first = Runner(recipe(src, 4), run_id="dd-1", spark=spark).run()
        first_calls = len(calls)
        # coffee, rocket again + chelsea new; the radius changed from 4 to 5 in between.
        pq.write_table(variants(PHOTOS[1:], "crawl2"), src / "crawl2.parquet")
        second = Runner(recipe(src, 5), run_id="dd-2", spark=spark).run()
    return src, first, second, (first_calls, len(calls) - first_calls)


def signals(spark: SparkSession, run: str) -> dict[str, tuple]:  # type: ignore[type-arg]
    rows = spark.sql(
        f"SELECT s.source_record_id k, d.dup_keep, d.dup_reason, d.dup_cluster_id FROM dd.samples s JOIN dd.dedup_near d USING (sample_id) WHERE d.run_id = '{run}'"
    ).collect()
    return {r.k: (r.dup_keep, r.dup_reason, r.dup_cluster_id) for r in rows}


def test_variants_of_one_photo_cluster_and_one_is_kept(runs, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, first, _, calls = runs
    assert [s.stage for s in first.stages] == ["ingest", "cpu", "dedup_near"]
    assert first.stages[-1].rows_in == first.stages[-1].rows_out == 13
    assert calls == (1, 1)  # signals and the keys merged into dedup_keys come from one candidate pass
    got = signals(spark, "dd-1")
    # The undecodable image has no pHash: not kept, and not counted as unique.
    assert got.pop("crawl1/broken")[:2] == (False, "missing_input")
    for photo in PHOTOS[:3]:
        members = {k: v for k, v in got.items() if f"/{photo}/" in k}
        assert len({v[2] for v in members.values()}) == 1, f"{photo} variants should form one cluster: {members}"
        assert sum(v[0] for v in members.values()) == 1
    clusters = {v[2] for v in got.values()}
    assert len(clusters) == 3  # distinct photos never merge


def test_second_crawl_dedups_against_history(runs, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    _, _, second, _ = runs
    got = signals(spark, "dd-2")
    assert len(got) == 12  # only the new crawl's samples are processed
    for k, (keep, reason, _) in got.items():
        if "chelsea" in k:
            continue
        assert keep is False and reason == "history", k
    chelsea = [v for k, v in got.items() if "chelsea" in k]
    assert sum(v[0] for v in chelsea) == 1 and {v[1] for v in chelsea if not v[0]} == {"in_run"}
    first_seen = dict(spark.sql("SELECT first_seen_run, count(*) FROM dd.dedup_keys GROUP BY 1").collect())
    assert set(first_seen) == {"dd-1", "dd-2"}
    # History holds full hashes only (bands are cut at match time), and lineage names the real version.
    assert [r[0] for r in spark.sql("SELECT DISTINCT key_type FROM dd.dedup_keys").collect()] == ["img_phash"]
    ops = spark.sql("SELECT summary['spark-mm.ops'] FROM dd.dedup_near.snapshots").collect()
    assert {r[0] for r in ops} == {"phash@2"}


def test_retry_adds_nothing_twice(runs, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    src, _, _, _ = runs
    keys_before = spark.sql("SELECT count(*) FROM dd.dedup_keys").first()[0]
    dedup_before = spark.sql("SELECT count(*) FROM dd.dedup_near").first()[0]
    again = Runner(recipe(src, 5), run_id="dd-2", spark=spark).run()
    assert again.stages[-1].skipped
    assert spark.sql("SELECT count(*) FROM dd.dedup_keys").first()[0] == keys_before
    assert spark.sql("SELECT count(*) FROM dd.dedup_near").first()[0] == dedup_before
