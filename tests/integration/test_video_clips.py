"""The clips: step through the real Runner, Spark and Iceberg: tiny videos with hard cuts (inline
and over the inline cap, i.e. by reference), a broken file; vid_meta + vid_duration in a stage
before it. video_clips holds one row per clip plus one error row, ids follow the clip-id rule, each
clip's materialised bytes decode to its frames, and a re-run appends nothing. The run's report has a
video section whose counts, histograms and keyframe thumbnails match the tables (built over the same
run, no second job)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

av = pytest.importorskip("av")
pytest.importorskip("scenedetect")

from spark_mm import recipe as recipes  # noqa: E402
from spark_mm.engine.runner import Runner, RunResult  # noqa: E402
from spark_mm.report.html import render  # noqa: E402
from spark_mm.report.metrics import collect_metrics  # noqa: E402
from spark_mm.report.video import VIDEO_THUMBS, SplitterCount  # noqa: E402
from spark_mm.video.ids import clip_id  # noqa: E402
from tests.video_fixtures import GARBAGE, encode_cuts  # noqa: E402

RED, BLUE = (255, 0, 0), (0, 0, 255)
CAP = 5000  # inline_max_bytes: the mp4 goes by reference, the webm inline


@pytest.fixture(scope="module")
def clips_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, recipes.LoadedRecipe, RunResult]:
    """One run of the clips recipe (three videos), shared by the step's test and the report's."""
    src = tmp_path_factory.mktemp("clip_videos")
    a = encode_cuts([(RED, 15), ("noise", 15), (BLUE, 6)])  # 36 frames at 12 fps = 3 s, cuts at 15 and 30
    b = encode_cuts([("noise", 18), (RED, 18)], kind="webm")  # 3 s, cut at 18
    assert len(b) < CAP < len(a)
    (src / "a.mp4").write_bytes(a)
    (src / "b.webm").write_bytes(b)
    (src / "broken.mp4").write_bytes(GARBAGE)
    rec = recipes.from_mapping(
        {
            "job": "clips", "namespace": "vclips", "source": {"type": "video_files", "path": str(src), "inline_max_bytes": CAP},
            "stages": [
                {"name": "meta", "ops": [{"op": "vid_meta"}, {"op": "vid_duration", "min_duration": 3}, {"op": "vid_motion", "min_score": 0.0}]},
                {"name": "nsfw", "ops": [{"op": "vid_nsfw", "device": "cpu"}]},
            ],
            "clips": {"splitter": {"type": "content"}, "short_clips": "flag", "min_clip_s": 1.0, "materialize": True},
            "lake": {"buckets": 2}, "tracking": {"enabled": False},
        }
    )
    return src, rec, Runner(rec, run_id="clips-1", spark=spark).run()


def test_clips_step_writes_video_clips(clips_run: tuple[Path, recipes.LoadedRecipe, RunResult], spark: SparkSession) -> None:
    _, rec, first = clips_run
    ingest, meta, nsfw, clips = first.stages
    assert (ingest.rows_out, meta.rows_out, nsfw.rows_out) == (3, 3, 3)
    assert (clips.stage, clips.rows_in, clips.rows_out, clips.rows_with_errors) == ("clips", 3, 3, 1)
    assert "5 clips (content)" in clips.note and "1 error rows" in clips.note

    ids = {r.source_record_id: r.sample_id for r in spark.table("vclips.samples").select("source_record_id", "sample_id").collect()}
    rows = spark.sql("SELECT * FROM vclips.video_clips ORDER BY sample_id, clip_index").collect()
    by_video: dict[str, list] = {}
    for r in rows:
        by_video.setdefault(r.sample_id, []).append(r)
    got_a, got_b, got_broken = by_video[ids["a.mp4"]], by_video[ids["b.webm"]], by_video[ids["broken.mp4"]]
    # split from the referenced file; the last shot (0.5 s) is under min_clip_s and flagged, not dropped
    assert [(r.start_frame, r.end_frame, r.too_short) for r in got_a] == [(0, 15, False), (15, 30, False), (30, 36, True)]
    assert [(r.start_frame, r.end_frame) for r in got_b] == [(0, 18), (18, 36)]
    params = got_a[0].splitter_params
    assert json.loads(params)["threshold"] == 27.0 and all(r.splitter == "content" and r.splitter_params == params for r in rows)
    for r in got_a + got_b:
        assert r.clip_id == clip_id(r.sample_id, "content", params, r.start_frame, r.end_frame) and r.error is None
        assert (r.fps, r.width, r.height) == (12.0, 64, 48) and r.run_id == "clips-1"
    assert got_a[1].start_s == pytest.approx(15 / 12, abs=1e-3) and got_a[-1].end_s == pytest.approx(3.0, abs=1e-3)
    assert got_a[0].keyframe_aligned and got_b[0].keyframe_aligned
    # materialize: every clip is a file of its own with the clip's frames (the mp4 read by reference)
    for r in got_a + got_b:
        with av.open(io.BytesIO(r.clip_bytes)) as made:
            assert sum(1 for _ in made.decode(video=0)) == r.end_frame - r.start_frame, r
        assert r.clip_method in ("stream_copy", "reencode") and r.clip_format == ("webm" if r in got_b and r.clip_method == "stream_copy" else "mp4")
        assert r.clip_bytes_error is None
    (err,) = got_broken
    assert err.error.startswith("not_video") and err.clip_index is None and err.clip_id == clip_id(err.sample_id, "content", params, None, None)
    videos = {r.sample_id: r for r in spark.table("vclips.signals_clips").collect()}
    assert {k: (v.clip_count, v.vid_scene_split_reason) for k, v in videos.items()} == {
        ids["a.mp4"]: (3, None), ids["b.webm"]: (2, None), ids["broken.mp4"]: (0, "not_video"),
    }

    again = Runner(rec, run_id="clips-2", spark=spark).run().stages[3]
    assert again.rows_in == 0 and again.rows_out == 0
    assert spark.table("vclips.video_clips").count() == 6 and spark.table("vclips.signals_clips").count() == 3
    durations = {r.sample_id: (r.vid_duration, r.vid_duration_ok) for r in spark.table("vclips.signals_meta").collect()}
    assert durations[ids["a.mp4"]] == (3.0, True) and durations[ids["broken.mp4"]] == (None, False)
    # vid_motion (a.mp4 read by reference) and vid_nsfw (a model stage) on the same videos
    motion = {r.sample_id: (r.vid_motion_score, r.vid_motion_reason) for r in spark.table("vclips.signals_meta").collect()}
    assert motion[ids["a.mp4"]][0] is not None and motion[ids["a.mp4"]][0] >= 0 and motion[ids["broken.mp4"]] == (None, "not_video")
    scored = {r.sample_id: (r.vid_nsfw_frames, r.vid_nsfw_ok) for r in spark.table("vclips.signals_nsfw").collect()}
    assert scored[ids["a.mp4"]] == (3, True) and scored[ids["b.webm"]] == (3, True) and scored[ids["broken.mp4"]] == (None, None)
    assert sorted(r.clip_id for r in spark.table("vclips.video_clips").collect()) == sorted(r.clip_id for r in rows)


def test_video_report_section(clips_run: tuple[Path, recipes.LoadedRecipe, RunResult], spark: SparkSession) -> None:
    from PIL import Image

    from spark_mm.sources.video_bytes import open_video
    from spark_mm.video.clip_hash import phash_bgr
    from spark_mm.video.frames import frames_at
    from spark_mm.video.sampled_frames import _av

    src, rec, first = clips_run
    m = collect_metrics(spark, first, rec)
    v = m.video
    assert v is not None and v.clips_table == "lake.vclips.video_clips"
    clips = spark.sql("SELECT * FROM vclips.video_clips WHERE run_id = 'clips-1'").collect()
    good = [r for r in clips if r.error is None]
    per_video = spark.sql("SELECT clip_count FROM vclips.signals_clips WHERE run_id = 'clips-1'").collect()
    assert (v.videos, v.clips, v.error_rows, v.videos_with_clips) == (len(per_video), len(good), len(clips) - len(good), 2) == (3, 5, 1, 2)
    assert sorted(v.clips_per_video) == sorted((k, sum(1 for r in per_video if r.clip_count == k)) for k in {r.clip_count for r in per_video}) == [(0, 1), (2, 1), (3, 1)]
    assert v.splitters == (SplitterCount("content", good[0].splitter_params, 5, 1),)
    (reason,) = v.reasons
    assert (reason.reason, reason.videos, reason.error_rows) == ("not_video", 1, 1) and reason.message.startswith("not_video: ")

    hists = {lh.histogram.column: lh for lh in v.histograms}
    assert list(hists) == ["clip_duration_s", "clip_count", "vid_duration_s", "vid_motion_score", "vid_nsfw_score"]  # no OCR/aesthetic op here
    for column, lh in hists.items():  # every row of the table counted once: in a bin or as a null
        h = lh.histogram
        if column == "clip_duration_s":
            values = [r.end_s - r.start_s for r in good]
        else:
            values = [r[0] for r in spark.sql(f"SELECT {column} FROM {lh.table} WHERE run_id = 'clips-1'").collect()]
        assert sum(h.counts) == h.count == sum(x is not None for x in values) and h.nulls == sum(x is None for x in values), column
        assert h.minimum == pytest.approx(min(x for x in values if x is not None)) and h.maximum == pytest.approx(max(x for x in values if x is not None))
    assert hists["clip_duration_s"].histogram.minimum == pytest.approx(0.5, abs=1e-3) and hists["clip_duration_s"].histogram.nulls == 0
    assert hists["vid_motion_score"].histogram.nulls == hists["vid_nsfw_score"].histogram.nulls == 1  # the broken file: counted, not dropped

    # thumbnails: each video's first clip first; each is the middle keyframe clip dedup hashed, <= 128 px
    assert len(v.thumbs) == min(VIDEO_THUMBS, 5) and sorted(t.clip_index for t in v.thumbs[:2]) == [0, 0]
    by_id = {r.clip_id: r for r in good}
    files = {r.sample_id: r.source_record_id for r in spark.table("vclips.samples").collect()}
    av = _av()
    for t in v.thumbs:
        assert t.image_uri is not None and t.note == "" and t.frame == by_id[t.clip_id].clip_phash_frame
        im = Image.open(io.BytesIO(base64.b64decode(t.image_uri.split(",", 1)[1])))
        assert im.format == "JPEG" and im.size == (64, 48) and max(im.size) <= 128
        with open_video((src / files[t.sample_id]).read_bytes(), None, None) as stream:
            frame = frames_at(av, stream, [t.frame])[t.frame]
        assert phash_bgr(frame) == by_id[t.clip_id].clip_phash  # the frame shown is the frame hashed

    page = render(m)
    section = page.split('<section id="video">', 1)[1].split("</section>", 1)[0]
    assert 'href="#video"' in page and section.count('src="data:image/jpeg;base64,') == len(v.thumbs)
    assert "not_video" in section and "<b>5</b> clips" in section
    assert len(section) < 60_000 and not re.search(r'(src|href)="(https?:)?//', section)
