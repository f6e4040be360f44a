"""The report's video section: clips per video, splitters, video score histograms, split error
reasons and middle-keyframe thumbnails, from a run's video tables.

A run has video tables when a stage wrote a ``vid_*`` column or the ``clips:`` step ran
(``<ns>.signals_clips``, one row per video, and ``<ns>.video_clips``, one row per clip plus one error
row per video that could not be split; docs/video.md). Everything is restricted to the rows the
run wrote (``run_id``); stage tables are read at the snapshot the stage committed, ``video_clips``
at its current snapshot (the step does not report that table's snapshot).

Which scores get a histogram is :data:`VIDEO_SIGNALS`, a registry keyed by column: a new video
score is one entry there, not a new branch. Nulls are counted (``Histogram.nulls``), never dropped,
so a histogram's bins plus its nulls add up to the rows of the table it is over.

Thumbnails: the middle keyframe (``video_clips.clip_phash_frame``, the frame clip dedup hashes) of
at most :data:`VIDEO_THUMBS` clips, one per video first, in a deterministic order. Each video is
opened as the stages open it (inline ``payload`` or the reference in ``source_uri`` /
``record_meta``, :func:`spark_mm.sources.video_bytes.open_video`) and decoded by
:func:`spark_mm.video.frames.frames_at`, on the driver; only the few chosen videos' bytes are read,
and an inline payload over ``MAX_THUMB_SOURCE_BYTES`` never leaves Spark. Each thumbnail is a JPEG
of at most :data:`THUMB_PX` px on its longer side and :data:`VIDEO_THUMB_MAX_CHARS` characters of
``data:`` URI, so the section stays a few tens of kilobytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_mm.engine.context import StageResult
from spark_mm.report.metrics import MAX_THUMB_SOURCE_BYTES, THUMB_PX, Histogram, histograms, jpeg_uri, short_message

if TYPE_CHECKING:
    from spark_mm.report.metrics import MetricsCollector

VIDEO_THUMBS = 8  # clips whose middle keyframe is shown
VIDEO_THUMB_MAX_CHARS = 24_000  # a thumbnail's data: URI; over it, re-encoded at a lower quality, else left out
CLIP_COUNT_ROWS = 12  # distinct clips-per-video values listed (most frequent first)
CLIPS_TABLE = "video_clips"
CLIPS_STAGE = "clips"
CLIP_DURATION = "clip_duration_s"  # end_s - start_s of a clip row (not a stored column)
CLIP_COUNT = "clip_count"


@dataclass(frozen=True)
class VideoSignal:
    """A per-video score the section draws a histogram of, when a stage of the run wrote it."""

    column: str
    label: str


VIDEO_SIGNALS: tuple[VideoSignal, ...] = (
    VideoSignal("vid_duration_s", "video duration, s (vid_meta)"),
    VideoSignal("vid_motion_score", "motion score, mean flow px (vid_motion)"),
    VideoSignal("vid_nsfw_score", "NSFW score, P(nsfw) (vid_nsfw)"),
    VideoSignal("vid_aesthetic_score", "aesthetic score, 0-10 (vid_aesthetic)"),
    VideoSignal("vid_ocr_area_ratio", "OCR text-area ratio (vid_ocr)"),
)


@dataclass(frozen=True)
class LabelledHistogram:
    """A histogram with the title the section shows and the table it is over."""

    label: str
    table: str
    histogram: Histogram


@dataclass(frozen=True)
class SplitterCount:
    """Clip rows one splitter (with one parameter set) wrote."""

    splitter: str
    params: str
    clips: int
    error_rows: int


@dataclass(frozen=True)
class SplitReason:
    """Videos the clips step could not split, by ``vid_scene_split_reason``, and their error rows."""

    reason: str
    videos: int
    error_rows: int
    message: str  # the most frequent error message of the reason (cut), "" when none


@dataclass(frozen=True)
class KeyframeThumb:
    """One clip's middle keyframe as a ``data:`` URI, or a note saying why there is none."""

    clip_id: str
    sample_id: str
    clip_index: int
    frame: int
    start_s: float
    end_s: float
    image_uri: str | None = None
    note: str = ""


@dataclass(frozen=True)
class VideoMetrics:
    """Everything the video section shows about one run.

    Attributes:
        videos: videos the clips step read in this run (rows of ``signals_clips``; 0 without a
            ``clips:`` step).
        clips: clip rows of ``video_clips`` (error rows not counted), ``error_rows`` the others.
        clips_per_video: ``(clips of a video, videos with that many)``, most frequent first,
            at most ``CLIP_COUNT_ROWS`` values.
        histograms: clip duration and clips per video (with a clips step), then each
            :data:`VIDEO_SIGNALS` column a stage wrote, in registry order.
    """

    videos: int
    clips: int
    error_rows: int
    videos_with_clips: int
    clips_per_video: tuple[tuple[int, int], ...]
    splitters: tuple[SplitterCount, ...]
    histograms: tuple[LabelledHistogram, ...]
    reasons: tuple[SplitReason, ...]
    thumbs: tuple[KeyframeThumb, ...]
    clips_table: str | None = None  # the video_clips table read, None without a clips step
    notes: tuple[str, ...] = ()


