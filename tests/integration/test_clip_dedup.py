"""Clip dedup through the real Runner, Spark and Iceberg: the clips step writes clip_phash, the
dedup step (method clip_phash) dedups video_clips by clip_id. Two videos sharing a shot have
duplicate clips, other shots are not; a re-run with a new video finds its shared shot in
history; every clip row is accounted for."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

pytest.importorskip("av")
pytest.importorskip("scenedetect")

from spark_mm import recipe as recipes  # noqa: E402
from spark_mm.engine.runner import Runner  # noqa: E402
from spark_mm.errors import RecipeError  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_shots, smooth_image  # noqa: E402

SIZE = (128, 96)


def recipe(path: str, **extra: object) -> object:
    return recipes.from_mapping(
        {
            "job": "clipdedup", "namespace": "vclipdedup", "source": {"type": "video_files", "path": path},
            "clips": {"splitter": {"type": "content"}},
            "dedup": [{"name": "clips", "method": "clip_phash", "radius_bits": 4}],
            "lake": {"buckets": 2}, "tracking": {"enabled": False}, **extra,
        }
    )


def test_recipe_needs_the_clips_step() -> None:
    with pytest.raises(RecipeError, match=r"dedup\[0\] \(clip_phash\) dedups the rows of video_clips, which the clips: step writes"):
        recipes.from_mapping({"job": "j", "namespace": "n", "source": {"type": "video_files", "path": "x"},
                              "dedup": [{"name": "c", "method": "clip_phash"}]})
    with pytest.raises(RecipeError, match=r"reads \['clip_hash'\], which video_clips does not have"):
        recipes.from_mapping({"job": "j", "namespace": "n", "source": {"type": "video_files", "path": "x"}, "clips": {},
                              "dedup": [{"name": "c", "method": "clip_phash", "column": "clip_hash"}]})


def test_clip_dedup_in_run_and_against_history(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> None:
    src = tmp_path_factory.mktemp("clipdedup_videos")
    x, y, z, w = (smooth_image(s, SIZE) for s in (1, 2, 3, 4))
    (src / "a.mp4").write_bytes(encode_shots([(x, 20), (y, 20)]))
    (src / "b.mp4").write_bytes(encode_shots([(z, 20), (x, 20)]))  # shot x again, second here
    (src / "broken.mp4").write_bytes(GARBAGE)
    first = Runner(recipe(str(src)), run_id="cd-1", spark=spark).run()
    clips_res, dedup_res = first.stages[-2:]
    assert (clips_res.stage, dedup_res.stage) == ("clips", "dedup_clips")
    assert dedup_res.rows_in == dedup_res.rows_out == 5  # 4 clips + the broken file's error row

    ids = {r.source_record_id: r.sample_id for r in spark.table("vclipdedup.samples").collect()}
    clips = {(r.sample_id, r.clip_index): r for r in spark.table("vclipdedup.video_clips").collect()}
    ax, ay, bz, bx = (clips[(ids[f], i)] for f, i in [("a.mp4", 0), ("a.mp4", 1), ("b.mp4", 0), ("b.mp4", 1)])
    err = clips[(ids["broken.mp4"], None)]
    assert err.clip_phash is None and all(c.clip_phash is not None for c in (ax, ay, bz, bx))
    dedup = {r.clip_id: r for r in spark.table("vclipdedup.dedup_clips").collect()}
    assert set(dedup) == {c.clip_id for c in clips.values()}  # every clip row, keyed by clip_id
    assert all(dedup[c.clip_id].sample_id == c.sample_id for c in clips.values())  # with its parent video
    kept_x, dup_x = sorted((ax, bx), key=lambda c: c.clip_id)  # keep: smallest id
    assert dedup[kept_x.clip_id].dup_keep and not dedup[dup_x.clip_id].dup_keep
    assert dedup[dup_x.clip_id].dup_reason == "in_run" and dedup[dup_x.clip_id].dup_cluster_id == kept_x.clip_id
    assert dedup[ax.clip_id].dup_cluster_size == 2
    assert all(dedup[c.clip_id].dup_keep and dedup[c.clip_id].dup_cluster_size == 1 for c in (ay, bz))  # distinct shots
    assert (dedup[err.clip_id].dup_keep, dedup[err.clip_id].dup_reason) == (False, "missing_input")
    keys = spark.sql("SELECT key_type, sample_id FROM vclipdedup.dedup_keys").collect()
    assert {r.key_type for r in keys} == {"clip_phash"} and sorted(r.sample_id for r in keys) == sorted([kept_x.clip_id, ay.clip_id, bz.clip_id])

    # a new crawl: c.mp4 has shot y (a's second clip) and a new shot w; mpeg4 this time
    (src / "c.mkv").write_bytes(encode_shots([(y, 20), (w, 20)], kind="mkv"))
    second = Runner(recipe(str(src)), run_id="cd-2", spark=spark).run()
    assert second.stages[-1].rows_in == second.stages[-1].rows_out == 2  # only the new clips are read
    ids = {r.source_record_id: r.sample_id for r in spark.table("vclipdedup.samples").collect()}
    new = {r.clip_index: r for r in spark.table("vclipdedup.video_clips").where(f"sample_id = '{ids['c.mkv']}'").collect()}
    dedup = {r.clip_id: r for r in spark.table("vclipdedup.dedup_clips").collect()}
    assert (dedup[new[0].clip_id].dup_keep, dedup[new[0].clip_id].dup_reason) == (False, "history")
    assert dedup[new[1].clip_id].dup_keep and dedup[new[1].clip_id].run_id == "cd-2"
    assert spark.table("vclipdedup.dedup_clips").count() == spark.table("vclipdedup.video_clips").count() == 7
    again = Runner(recipe(str(src)), run_id="cd-2", spark=spark).run()  # a retry appends nothing
    assert again.stages[-1].skipped and spark.table("vclipdedup.dedup_keys").count() == 4
