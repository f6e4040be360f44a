"""``vid_caption``: captions of a video from its sampled frames (Data-Juicer's ``video_captioning_from_frames_mapper``).

Data-Juicer samples the frames (``all_keyframes`` by default, or ``uniform`` with ``frame_num`` 3),
captions every frame with an image-to-text model (``hf_img2seq``, ``Salesforce/blip2-opt-2.7b``) in
one ``generate(max_new_tokens=128, do_sample=True)`` call per video, decodes with
``skip_special_tokens``, strips each frame's text and joins them with ``". "``. This op does the
same over a transformers vision-to-text model given by ``weights.path`` (or the HF cache), and
writes the joined caption, the per-frame captions and their times as signals on the video's row
(Data-Juicer writes new samples instead: docs/video.md lists the deviations).

Determinism: with ``do_sample`` (Data-Juicer's default) every video is generated on its own, with
torch's RNG re-seeded to ``seed`` for it, so a caption depends on the video, the weights, the
settings and the device, not on which other videos share its batch. Without sampling (greedy or beam
search) the frames of a whole chunk go through one ``generate`` call, ``frame_batch_size`` frames at
a time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from spark_mm.models import captioner
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.runtime import require
from spark_mm.models.weights import WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.base import MISSING_INPUT, OpResult
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register
from spark_mm.ops.video_base import VideoInputs, require_modules, row_windows
from spark_mm.video.frames import Sampling
from spark_mm.video.sampled_frames import FrameProblem, sample_frames

_INSTALL = "vid_caption needs PyAV: pip install 'spark-mm[video]' (or pip install av)"
JOIN = ". "  # Data-Juicer joins the frames' captions with '. '


class VidCaptionReason(str, enum.Enum):
    """Why a video has no caption (``vid_caption_ok`` false)."""

    MISSING_INPUT = MISSING_INPUT  # neither a payload nor a payload reference
    DECODE_ERROR = "decode_error"  # not a video, or no frame decodes
    UNREADABLE_REFERENCE = "unreadable_reference"  # the referenced file is gone or shorter
    PREPROCESS_ERROR = "preprocess_error"  # the model's processor rejected the frames
    EMPTY_CAPTION = "empty_caption"  # the model generated no text for any frame
    MODEL_MISSING = "model_missing"  # weights not found under weights.on_missing: skip


class VidCaptionParams(ModelParams):
    """Recipe step ``op: vid_caption``. Defaults are Data-Juicer's (docs/video.md, ``vid_caption``).

    Generation settings left ``None`` are not passed to ``generate``, so the model's own
    ``generation_config`` applies, as in Data-Juicer's call (which passes only ``max_new_tokens``
    and ``do_sample``).
    """

    # How the frames are batched does not change a caption (module docstring).
    execution_only: ClassVar[frozenset[str]] = ModelParams.execution_only | {"frame_batch_size"}

    op: Literal["vid_caption"] = "vid_caption"
    model: str = Field(captioner.DEFAULT_MODEL, description="HF id looked up in the cache when weights.path is unset (Data-Juicer's hf_img2seq)")
    frames: str = Field("keyframes", description="keyframes | uniform(n): Data-Juicer's frame_sampling_method all_keyframes, frame_num 3")
    prompt: str | None = Field(None, description="text given with every frame (Data-Juicer's prompt, default none)")
    max_new_tokens: int = Field(128, ge=1, description="Data-Juicer's 128")
    do_sample: bool = Field(True, description="Data-Juicer's True")
    num_beams: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, gt=0.0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0)
    seed: int = Field(0, ge=0, description="torch RNG seed per video when do_sample")
    horizontal_flip: bool = False
    vertical_flip: bool = False
    payload_column: str = "payload"
    uri_column: str = "source_uri"
    meta_column: str = "record_meta"
    caption_column: str = "vid_caption"
    batch_size: int = Field(8, ge=1, description="videos per chunk")
    frame_batch_size: int = Field(32, ge=1, description="frames per generate call")

    @field_validator("frames")
    @classmethod
    def _frames(cls, v: str) -> str:
        return str(Sampling.parse(v))

    def generation_settings(self) -> dict[str, Any]:
        """Keyword arguments of ``generate``: the set ones only.

        >>> VidCaptionParams().generation_settings()
        {'max_new_tokens': 128, 'do_sample': True}
        """
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        for k in ("num_beams", "temperature", "top_k", "top_p", "repetition_penalty"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out


@dataclass
class _Inputs:
    """Processor outputs per row (None where the row has no frames) and the frames' seconds."""

    per_row: list[dict[str, Any] | None]
    seconds: list[list[float]]
    reasons: list[str | None]


