"""The ``clips:`` section of a recipe: split every video into clips into ``<ns>.video_clips``.

A splitter (a PySceneDetect detector, or a fixed stride) finds the clip bounds; NeMo Curator's
clipping options then split long clips, trim edges, drop (or flag) short ones and cap the count.
Defaults reproduce Data-Juicer's ``video_split_by_scene_mapper`` (ContentDetector, threshold
27.0, ``min_scene_len`` 15 frames) with every clipping option off; docs/video.md lists the
sources of every default.

>>> s = ClipsStep()
>>> (s.splitter.type, s.splitter.threshold, s.splitter.min_scene_len, s.op_id)
('content', 27.0, 15, 'vid_scene_split@1')
>>> s.splitter_params()
'{"crop_s":null,"kernel_size":null,"limit_clips":null,"luma_only":false,"max_clip_mode":"stride","max_clip_s":null,"min_clip_s":null,"min_scene_len":15,"short_clips":"drop","threshold":27.0}'
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

VERSION = "1"  # bump when splitting or a clipping rule changes the clips it writes


class _Splitter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContentSplitter(_Splitter):
    """PySceneDetect's ``ContentDetector`` (HSV/edge content change between frames); Data-Juicer's default."""

    type: Literal["content"] = "content"
    threshold: float = Field(27.0, ge=0.0, description="Data-Juicer's and PySceneDetect's default")
    min_scene_len: int = Field(15, ge=0, description="frames; Data-Juicer's and PySceneDetect's default")
    luma_only: bool = False
    kernel_size: int | None = Field(None, ge=3, description="edge dilation kernel (odd); None: PySceneDetect's estimate from the frame size")


class AdaptiveSplitter(_Splitter):
    """PySceneDetect's ``AdaptiveDetector`` (content change relative to a rolling average)."""

    type: Literal["adaptive"] = "adaptive"
    adaptive_threshold: float = Field(3.0, ge=0.0, description="PySceneDetect's default (Data-Juicer passes its threshold, 27.0, here)")
    min_scene_len: int = Field(15, ge=0, description="frames")
    window_width: int = Field(2, ge=1)
    min_content_val: float = Field(15.0, ge=0.0)
    luma_only: bool = False
    kernel_size: int | None = Field(None, ge=3)


class ThresholdSplitter(_Splitter):
    """PySceneDetect's ``ThresholdDetector`` (fades to and from black)."""

    type: Literal["threshold"] = "threshold"
    threshold: float = Field(12.0, ge=0.0, le=255.0, description="mean 8-bit intensity; PySceneDetect's default (Data-Juicer passes 27.0)")
    min_scene_len: int = Field(15, ge=0, description="frames")
    fade_bias: float = Field(0.0, ge=-1.0, le=1.0)
    add_final_scene: bool = False
    method: Literal["floor", "ceiling"] = "floor"


class FixedSplitter(_Splitter):
    """Fixed-length clips every ``clip_stride_s`` seconds (NeMo Curator's ``FixedStrideExtractorStage``)."""

    type: Literal["fixed"] = "fixed"
    clip_len_s: float = Field(10.0, gt=0.0, description="NeMo Curator's default")
    clip_stride_s: float | None = Field(None, gt=0.0, description="default: clip_len_s (back-to-back clips)")


Splitter = Annotated[Union[ContentSplitter, AdaptiveSplitter, ThresholdSplitter, FixedSplitter], Field(discriminator="type")]
SPLITTER_TYPES: tuple[str, ...] = ("content", "adaptive", "threshold", "fixed")


# options that do not move a clip's bounds: kept out of splitter_params, so out of clip_id
_NOT_BOUNDS = ("max_error_rate", "allow_all_errors", "materialize", "materialize_max_bytes")


class ClipsStep(BaseModel):
    """One row per clip into ``<ns>.video_clips``, one row per video into ``<ns>.signals_clips``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    splitter: Splitter = Field(default_factory=ContentSplitter)
    max_clip_s: float | None = Field(None, gt=0.0, description="split (stride) or cut (truncate) clips longer than this; NeMo Curator: 10.0")
    max_clip_mode: Literal["stride", "truncate"] = Field("stride", description="NeMo Curator's max_length_mode")
    crop_s: float | None = Field(None, gt=0.0, description="trim this much off both ends of every clip; NeMo Curator: 0.5")
    min_clip_s: float | None = Field(None, gt=0.0, description="clips shorter than this are dropped or flagged; NeMo Curator: 2.0")
    short_clips: Literal["drop", "flag"] = Field("drop", description="drop short clips (NeMo Curator) or keep them with too_short=true")
    limit_clips: int | None = Field(None, ge=1, description="keep at most this many clips per video (the first ones)")
    materialize: bool = Field(False, description="write each clip's bytes into video_clips (stream copy on keyframe bounds, else re-encode)")
    materialize_max_bytes: int = Field(64 << 20, ge=1, description="a materialised clip above this gets no bytes and a clip_bytes_error")
    max_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="overrides run.max_error_rate for this step")
    allow_all_errors: bool | None = Field(None, description="overrides run.allow_all_errors for this step")

    @property
    def op_id(self) -> str:
        """``vid_scene_split@<version>``, recorded in lineage (``spark-mm.ops``)."""
        return f"vid_scene_split@{VERSION}"

    def splitter_params(self) -> str:
        """Canonical JSON of the splitter's parameters and the clipping options (sorted keys, no
        spaces, no ``type``): stored per clip and hashed into ``clip_id``."""
        values = {**self.splitter.model_dump(mode="json", exclude={"type"}), **self.model_dump(mode="json", exclude={"splitter", *_NOT_BOUNDS})}
        return json.dumps(values, sort_keys=True, separators=(",", ":"))

    def fingerprint(self) -> str:
        """16 hex of SHA-256 over the version, the splitter and its parameters, stored per video row."""
        text = f"{self.op_id} {self.splitter.type} {self.splitter_params()}"
        if self.materialize:  # clip bytes are part of the output; the clip ids are not affected
            text += f" materialize {self.materialize_max_bytes}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]
