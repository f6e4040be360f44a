"""Stages ``over: clips`` without Spark: the recipe rules (a clips: step is required; per-sample
stages and dedup cannot read per-clip columns) and the plan's keys (clip_id, then sample_id)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from spark_mm import recipe as recipes
from spark_mm.engine.plan import StagePlan, apply_ops
from spark_mm.errors import RecipeError
from spark_mm.ops.base import Resource
from spark_mm.ops.video_meta import VidMetaParams


def _raw(stages: list[dict[str, Any]], clips: bool = True) -> dict[str, Any]:
    raw: dict[str, Any] = {"job": "j", "namespace": "n", "source": {"type": "sample_videos"}, "stages": stages}
    if clips:
        raw["clips"] = {"splitter": {"type": "content"}}
    return raw


def test_over_defaults_to_samples_and_accepts_clips() -> None:
    rec = recipes.from_mapping(_raw([{"name": "a", "ops": [{"op": "vid_meta"}]}, {"name": "b", "over": "clips", "ops": [{"op": "vid_meta"}]}])).recipe
    assert [s.over for s in rec.stages] == ["samples", "clips"]


def test_clip_stage_without_clips_step_fails_at_load() -> None:
    with pytest.raises(RecipeError, match=r"stages\[0\] \('m'\) has over: clips.*add a clips: section"):
        recipes.from_mapping(_raw([{"name": "m", "over": "clips", "ops": [{"op": "vid_meta"}]}], clips=False))


def test_over_accepts_only_samples_or_clips() -> None:
    with pytest.raises(RecipeError, match=r"over"):
        recipes.from_mapping(_raw([{"name": "m", "over": "frames", "ops": [{"op": "vid_meta"}]}]))


def test_sample_stage_cannot_read_a_clip_stage_column() -> None:
    stages = [
        {"name": "c", "over": "clips", "ops": [{"op": "vid_meta"}]},
        {"name": "s", "ops": [{"op": "vid_duration", "duration_column": "vid_duration_s"}]},
    ]
    with pytest.raises(RecipeError, match=r"stages\[1\]\.ops\[0\] \(vid_duration\) reads \['vid_duration_s'\].*give this stage over: clips too"):
        recipes.from_mapping(_raw(stages))
    stages[1]["over"] = "clips"
    recipes.from_mapping(_raw(stages))  # a clip stage may read another clip stage's columns


def test_clip_plan_keys_and_output() -> None:
    plan = StagePlan("c", (VidMetaParams(),), Resource.CPU, "clips")
    schema = plan.output_schema()
    assert plan.keys == ("clip_id", "sample_id") and schema.names[:2] == ["clip_id", "sample_id"]
    assert "clip_id" not in plan.signal_columns() and "sample_id" not in plan.signal_columns()
    batch = pa.record_batch({
        "clip_id": ["c1", "c2"], "sample_id": ["s", "s"], "clip_start_s": [0.0, 1.0], "clip_end_s": [1.0, 2.0],
        "payload": pa.nulls(2, pa.binary()), "source_uri": pa.nulls(2, pa.string()), "record_meta": pa.nulls(2, pa.map_(pa.string(), pa.string())),
    })
    out = apply_ops("c", plan.operators(), batch, schema, "r1", fingerprint="f").to_pydict()
    assert out["clip_id"] == ["c1", "c2"] and out["sample_id"] == ["s", "s"] and out["vid_meta_reason"] == ["missing_input"] * 2
    assert StagePlan("s", (VidMetaParams(),), Resource.CPU).output_schema().names[0] == "sample_id"