def join_captions(texts: Iterable[str]) -> str:
    """Data-Juicer's reduction of the frames' captions: each stripped, joined with ``". "``.

    >>> join_captions([" a cat ", "a dog"])
    'a cat. a dog'
    """
    return JOIN.join(t.strip() for t in texts)


@register
class VidCaption(VideoInputs, ModelOperator[VidCaptionParams]):
    """Caption of a video (of its clip window in a stage ``over: clips``): a vision-to-text model
    over its sampled frames (Data-Juicer's frames captioner).

    Signals: ``vid_caption`` (the frames' captions, stripped, joined with ``". "``),
    ``vid_caption_frames`` (list of the per-frame captions), ``vid_caption_frame_s`` (list of the
    frames' times, seconds), ``vid_caption_ok`` (a caption was written) and ``vid_caption_reason``
    (:class:`VidCaptionReason`, null when ok). A row that is not a video or does not decode gets
    ``decode_error`` and an error entry; a row without a video ``missing_input``; under
    ``weights.on_missing: skip`` without weights every row gets ``model_missing`` (or
    ``missing_input``).
    """

    name = "vid_caption"
    version = "1"
    Params = VidCaptionParams
    Reason = VidCaptionReason

    def __init__(self, params: VidCaptionParams) -> None:
        super().__init__(params)
        require_modules(("av",), _INSTALL)  # fail at plan time, on the driver
        self._sampling = Sampling.parse(params.frames)

    @property
    def output_schema(self) -> pa.Schema:
        c = self.params.caption_column
        return pa.schema([
            pa.field(c, pa.string()),
            pa.field(f"{c}_frames", pa.list_(pa.string())),
            pa.field(f"{c}_frame_s", pa.list_(pa.float64())),
            pa.field("vid_caption_ok", pa.bool_()),
            pa.field("vid_caption_reason", pa.string()),
        ])  # fmt: skip

    def model_id(self) -> str:
        return f"transformers:{self.params.weights.path or self.params.model}"

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        return resolve(self.model_id(), p.weights, captioner.hub_files(p.model), captioner.how_to_provide(p.model))

    def load(self, location: WeightsLocation, device: str, dtype: str) -> captioner.CaptionerBundle:
        return captioner.load_captioner(location, device, dtype)

    def _rows(self, chunk: pa.RecordBatch) -> list[tuple[Any, Any, Any, Any]]:
        p = self.params

        def col(name: str) -> list[Any]:
            return chunk.column(name).to_pylist() if name in chunk.schema.names else [None] * chunk.num_rows

        return list(zip(col(p.payload_column), col(p.uri_column), col(p.meta_column), row_windows(chunk)))

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        from PIL import Image, ImageOps

        p = self.params
        bundle: captioner.CaptionerBundle = self._model

        def one(row: tuple[Any, Any, Any, Any]) -> tuple[dict[str, Any] | None, list[float], str | None, str | None]:
            got = sample_frames(row[0], row[1], dict(row[2]) if row[2] else None, self._sampling, row[3])
            if got.problem is not None:
                error = None if got.problem is FrameProblem.MISSING_INPUT else f"{got.problem.value}: {got.message}"[:300]
                return None, [], got.problem.value, error
            images = []
            for f in got.images:
                im = Image.fromarray(f)
                im = ImageOps.mirror(im) if p.horizontal_flip else im
                images.append(ImageOps.flip(im) if p.vertical_flip else im)
            try:
                inputs = captioner.preprocess(bundle, images, p.prompt)
            except Exception as err:  # noqa: BLE001 - one bad video is a reason, never a failed batch
                return None, [], VidCaptionReason.PREPROCESS_ERROR.value, f"preprocess_error: {type(err).__name__}: {err}"[:300]
            return inputs, got.seconds, None, None

        results = list(self.decode_pool.map(one, self._rows(chunk)))
        inputs = _Inputs([r[0] for r in results], [r[1] for r in results], [r[2] for r in results])
        return Prepared(inputs, [r[3] for r in results])

    def _generate(self, bundle: captioner.CaptionerBundle, per_row: list[dict[str, Any]]) -> list[str]:
        """Captions of the frames of ``per_row`` (concatenated in order), ``frame_batch_size`` at a time."""
        torch = require("torch")
        keys = list(per_row[0])
        merged = {k: torch.cat([r[k] for r in per_row]) for k in keys}
        total = int(merged[keys[0]].shape[0])
        step = self.params.frame_batch_size
        settings = self.params.generation_settings()
        out: list[str] = []
        for start in range(0, total, step):
            part = {k: v[start : start + step] for k, v in merged.items()}
            out.extend(captioner.generate(bundle, part, settings))
        return out

    def infer(self, model: captioner.CaptionerBundle, inputs: _Inputs) -> dict[str, Column]:
        torch = require("torch")
        n = len(inputs.per_row)
        rows = [i for i, x in enumerate(inputs.per_row) if x is not None]
        frame_texts: dict[int, list[str]] = {}
        if rows and self.params.do_sample:
            devices = [torch.device(model.device).index or 0] if str(model.device).startswith("cuda") else []
            for i in rows:  # one call per video, RNG re-seeded: independent of the batch
                with torch.random.fork_rng(devices=devices):
                    torch.manual_seed(self.params.seed)
                    frame_texts[i] = self._generate(model, [inputs.per_row[i]])  # type: ignore[list-item]
        elif rows:
            texts = self._generate(model, [inputs.per_row[i] for i in rows])  # type: ignore[misc]
            at = 0
            for i in rows:
                k = int(next(iter(inputs.per_row[i].values())).shape[0])  # type: ignore[union-attr]
                frame_texts[i], at = texts[at : at + k], at + k
        caption = np.empty(n, dtype=object)
        frames = np.empty(n, dtype=object)
        seconds = np.empty(n, dtype=object)
        has = np.zeros(n, dtype=bool)
        reasons = np.array(inputs.reasons, dtype=object)
        for i, texts in frame_texts.items():
            caption[i] = join_captions(texts)
            frames[i] = [t.strip() for t in texts]
            seconds[i] = list(inputs.seconds[i])
            has[i] = True
            if not any(frames[i]):
                reasons[i] = VidCaptionReason.EMPTY_CAPTION.value
        ok = np.array([r is None for r in reasons], dtype=bool)
        c = self.params.caption_column
        return {
            c: Column(caption, has),
            f"{c}_frames": Column(frames, has),
            f"{c}_frame_s": Column(seconds, has),
            "vid_caption_ok": Column(ok, np.ones(n, dtype=bool)),
            "vid_caption_reason": Column(reasons, ~ok),
        }

    def transform_stream(self, batches: Iterable[pa.RecordBatch]) -> Iterator[OpResult]:
        """As the base class, except that a skipped model still says why per row (``model_missing``)."""
        self.setup()
        if not self.skipped:
            yield from super().transform_stream(batches)
            return
        schema = self.output_schema
        for batch in batches:
            reasons = [
                VidCaptionReason.MISSING_INPUT.value if payload is None and uri is None else VidCaptionReason.MODEL_MISSING.value
                for payload, uri, _, _ in self._rows(batch)
            ]
            arrays = [pa.nulls(batch.num_rows, f.type) for f in list(schema)[:-2]]
            arrays += [pa.array([False] * batch.num_rows, pa.bool_()), pa.array(reasons, pa.string())]
            yield OpResult(pa.RecordBatch.from_arrays(arrays, schema=schema))
