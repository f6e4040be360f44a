"""Arrow layouts of the clip tables and the per-batch function the ``clips:`` step runs.

``VIDEOS_SCHEMA`` is what the step's ``mapInArrow`` returns: one row per video read, its clips
nested. The step writes ``<ns>.signals_clips`` from the video columns and ``<ns>.video_clips``
from the exploded ``clips``. A video that cannot be split has one clip-less *error row* among its
``clips`` (bounds null, ``error`` set), so it is in ``video_clips`` too, never dropped; a row
without video bytes at all (an image of a mixed WebDataset shard) has none (docs/video.md).

With ``materialize: true`` every clip row also carries its bytes (``spark_mm/video/materialize.py``).
Every clip row carries ``clip_phash``, the pHash of its middle keyframe, computed on the same
decode by a frame tap (``spark_mm/video/clip_hash.py``), for the ``clip_phash`` dedup method.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spark_mm.engine.fingerprint import FINGERPRINT_FIELD
from spark_mm.lake.schema import ERRORS_FIELD, RUN_ID_FIELD
from spark_mm.sources.video_bytes import PayloadRefError, open_video
from spark_mm.video.clip_hash import KeyframeHashes, clip_hashes
from spark_mm.video.ids import clip_id
from spark_mm.video.materialize import materialize
from spark_mm.video.scenes import ClipReason, SplitError, split
from spark_mm.video.step import ClipsStep

OP = "vid_scene_split"
READS: tuple[str, ...] = ("payload", "source_uri", "record_meta")

CLIP_FIELDS: tuple[pa.Field, ...] = (
    pa.field("clip_id", pa.string()),
    pa.field("clip_index", pa.int32()),  # 0-based order in the video; null on an error row
    pa.field("start_s", pa.float64()),  # seconds from the video stream's start (its first frame)
    pa.field("end_s", pa.float64()),  # exclusive: where the clip's last frame ends
    pa.field("start_frame", pa.int64()),  # frame index, presentation order
    pa.field("end_frame", pa.int64()),  # exclusive
    pa.field("start_pts", pa.int64()),  # in the stream's time base, relative to its start
    pa.field("end_pts", pa.int64()),  # exclusive
    pa.field("fps", pa.float64()),  # the stream's average frame rate
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("splitter", pa.string()),  # content | adaptive | threshold | fixed
    pa.field("splitter_params", pa.string()),  # canonical JSON: the splitter's params and the clipping options
    pa.field("keyframe_aligned", pa.bool_()),  # the first frame is a keyframe: stream copy possible
    pa.field("too_short", pa.bool_()),  # under min_clip_s, kept by short_clips: flag
    pa.field("clip_phash", pa.int64()),  # imagehash pHash (signed int64) of the middle keyframe; null on an error row
    pa.field("clip_phash_frame", pa.int64()),  # the frame index it is of (middle keyframe, else middle frame)
    pa.field("clip_bytes", pa.binary()),  # the clip as a file of its own with clips.materialize, else null
    pa.field("clip_format", pa.string()),  # its container: mp4 | webm | matroska
    pa.field("clip_method", pa.string()),  # stream_copy | reencode (spark_mm/video/materialize.py)
    pa.field("clip_bytes_error", pa.string()),  # why a materialised clip has no bytes (too large, failed)
    pa.field("error", pa.string()),  # "<reason>: <message>" on a video's error row, else null
)
CLIP_STRUCT = pa.struct(list(CLIP_FIELDS))

VIDEO_FIELDS: tuple[pa.Field, ...] = (
    pa.field("sample_id", pa.string()),
    pa.field("clip_count", pa.int32()),  # clips written to video_clips (the error row not counted)
    pa.field("clip_scene_count", pa.int32()),  # the splitter's bounds before the clipping options
    pa.field("clip_frames", pa.int64()),  # frames decoded
    pa.field("vid_scene_split_ok", pa.bool_()),
    pa.field("vid_scene_split_reason", pa.string()),  # ClipReason when not ok
    ERRORS_FIELD,
    RUN_ID_FIELD,
    FINGERPRINT_FIELD,
)
VIDEOS_SCHEMA = pa.schema([*VIDEO_FIELDS, pa.field("clips", pa.list_(CLIP_STRUCT))])
SIGNALS_SCHEMA = pa.schema(list(VIDEO_FIELDS))
# video_clips: the clip columns, the parent video after clip_id, and the run
VIDEO_CLIPS_SCHEMA = pa.schema([CLIP_FIELDS[0], pa.field("sample_id", pa.string()), *CLIP_FIELDS[1:], RUN_ID_FIELD])
VIDEO_CLIP_COLUMNS: tuple[str, ...] = tuple(VIDEO_CLIPS_SCHEMA.names)


def _column(batch: pa.RecordBatch, name: str) -> list[Any]:
    return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows


def split_row(
    av: Any, step: ClipsStep, payload: bytes | None, uri: str | None, meta: dict[str, str] | None
) -> tuple[Any, ClipReason | None, str | None, list[dict[str, Any]]]:
    """(:class:`~spark_mm.video.scenes.Split` or None, reason, error message, per-clip extra
    columns) of one row; never raises for bad input."""
    try:
        stream = open_video(payload, uri, meta)
    except PayloadRefError as err:
        return None, ClipReason.UNREADABLE_REFERENCE, str(err), []
    if stream is None:
        return None, ClipReason.MISSING_INPUT, None, []
    try:
        with stream:
            keyframes = KeyframeHashes()
            result = split(av, stream, step, taps=(keyframes,))
            bounds = [(c.start_frame, c.end_frame) for c in result.clips]
            hashes = clip_hashes(av, stream, result.frames, bounds, keyframes)
            extra = [{"clip_phash": h, "clip_phash_frame": i} for h, i in hashes]
            if step.materialize:
                files = materialize(av, stream, result.frames, result.clips, step.materialize_max_bytes)
                extra = [{**e, **f.columns()} for e, f in zip(extra, files)]
            return result, None, None, extra
    except SplitError as err:
        return None, err.reason, str(err), []
    except OSError as err:  # the referenced file failed mid-read
        return None, ClipReason.UNREADABLE_REFERENCE, f"{type(err).__name__}: {err}", []
    except Exception as err:  # noqa: BLE001 - one bad video is an error row, never a failed batch
        return None, ClipReason.DECODE_ERROR, f"{type(err).__name__}: {err}", []


def clips_batch(av: Any, batch: pa.RecordBatch, step: ClipsStep, run_id: str, fingerprint: str) -> pa.RecordBatch:
    """Split every video of ``batch`` (``sample_id`` + ``READS``): one ``VIDEOS_SCHEMA`` row per input row."""
    kind, params = step.splitter.type, step.splitter_params()
    out: dict[str, list[Any]] = {f.name: [] for f in VIDEOS_SCHEMA}
    for sid, payload, uri, meta in zip(
        batch.column("sample_id").to_pylist(), _column(batch, "payload"), _column(batch, "source_uri"), _column(batch, "record_meta")
    ):
        result, reason, message, extra = split_row(av, step, payload, uri, dict(meta) if meta else None)
        clips: list[dict[str, Any]] = []
        if result is not None:
            f = result.frames
            for c, more in zip(result.clips, extra):
                clips.append({
                    "clip_id": clip_id(sid, kind, params, c.start_frame, c.end_frame), "clip_index": c.index,
                    "start_s": c.start_s, "end_s": c.end_s, "start_frame": c.start_frame, "end_frame": c.end_frame,
                    "start_pts": c.start_pts, "end_pts": c.end_pts, "fps": float(f.fps), "width": f.width, "height": f.height,
                    "splitter": kind, "splitter_params": params, "keyframe_aligned": c.keyframe_aligned, "too_short": c.too_short, "error": None, **more,
                })
        elif reason is not ClipReason.MISSING_INPUT:
            clips.append({
                **{name: None for name in CLIP_STRUCT.names}, "clip_id": clip_id(sid, kind, params, None, None),
                "splitter": kind, "splitter_params": params, "error": f"{reason.value}: {message}",  # type: ignore[union-attr]
            })
        out["sample_id"].append(sid)
        out["clip_count"].append(len(result.clips) if result else 0)
        out["clip_scene_count"].append(len(result.scenes) if result else None)
        out["clip_frames"].append(len(result.frames) if result else None)
        out["vid_scene_split_ok"].append(reason is None)
        out["vid_scene_split_reason"].append(reason.value if reason else None)
        out["errors"].append([(OP, message)] if reason is not None and reason is not ClipReason.MISSING_INPUT else [])
        out["run_id"].append(run_id)
        out["fingerprint"].append(fingerprint)
        out["clips"].append(clips)
    return pa.RecordBatch.from_arrays([pa.array(out[f.name], f.type) for f in VIDEOS_SCHEMA], schema=VIDEOS_SCHEMA)