def _has_video(frames: Sequence[tuple[StageResult, DataFrame]]) -> bool:
    return any(s.stage == CLIPS_STAGE or any(c.startswith("vid_") for c in f.columns) for s, f in frames)


def collect_video(c: MetricsCollector, frames: Sequence[tuple[StageResult, DataFrame]]) -> VideoMetrics | None:
    """The run's :class:`VideoMetrics`, or None when it has no video tables."""
    if not _has_video(frames):
        return None
    notes: list[str] = []
    hists: list[LabelledHistogram] = []
    per_video = next((f for s, f in frames if s.stage == CLIPS_STAGE and CLIP_COUNT in f.columns), None)
    clips_full = c._table(CLIPS_TABLE)
    clips_frame = c.scoped(clips_full, None) if per_video is not None and c._exists(clips_full) else None
    videos = videos_with_clips = n_clips = n_errors = 0
    counts: list[tuple[int, int]] = []
    splitters: list[SplitterCount] = []
    reasons: list[SplitReason] = []
    thumbs: list[KeyframeThumb] = []
    if per_video is not None:
        counts_rows = per_video.groupBy(F.coalesce(CLIP_COUNT, F.lit(0)).alias("k")).agg(F.count(F.lit(1)).alias("n")).collect()
        videos = sum(int(r["n"]) for r in counts_rows)
        videos_with_clips = sum(int(r["n"]) for r in counts_rows if r["k"] > 0)
        counts = sorted(((int(r["k"]), int(r["n"])) for r in counts_rows), key=lambda kn: (-kn[1], kn[0]))[:CLIP_COUNT_ROWS]
    if clips_frame is not None:
        notes.append(f"clips read from {clips_full} (current snapshot, rows of this run)")
        is_err = F.col("error").isNotNull()
        split_rows = (
            clips_frame.groupBy(F.coalesce("splitter", F.lit("")).alias("s"), F.coalesce("splitter_params", F.lit("")).alias("p"))
            .agg(F.sum(F.when(is_err, 0).otherwise(1)).alias("clips"), F.sum(F.when(is_err, 1).otherwise(0)).alias("errs"))
            .orderBy(F.desc("clips"), "s", "p")
            .collect()
        )
        splitters = [SplitterCount(r["s"], r["p"], int(r["clips"]), int(r["errs"])) for r in split_rows]
        n_clips, n_errors = sum(s.clips for s in splitters), sum(s.error_rows for s in splitters)
        clip_rows = clips_frame.where(~is_err).select((F.col("end_s") - F.col("start_s")).alias(CLIP_DURATION))
        hists += [LabelledHistogram("clip duration, s (video_clips)", clips_full, h) for h in histograms(clip_rows, CLIPS_STAGE, [CLIP_DURATION])]
        reasons = _reasons(per_video, clips_frame)
        thumbs = _thumbs(c, clips_frame)
    if per_video is not None:
        table = next(s.table for s, f in frames if f is per_video)
        hists += [LabelledHistogram("clips per video (signals_clips)", table, h) for h in histograms(per_video, CLIPS_STAGE, [CLIP_COUNT])]
    found: dict[str, LabelledHistogram] = {}
    labels = {sig.column: sig.label for sig in VIDEO_SIGNALS}
    for s, f in frames:  # one pair of aggregate passes per table, over every registered column it has
        cols = [sig.column for sig in VIDEO_SIGNALS if sig.column in f.columns and sig.column not in found]
        for h in histograms(f, s.stage, cols) if cols else ():
            found[h.column] = LabelledHistogram(labels[h.column], s.table, h)
    hists += [found[sig.column] for sig in VIDEO_SIGNALS if sig.column in found]  # registry order
    return VideoMetrics(
        videos, n_clips, n_errors, videos_with_clips, tuple(counts), tuple(splitters), tuple(hists), tuple(reasons), tuple(thumbs),
        clips_full if clips_frame is not None else None, tuple(notes),
    )


def _reasons(per_video: DataFrame, clips_frame: DataFrame) -> list[SplitReason]:
    """Videos per split reason (``signals_clips``) with the error rows of that reason (``video_clips``)."""
    videos = {
        r["reason"]: int(r["n"])
        for r in per_video.where(F.col("vid_scene_split_reason").isNotNull()).groupBy(F.col("vid_scene_split_reason").alias("reason")).agg(F.count(F.lit(1)).alias("n")).collect()
    }
    errs = clips_frame.where(F.col("error").isNotNull()).select(
        F.substring_index("error", ":", 1).alias("reason"), F.substring("error", 1, 121).alias("msg")
    )
    by_msg = errs.groupBy("reason", "msg").agg(F.count(F.lit(1)).alias("n"))
    w = Window.partitionBy("reason").orderBy(F.desc("n"), "msg")
    rows = by_msg.withColumn("rank", F.row_number().over(w)).groupBy("reason").agg(
        F.sum("n").alias("n"), F.max(F.when(F.col("rank") == 1, F.col("msg"))).alias("msg")
    ).collect()
    error_rows = {r["reason"]: (int(r["n"]), r["msg"] or "") for r in rows}
    out = []
    for reason in sorted(set(videos) | set(error_rows), key=lambda k: (-videos.get(k, 0), k)):
        n, msg = error_rows.get(reason, (0, ""))
        out.append(SplitReason(reason, videos.get(reason, 0), n, short_message(msg)))
    return out


