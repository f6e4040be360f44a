"""DCLM's fastText quality classifier scoring, for any supervised fastText classifier file."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from spark_mm.models.batching import Column, Prepared
from spark_mm.models.runtime import require
from spark_mm.models.weights import HubFile, WeightsLocation, WeightsStatus, resolve
from spark_mm.ops.base import Resource
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register

HOW_TO_PROVIDE = (
    "download the classifier .bin (DCLM's: mlfoundations/fasttext-oh-eli5, "
    "openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin) and set `weights.path` to it, "
    "or set `hf_repo` / `hf_filename` to find it in the Hugging Face cache."
)


def dclm_text(text: str) -> str:
    """The line fastText sees: DCLM's ``" ".join(text.strip().splitlines())``.

    >>> dclm_text("  a\\nb\\r\\nc  \\n")
    'a b c'
    """
    return " ".join(text.strip().splitlines())


def positive_probability(label: str, prob: float, positive_label: str) -> float:
    """DCLM's score from the top-1 prediction: its probability if it is the positive label, else 1 - it.

    >>> positive_probability("__label__hq", 0.75, "__label__hq"), positive_probability("__label__cc", 0.75, "__label__hq")
    (0.75, 0.25)
    """
    p = min(float(prob), 1.0)  # fastText can return 1.00001 after its softmax epsilon
    return p if label == positive_label else 1.0 - p


class TxtFasttextQualityParams(ModelParams):
    """Recipe step ``op: txt_fasttext_quality``; several can run in one stage (distinct ``score_column``).

    Attributes:
        positive_label: the high-quality label as the model names it (DCLM: ``__label__hq``).
        score_column: output column (probability of ``positive_label``).
        hf_repo / hf_filename: where to find the file in the Hugging Face cache (optional).
    """

    execution_only: ClassVar[frozenset[str]] = ModelParams.execution_only | {"hf_repo", "hf_filename"}

    op: Literal["txt_fasttext_quality"] = "txt_fasttext_quality"
    text_column: str = "txt_content"
    positive_label: str = "__label__hq"
    score_column: str = "txt_fasttext_quality"
    hf_repo: str | None = None
    hf_filename: str | None = None
    batch_size: int = Field(512, ge=1)


@register
class TxtFasttextQuality(ModelOperator[TxtFasttextQualityParams]):
    """Probability that a text is high quality under a fastText classifier (DCLM, Li et al. 2024).

    Scoring follows DCLM's ``classify_fasttext_hq_prob``: lines joined with spaces, top-1
    prediction, probability of ``positive_label`` (1 - p when the top label is another one). DCLM
    keeps score >= 0.018112 (its top 10%). Null or blank texts give a null score without an error.
    Runs on CPU (fastText inference, ``fasttext-predict``).
    """

    name = "txt_fasttext_quality"
    version = "1"
    Params = TxtFasttextQualityParams
    resource: ClassVar[Resource] = Resource.CPU

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(self.params.score_column, pa.float32())])

    def model_id(self) -> str:
        return f"fasttext:{self.params.hf_repo or self.params.weights.path or self.params.score_column}"

    def resolve_weights(self) -> WeightsStatus:
        p = self.params
        hub = (HubFile(p.hf_repo, (p.hf_filename,)),) if p.hf_repo and p.hf_filename else ()
        return resolve(self.model_id(), p.weights, hub, HOW_TO_PROVIDE)

    def load(self, location: WeightsLocation, device: str, dtype: str) -> Any:
        fasttext = require("fasttext", "fasttext-predict")
        return fasttext.load_model(str(location.path))

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        texts = chunk.column(self.params.text_column).to_pylist()
        lines = [dclm_text(t) if t is not None else None for t in texts]
        return Prepared([line if line else None for line in lines], [None] * len(texts))

    def infer(self, model: Any, inputs: list[str | None]) -> dict[str, Column]:
        score = np.zeros(len(inputs), dtype=np.float32)
        valid = np.zeros(len(inputs), dtype=bool)
        for i, line in enumerate(inputs):
            if line is None:
                continue
            # one call per text: fasttext-predict's list form (multilinePredict) is broken
            labels, probs = model.predict(line, k=1)
            if len(labels):
                score[i] = positive_probability(labels[0], probs[0], self.params.positive_label)
                valid[i] = True
        return {self.params.score_column: Column(score, valid)}
