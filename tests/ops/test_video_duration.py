"""vid_duration: Data-Juicer's video_duration_filter rule (whole seconds by Python round, inclusive
bounds, defaults 0 and sys.maxsize), the exact-seconds option, fused after vid_meta on real
encoded videos and checked against DJ's own expression read with PyAV."""

from __future__ import annotations

import io
import sys

import pyarrow as pa
import pytest

from spark_mm import recipe as recipes
from spark_mm.engine.plan import StagePlan, apply_ops
from spark_mm.errors import RecipeError
from spark_mm.ops.base import Resource
from spark_mm.ops.video_duration import VidDuration, VidDurationParams


def decide(seconds: list[float | None], **params: object) -> list[tuple[float | None, bool, str | None]]:
    batch = pa.RecordBatch.from_pydict({"vid_duration_s": pa.array(seconds, pa.float64())})
    out = VidDuration(VidDurationParams(**params)).apply(batch).columns.to_pylist()  # type: ignore[arg-type]
    return [(r["vid_duration"], r["vid_duration_ok"], r["vid_duration_reason"]) for r in out]


def test_defaults_are_data_juicers() -> None:
    p = VidDurationParams()
    assert (p.min_duration, p.max_duration, p.rounding) == (0.0, float(sys.maxsize), "round")
    assert decide([0.0, 0.4, 12.3, 86400.0 * 365]) == [(0.0, True, None), (0.0, True, None), (12.0, True, None), (31536000.0, True, None)]


def test_round_half_even_and_inclusive_bounds() -> None:
    # Python round: 2.5 -> 2, 3.5 -> 4, 2.5000001 -> 3; bounds 2..3 inclusive
    got = decide([1.49, 1.5, 2.5, 2.5000001, 3.5, 3.4999, None], min_duration=2, max_duration=3)
    assert got == [
        (1.0, False, "too_short"), (2.0, True, None), (2.0, True, None), (3.0, True, None),
        (4.0, False, "too_long"), (3.0, True, None), (None, False, "missing_input"),
    ]
    assert [d for d, _, _ in got[:-1]] == [float(round(x)) for x in (1.49, 1.5, 2.5, 2.5000001, 3.5, 3.4999)]


def test_exact_seconds_option() -> None:
    got = decide([1.9, 2.0, 3.0, 3.2], min_duration=2, max_duration=3, rounding="exact")
    assert got == [(1.9, False, "too_short"), (2.0, True, None), (3.0, True, None), (3.2, False, "too_long")]


def test_recipe_keys_fail_fast() -> None:
    base = {"job": "v", "namespace": "v", "source": {"type": "video_files", "path": "/x"}, "tracking": {"enabled": False}}
    ok = recipes.from_mapping({**base, "stages": [{"name": "m", "ops": [{"op": "vid_meta"}, {"op": "vid_duration", "max_duration": 30}]}]})
    assert ok.recipe.stages[0].ops[1].max_duration == 30
    with pytest.raises(RecipeError, match=r"stages\[0\]\.ops\[1\]\.max_seconds: unknown key"):
        recipes.from_mapping({**base, "stages": [{"name": "m", "ops": [{"op": "vid_meta"}, {"op": "vid_duration", "max_seconds": 30}]}]})
    with pytest.raises(RecipeError, match=r"rounding"):
        recipes.from_mapping({**base, "stages": [{"name": "m", "ops": [{"op": "vid_meta"}, {"op": "vid_duration", "rounding": "floor"}]}]})
    with pytest.raises(RecipeError, match=r"reads \['vid_duration_s'\]"):  # needs vid_meta first
        recipes.from_mapping({**base, "stages": [{"name": "m", "ops": [{"op": "vid_duration"}]}]})


def test_after_vid_meta_on_encoded_videos_equals_data_juicers_expression() -> None:
    av = pytest.importorskip("av")
    from spark_mm.ops.video_meta import VidMetaParams
    from tests.video_fixtures import GARBAGE, encode

    clips = [encode("mp4v", frames=30, fps=12), encode("mp4v", frames=42, fps=12), encode("mkv", frames=30, fps=12)]  # 2.5 s, 3.5 s
    plan = StagePlan("m", (VidMetaParams(), VidDurationParams(min_duration=3, max_duration=3)), Resource.CPU)
    batch = pa.RecordBatch.from_pydict({"sample_id": ["a", "b", "c", "d"], "payload": pa.array([*clips, GARBAGE], pa.binary())})
    rows = apply_ops("m", plan.operators(), batch, plan.output_schema(), "r").to_pylist()
    for data, row in zip(clips[:2], rows):
        with av.open(io.BytesIO(data)) as c:
            s = c.streams.video[0]
            assert row["vid_duration"] == round(s.duration * s.time_base)  # Data-Juicer's compute_stats_single
    assert [(r["vid_duration"], r["vid_duration_ok"], r["vid_duration_reason"]) for r in rows] == [
        (2.0, False, "too_short"), (4.0, False, "too_long"), (2.0, False, "too_short"), (None, False, "missing_input"),
    ]
