"""FineWeb-Edu's educational-quality classifier (a BERT-style regression head) as a model stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models.batching import Column, Prepared
from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import HubFile, WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register

MAX_TOKENS = 512
"""FineWeb-Edu truncates its classifier's input to the tokenizer's 512 tokens."""


def int_score(score: float) -> int:
    """FineWeb-Edu's ``int(round(max(0, min(score, 5))))`` (Python's round: halves go to even).

    >>> [int_score(s) for s in (-1.0, 2.5, 3.5, 2.51, 7.0)]
    [0, 2, 4, 3, 5]
    """
    return int(round(max(0, min(score, 5))))


class TxtEduScoreParams(ModelParams):
    """Recipe step ``op: txt_edu_score``.

    Attributes:
        model: Hugging Face repo of the classifier, looked up in the cache when ``weights.path`` is unset.
        max_batch_tokens: a chunk is sorted by length and cut into sub-batches of at most this many
            padded tokens (length buckets, so short texts are not padded to 512).
    """

    op: Literal["txt_edu_score"] = "txt_edu_score"
    text_column: str = "txt_content"
    model: str = "HuggingFaceFW/fineweb-edu-classifier"
    score_column: str = "txt_edu_score"
    int_score_column: str = "txt_edu_int_score"
    batch_size: int = Field(256, ge=1)
    max_batch_tokens: int = Field(32768, ge=MAX_TOKENS)


@dataclass
class _Bundle:
    model: Any
    tokenizer: Any
    device: str
    dtype: str


@dataclass
class _Tokens:
    ids: list[list[int]]
    rows: list[int]  # row of the chunk each entry belongs to
    n: int


@register
class TxtEduScore(ModelOperator[TxtEduScoreParams]):
    """Educational value of a text, 0-5 (FineWeb-Edu, Penedo et al. 2024).

    ``score`` is the regression logit as a float; ``int_score`` the score clamped to 0-5 and
    rounded as FineWeb-Edu's code does (:func:`int_score`). FineWeb-Edu keeps int_score >= 3
    (FineWeb-Edu-score-2: >= 2). Input is truncated to 512 tokens. Null or empty texts give null
    scores. Runs on GPU or CPU.
    """

    name = "txt_edu_score"
    version = "1"
    Params = TxtEduScoreParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def output_schema(self) -> pa.Schema:
        p = self.params
        return pa.schema([pa.field(p.score_column, pa.float32()), pa.field(p.int_score_column, pa.int8())])

    def model_id(self) -> str:
        return f"hf:{self.params.model}"

    def resolve_weights(self) -> WeightsStatus:
        hub = (HubFile(self.params.model, ("model.safetensors",), directory=True),)
        advice = f"set `weights.path` to a directory holding {self.params.model} (config, tokenizer, model.safetensors)."
        return resolve(self.model_id(), self.params.weights, hub, advice)

    def load(self, location: WeightsLocation, device: str, dtype: str) -> _Bundle:
        transformers = require("transformers")
        path = location.path if location.path.is_dir() else location.path.parent
        model = transformers.AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch_dtype(dtype))
        model.to(device).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
        return _Bundle(model, tokenizer, device, dtype)

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        texts = chunk.column(self.params.text_column).to_pylist()
        rows = [i for i, t in enumerate(texts) if t]
        tok = self._model.tokenizer
        ids = tok([texts[i] for i in rows], truncation=True, max_length=MAX_TOKENS)["input_ids"] if rows else []
        order = sorted(range(len(rows)), key=lambda j: len(ids[j]))
        return Prepared(_Tokens([ids[j] for j in order], [rows[j] for j in order], chunk.num_rows), [None] * chunk.num_rows)

    def infer(self, bundle: _Bundle, inputs: _Tokens) -> dict[str, Column]:
        torch = require("torch")
        score = np.zeros(inputs.n, dtype=np.float32)
        valid = np.zeros(inputs.n, dtype=bool)
        start = 0
        while start < len(inputs.ids):
            end = start + 1  # grow the bucket while the padded size (rows x longest) fits
            while end < len(inputs.ids) and (end - start + 1) * len(inputs.ids[end]) <= self.params.max_batch_tokens:
                end += 1
            enc = bundle.tokenizer.pad({"input_ids": inputs.ids[start:end]}, padding="longest", return_tensors="pt")
            with torch.inference_mode():
                logits = bundle.model(**{k: v.to(bundle.device) for k, v in enc.items()}).logits
            rows = inputs.rows[start:end]
            score[rows] = logits[:, 0].float().cpu().numpy()
            valid[rows] = True
            start = end
        ints = np.array([int_score(float(s)) for s in score], dtype=np.int8)
        return {self.params.score_column: Column(score, valid), self.params.int_score_column: Column(ints, valid)}