def _thumbs(c: MetricsCollector, clips_frame: DataFrame) -> list[KeyframeThumb]:
    """Middle keyframes of up to ``VIDEO_THUMBS`` clips: each video's first clip first, then its second, ..."""
    w = Window.partitionBy("sample_id").orderBy("clip_index", "clip_id")
    picked = (
        clips_frame.where(F.col("error").isNull() & F.col("clip_phash_frame").isNotNull())
        .withColumn("rank", F.row_number().over(w))
        .orderBy("rank", F.xxhash64("sample_id"), "sample_id")
        .select("clip_id", "sample_id", "clip_index", "clip_phash_frame", "start_s", "end_s")
        .limit(VIDEO_THUMBS)
        .collect()
    )
    if not picked:
        return []
    samples = c._samples()
    sources: dict[str, tuple[bytes | None, str | None, dict[str, str] | None, bool]] = {}
    if samples is not None:
        cols = set(samples.columns)
        size = F.length("payload") if "payload" in cols else F.lit(None)
        rows = (
            samples.where(F.col("sample_id").isin(sorted({r["sample_id"] for r in picked})))
            .select(
                "sample_id",
                (F.when(size <= MAX_THUMB_SOURCE_BYTES, F.col("payload")) if "payload" in cols else F.lit(None).cast("binary")).alias("payload"),
                (F.col("source_uri") if "source_uri" in cols else F.lit(None).cast("string")).alias("source_uri"),
                (F.col("record_meta") if "record_meta" in cols else F.lit(None).cast("map<string,string>")).alias("record_meta"),
                F.coalesce(size > MAX_THUMB_SOURCE_BYTES, F.lit(False)).alias("too_big"),
            )
            .collect()
        )
        sources = {
            r["sample_id"]: (bytes(r["payload"]) if r["payload"] is not None else None, r["source_uri"], dict(r["record_meta"]) if r["record_meta"] else None, bool(r["too_big"]))
            for r in rows
        }
    wanted: dict[str, list[int]] = {}
    for r in picked:
        wanted.setdefault(r["sample_id"], []).append(int(r["clip_phash_frame"]))
    decoded = {sid: _decode(sources.get(sid), frames) for sid, frames in wanted.items()}
    out = []
    for r in picked:
        got, why = decoded[r["sample_id"]]
        bgr = got.get(int(r["clip_phash_frame"]))
        uri, note = _frame_uri(bgr) if bgr is not None else (None, why or "frame not decoded")
        out.append(KeyframeThumb(r["clip_id"], r["sample_id"], int(r["clip_index"]), int(r["clip_phash_frame"]), float(r["start_s"]), float(r["end_s"]), uri, note))
    return out


def _decode(source: tuple[bytes | None, str | None, dict[str, str] | None, bool] | None, indices: Sequence[int]) -> tuple[dict[int, Any], str]:
    """``(frames by index, why none)`` of one video; never raises for a bad video."""
    from spark_mm.errors import MissingDependency
    from spark_mm.sources.video_bytes import PayloadRefError, open_video
    from spark_mm.video.frames import frames_at
    from spark_mm.video.sampled_frames import _av
    from spark_mm.video.scenes import SplitError

    if source is None:
        return {}, "video not in samples"
    payload, uri, meta, too_big = source
    if too_big:
        return {}, f"payload over {MAX_THUMB_SOURCE_BYTES} bytes not thumbnailed"
    try:
        av = _av()
    except MissingDependency:
        return {}, "PyAV is not installed on the driver"
    try:
        stream = open_video(payload, uri, meta)
    except PayloadRefError as err:
        return {}, f"unreadable_reference: {short_message(str(err), 80)}"
    if stream is None:
        return {}, "no video bytes"
    try:
        with stream:
            return frames_at(av, stream, indices), ""
    except SplitError as err:
        return {}, f"{err.reason.value}: {short_message(str(err), 80)}"
    except (av.FFmpegError, OSError, ValueError) as err:  # FFmpeg's errors first: some are OSError subclasses
        return {}, f"does not decode: {type(err).__name__}"


def _frame_uri(bgr: Any) -> tuple[str | None, str]:
    """A BGR frame as a JPEG ``data:`` URI of at most ``THUMB_PX`` px and ``VIDEO_THUMB_MAX_CHARS`` characters."""
    from PIL import Image

    im = Image.fromarray(bgr[..., ::-1].copy())
    for quality in (70, 40):
        uri = jpeg_uri(im, THUMB_PX, quality)
        if len(uri) <= VIDEO_THUMB_MAX_CHARS:
            return uri, ""
    return None, f"thumbnail over {VIDEO_THUMB_MAX_CHARS} characters left out"
