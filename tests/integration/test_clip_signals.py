"""A stage ``over: clips`` through the real Runner, Spark and Iceberg: two tiny videos, each a still
shot then (a hard cut) a moving square, one inline and one by reference, and a broken file. The
clip stage writes one ``vid_motion`` row per clip of ``video_clips`` keyed by ``clip_id``, the
still clip scores ~0 and the moving one well above; a clip stage reads a per-sample column through
the parent; a re-run appends nothing, a changed threshold recomputes every row of that clip stage in
place (and nothing of the other), ``--recompute`` recomputes, and switching ``over`` is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

av = pytest.importorskip("av")
pytest.importorskip("scenedetect")
pytest.importorskip("cv2")

from spark_mm import recipe as recipes  # noqa: E402
from spark_mm.engine.inputs import join_clip_inputs  # noqa: E402
from spark_mm.engine.runner import Runner  # noqa: E402
from spark_mm.errors import RecipeError  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_still_then_moving  # noqa: E402


def _recipe(src: Path, cap: int, min_score: float) -> recipes.LoadedRecipe:
    return recipes.from_mapping({
        "job": "clipsig", "namespace": "vclipsig", "source": {"type": "video_files", "path": str(src), "inline_max_bytes": cap},
        "stages": [
            {"name": "clip_motion", "over": "clips", "ops": [{"op": "vid_motion", "min_score": min_score}]},
            {"name": "meta", "ops": [{"op": "vid_meta"}]},  # listed after, runs before the clips step
            {"name": "clip_dur", "over": "clips", "ops": [{"op": "vid_duration"}]},  # reads the parent's vid_duration_s
        ],
        "clips": {"splitter": {"type": "content"}},
        "lake": {"buckets": 2}, "tracking": {"enabled": False},
    })


def test_clip_stage_scores_each_clip(spark: SparkSession, tmp_path: Path) -> None:
    a = encode_still_then_moving(still=24, moving=24, speed_px=3)
    b = encode_still_then_moving(still=18, moving=18, speed_px=2, kind="webm")
    cap = (len(a) + len(b)) // 2
    assert min(len(a), len(b)) < cap < max(len(a), len(b))  # one video inline, the other by reference
    (tmp_path / "a.mp4").write_bytes(a)
    (tmp_path / "b.webm").write_bytes(b)
    (tmp_path / "broken.mp4").write_bytes(GARBAGE)

    first = Runner(_recipe(tmp_path, cap, 0.25), run_id="clipsig-1", spark=spark).run()
    assert [s.stage for s in first.stages] == ["ingest", "meta", "clips", "clip_motion", "clip_dur"]
    stage = first.stages[3]
    assert (stage.rows_in, stage.rows_out, stage.rows_with_errors) == (4, 4, 0)  # 2 clips each; the broken file's error row is not a clip

    ids = {r.source_record_id: r.sample_id for r in spark.table("vclipsig.samples").collect()}
    clips = {r.clip_id: r for r in spark.table("vclipsig.video_clips").where("error IS NULL").collect()}
    rows = spark.table("vclipsig.signals_clip_motion").collect()
    assert spark.table("vclipsig.signals_clip_motion").columns[:2] == ["clip_id", "sample_id"]
    assert sorted(r.clip_id for r in rows) == sorted(clips)  # one row per clip, keyed by clip_id
    for r in rows:
        assert r.sample_id == clips[r.clip_id].sample_id and r.run_id == "clipsig-1" and r.errors == {}
    by_video: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: clips[r.clip_id].clip_index):
        by_video.setdefault(r.sample_id, []).append(r)
    assert set(by_video) == {ids["a.mp4"], ids["b.webm"]}
    for sid, (still, moving) in by_video.items():
        assert still.vid_motion_score < 0.05 < 0.5 < moving.vid_motion_score, sid
        assert (still.vid_motion_ok, still.vid_motion_reason, moving.vid_motion_ok) == (False, "too_low", True)

    # a per-sample column joins each clip on its parent
    durations = {r.sample_id: r.vid_duration_s for r in spark.table("vclipsig.signals_meta").collect()}
    dur = spark.table("vclipsig.signals_clip_dur").collect()
    assert sorted(r.clip_id for r in dur) == sorted(clips)
    assert all(r.vid_duration == durations[r.sample_id] and r.vid_duration_ok for r in dur)

    again = Runner(_recipe(tmp_path, cap, 0.25), run_id="clipsig-2", spark=spark).run().stages[3]
    assert (again.rows_in, again.rows_out) == (0, 0)
    held = spark.table("vclipsig.signals_clip_motion").collect()
    assert len(held) == 4 and {r.run_id for r in held} == {"clipsig-1"}  # nothing appended, nothing rewritten

    changed_run = Runner(_recipe(tmp_path, cap, 0.3), run_id="clipsig-3", spark=spark).run()
    changed, untouched = changed_run.stages[3], changed_run.stages[4]
    assert (changed.rows_in, changed.recomputed) == (4, 4) and "recomputed 4 stale rows" in changed.note
    assert untouched.rows_in == 0  # the other clip stage's recipe did not change
    after = spark.table("vclipsig.signals_clip_motion").collect()
    assert len(after) == 4 and {r.run_id for r in after} == {"clipsig-3"} and sorted(r.clip_id for r in after) == sorted(clips)

    forced = Runner(_recipe(tmp_path, cap, 0.3), run_id="clipsig-4", spark=spark, recompute=["clip_motion"]).run().stages[3]
    assert (forced.rows_in, forced.recomputed) == (4, 4) and "(--recompute)" in forced.note
    assert spark.table("vclipsig.signals_clip_motion").count() == 4

    # switching over on a stage whose table is kept is refused, naming the fix
    raw = _recipe(tmp_path, cap, 0.3).recipe.model_dump(mode="json", exclude_none=True)
    raw["stages"][0]["over"] = "samples"
    with pytest.raises(RecipeError, match=r"stage 'clip_motion' has over: samples, but .*signals_clip_motion is keyed by clip_id.*new name"):
        Runner(recipes.from_mapping(raw), run_id="clipsig-5", spark=spark).run()

    # a later clip stage's input: an earlier clip stage's column joins on clip_id, a per-sample one on sample_id
    ctx = Runner(_recipe(tmp_path, cap, 0.3), run_id="clipsig-6", spark=spark).ctx
    produced = {"vid_motion_score": "signals_clip_motion", "vid_duration_s": "signals_meta"}
    frame, inputs = join_clip_inputs(ctx, ["vid_motion_score", "vid_duration_s"], produced, {"signals_clip_motion"})
    got = {r.clip_id: r for r in frame.collect()}
    scores = {r.clip_id: r.vid_motion_score for r in spark.table("vclipsig.signals_clip_motion").collect()}
    assert frame.columns[:4] == ["clip_id", "sample_id", "clip_start_s", "clip_end_s"] and set(got) == set(clips)
    for cid, r in got.items():
        assert r.vid_motion_score == scores[cid] and r.vid_duration_s == durations[r.sample_id] and r.clip_start_s == clips[cid].start_s
    assert inputs.startswith("lake.vclipsig.video_clips@") and "signals_clip_motion@" in inputs and "signals_meta@" in inputs
