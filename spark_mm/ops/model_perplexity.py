"""CCNet's perplexity signal: a KenLM n-gram model over SentencePiece pieces, one model per language."""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from spark_mm.engine.device import DeviceChoice
from spark_mm.engine.model_cache import MODEL_CACHE, ModelKey
from spark_mm.models.batching import Column, Prepared
from spark_mm.models.ccnet import document_perplexity, line_length, normalize
from spark_mm.models.runtime import require
from spark_mm.models.weights import (
    HubFile,
    OnMissing,
    WeightsLocation,
    WeightsParams,
    WeightsStatus,
    file_digest,
    resolve,
)
from spark_mm.ops.base import OpResult, Resource
from spark_mm.ops.model_base import ModelOperator, ModelParams
from spark_mm.ops.registry import register

log = logging.getLogger(__name__)

HOW_TO_PROVIDE = (
    "download CCNet's models (cc_net `make lang=en lm`: data/lm_sp/{lang}.arpa.bin and {lang}.sp.model, "
    "from dl.fbaipublicfiles.com/cc_net/lm/) and set `weights.path` to that folder, or list the files per "
    "language under `models`, or set `hf_repo` (and `hf_subfolder`) to find them in the Hugging Face cache."
)
INSTALL = "pip install 'spark-mm[perplexity]' (kenlm, sentencepiece)"


class PerplexityReason(str, enum.Enum):
    """Why a row has no perplexity (null when it has one)."""

    MISSING_INPUT = "missing_input"  # null text
    NO_LANGUAGE = "no_language"  # null or empty language column
    NO_MODEL = "no_model"  # no model configured for the row's language
    MODEL_MISSING = "model_missing"  # a model is configured but its files are absent (on_missing: skip)
    EMPTY_TEXT = "empty_text"  # nothing left to score after CCNet's normalisation


class LangModelFiles(BaseModel):
    """The two files of one language (relative paths are under the model folder).

    Attributes:
        lm: KenLM model, ARPA text or KenLM binary (CCNet: ``{lang}.arpa.bin``).
        sp: SentencePiece model (CCNet: ``{lang}.sp.model``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    lm: str
    sp: str


class TxtPerplexityParams(ModelParams):
    """Recipe step ``op: txt_perplexity``.

    Attributes:
        lang_column: language of each row (``txt_lang`` from the ``txt_lang`` op).
        languages: languages scored with CCNet's file layout under ``weights.path`` (the model
            folder, CCNet's ``lm_dir``): ``{lang}.arpa.bin`` and ``{lang}.sp.model``.
        models: explicit files per language; overrides ``languages`` for the same language.
        hf_repo / hf_subfolder: find the folder in the Hugging Face cache instead.
        column: output column prefix (``<column>``, ``_log10``, ``_tokens``, ``_reason``).
    """

    # Paths say where the files are, not what they compute: the fingerprint carries the digest of
    # every language's two files (``weights=``), which also changes when a language is added.
    execution_only: ClassVar[frozenset[str]] = ModelParams.execution_only | {"languages", "models", "hf_repo", "hf_subfolder", "precision"}

    op: Literal["txt_perplexity"] = "txt_perplexity"
    text_column: str = "txt_content"
    lang_column: str = "txt_lang"
    languages: tuple[str, ...] = ()
    models: dict[str, LangModelFiles] = Field(default_factory=dict)
    hf_repo: str | None = None
    hf_subfolder: str = ""
    column: str = Field("txt_perplexity", pattern=r"^txt_[a-z0-9_]+$")
    batch_size: int = Field(256, ge=1)
    device: Literal["cpu"] = "cpu"  # type: ignore[assignment]  # KenLM runs on the CPU

    @model_validator(mode="after")
    def _check_models(self) -> "TxtPerplexityParams":
        if not self.languages and not self.models:
            raise ValueError(
                "txt_perplexity needs `languages` (CCNet's {lang}.arpa.bin and {lang}.sp.model under weights.path) "
                "or `models` ({lang: {lm: path, sp: path}})"
            )
        relative = [f for m in self.models.values() for f in (m.lm, m.sp) if not Path(f).expanduser().is_absolute()]
        if (relative or self.languages) and self.weights.path is None and self.hf_repo is None:
            raise ValueError(
                "txt_perplexity: `languages` and relative `models` paths are under the model folder; set weights.path "
                f"(or hf_repo), or give absolute paths (relative: {relative or list(self.languages)})"
            )
        return self

    def files(self) -> dict[str, tuple[str, str]]:
        """Language → (KenLM file, SentencePiece file), as configured (relative or absolute).

        >>> TxtPerplexityParams(languages=("en",), weights={"path": "/m"}, models={"fr": {"lm": "/x/fr.arpa", "sp": "/x/fr.sp"}}).files()
        {'en': ('en.arpa.bin', 'en.sp.model'), 'fr': ('/x/fr.arpa', '/x/fr.sp')}
        """
        out = {lang: (f"{lang}.arpa.bin", f"{lang}.sp.model") for lang in self.languages}
        out.update({lang: (m.lm, m.sp) for lang, m in self.models.items()})
        return dict(sorted(out.items()))


def row_reason(text: str | None, lang: str | None, configured: Iterable[str], available: Iterable[str]) -> PerplexityReason | None:
    """Why a row cannot be scored before its text is looked at (None: it can).

    >>> [row_reason(t, l, {"en", "fr"}, {"en"}) for t, l in [(None, "en"), ("x", None), ("x", "de"), ("x", "fr"), ("x", "en")]]
    [<PerplexityReason.MISSING_INPUT: 'missing_input'>, <PerplexityReason.NO_LANGUAGE: 'no_language'>, <PerplexityReason.NO_MODEL: 'no_model'>, <PerplexityReason.MODEL_MISSING: 'model_missing'>, None]
    """
    if text is None:
        return PerplexityReason.MISSING_INPUT
    if not lang:
        return PerplexityReason.NO_LANGUAGE
    if lang not in configured:
        return PerplexityReason.NO_MODEL
    if lang not in available:
        return PerplexityReason.MODEL_MISSING
    return None


class LanguageModels:
    """Each language's SentencePiece and KenLM models, loaded on first use (as CCNet's ``get_lm``).

    One instance per worker lives in the model cache; a corpus with few languages loads only those.
    """

    def __init__(self, files: dict[str, tuple[str, str]]) -> None:
        self.files = files
        self._sp: dict[str, Any] = {}
        self._lm: dict[str, Any] = {}
        self._lock = threading.Lock()

    def sp(self, lang: str) -> Any:
        with self._lock:
            if lang not in self._sp:
                spm = require("sentencepiece", "sentencepiece")
                self._sp[lang] = spm.SentencePieceProcessor(model_file=self.files[lang][1])
            return self._sp[lang]

    def lm(self, lang: str) -> Any:
        with self._lock:
            if lang not in self._lm:
                kenlm = require("kenlm", "kenlm")
                self._lm[lang] = kenlm.Model(self.files[lang][0])  # default config: CCNet's load_method=2
            return self._lm[lang]


@dataclass
class _Tokenized:
    langs: list[str | None]
    pieces: list[str | None]  # " ".join(pieces) per row, None when the row is not scored
    reasons: list[str | None]


@register
class TxtPerplexity(ModelOperator[TxtPerplexityParams]):
    """Document perplexity under CCNet's per-language KenLM models (Wenzek et al. 2020, CCNet §3.3).

    As CCNet's ``mine.py`` does: the document is normalised (:func:`spark_mm.models.ccnet.normalize`;
    this removes newlines, so the document becomes one line), split into SentencePiece pieces,
    each ``\\n``-separated line is scored by KenLM with ``<s>`` / ``</s>``, and
    ``perplexity = round(10 ** (-sum(log10 p) / sum(pieces + 1)), 1)``. Columns: ``<column>``
    (float64, rounded as CCNet stores it), ``<column>_log10`` (the summed log10 probability),
    ``<column>_tokens`` (the denominator) and ``<column>_reason`` (:class:`PerplexityReason`, null
    when scored). Lower is closer to the model's training text (Wikipedia for CCNet).
    CCNet's head / middle / tail buckets are corpus percentiles of this signal, assigned at curation
    (``spark_mm/lake/perplexity_buckets.py``). Runs on CPU.
    """

    name = "txt_perplexity"
    version = "1"
    Params = TxtPerplexityParams
    resource: ClassVar[Resource] = Resource.CPU

    def __init__(self, params: TxtPerplexityParams) -> None:
        super().__init__(params)
        self._available: dict[str, tuple[str, str]] = {}

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column, self.params.lang_column)

    @property
    def output_schema(self) -> pa.Schema:
        c = self.params.column
        return pa.schema([
            pa.field(c, pa.float64()),
            pa.field(f"{c}_log10", pa.float64()),
            pa.field(f"{c}_tokens", pa.int32()),
            pa.field(f"{c}_reason", pa.string()),
        ])  # fmt: skip

    def model_id(self) -> str:
        p = self.params
        return f"ccnet:{p.hf_repo or p.weights.path or p.column}"

    @property
    def available_languages(self) -> tuple[str, ...]:
        """Languages whose two files were found (after ``preflight``)."""
        self.preflight()
        return tuple(self._available)

    def _folder(self, looked: list[str]) -> tuple[Path | None, Literal["local", "hf_cache", "hub"]]:
        p = self.params
        if p.weights.path is not None:
            folder = Path(p.weights.path).expanduser()
            looked.append(f"weights.path {folder}" + ("" if folder.is_dir() else " (not a folder)"))
            if folder.is_dir():
                return folder, "local"
        if p.hf_repo is not None:
            lm = next(iter(p.files().values()))[0]
            name = f"{p.hf_subfolder.strip('/')}/{lm}" if p.hf_subfolder.strip("/") else lm
            found = resolve(self.model_id(), WeightsParams(on_missing="skip", allow_download=p.weights.allow_download), (HubFile(p.hf_repo, (name,), directory=True),))
            looked.extend(found.looked_at)
            if found.location is not None:
                return found.location.path, found.location.source  # type: ignore[return-value]
        return None, "local"

    def resolve_weights(self) -> WeightsStatus:
        """Find every language's two files; the digest covers all of them (missing ones as ``missing``).

        Under ``fail`` one missing language fails the stage; under ``skip`` the languages found are
        scored and the others' rows get ``model_missing``.
        """
        require("kenlm", "kenlm")
        require("sentencepiece", "sentencepiece")
        p = self.params
        policy = OnMissing(p.weights.on_missing)
        looked: list[str] = []
        folder, source = self._folder(looked)
        h = hashlib.sha256()
        available: dict[str, tuple[str, str]] = {}
        missing: list[str] = []
        for lang, (lm, sp) in p.files().items():
            paths = [Path(f).expanduser() for f in (lm, sp)]
            if folder is not None:
                paths = [f if f.is_absolute() else folder / f for f in paths]
            found = all(f.is_absolute() and f.is_file() for f in paths)
            looked.append(f"{lang}: " + ", ".join(f"{f}{'' if f.is_file() else ' (missing)'}" for f in paths))
            if found:
                available[lang] = (str(paths[0]), str(paths[1]))
                h.update(f"{lang}:{file_digest(paths[0])}:{file_digest(paths[1])}\n".encode())
            else:
                missing.append(lang)
                h.update(f"{lang}:missing\n".encode())
        self._available = available
        if (missing and policy is OnMissing.FAIL) or not available:
            looked.append(f"languages without their files: {missing}")
            return WeightsStatus(self.model_id(), None, tuple(looked), HOW_TO_PROVIDE, policy)
        if missing:
            log.warning("txt_perplexity: no model files for %s; their rows get reason model_missing", missing)
        anchor = folder if folder is not None else Path(next(iter(available.values()))[0]).parent
        return WeightsStatus(self.model_id(), WeightsLocation(anchor, source, h.hexdigest()), tuple(looked), HOW_TO_PROVIDE, policy)

    def load(self, location: WeightsLocation, device: str, dtype: str) -> LanguageModels:
        return LanguageModels(dict(self._available))

    def setup(self) -> None:
        """Load through the per-worker cache; KenLM is CPU-only, so no device is probed (no torch import)."""
        status = self.preflight()
        if status.location is None or self._model is not None:
            return
        self.device = DeviceChoice("cpu", (), False)
        location = status.location
        key = ModelKey(self.model_id(), location.digest, "cpu", "float32")
        self._model = MODEL_CACHE.get_or_load(key, lambda: self.load(location, "cpu", "float32"))

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        texts = chunk.column(self.params.text_column).to_pylist()
        langs = chunk.column(self.params.lang_column).to_pylist()
        configured, available = self.params.files(), self._available
        pieces: list[str | None] = [None] * len(texts)
        reasons: list[str | None] = [None] * len(texts)
        errors: list[str | None] = [None] * len(texts)
        for i, (text, lang) in enumerate(zip(texts, langs)):
            reason = row_reason(text, lang, configured, available)
            if reason is None:
                try:
                    tokens = " ".join(self._model.sp(lang).encode_as_pieces(normalize(text)))
                except (UnicodeError, RuntimeError) as err:  # a lone surrogate, a SentencePiece failure
                    errors[i] = f"txt_perplexity: cannot tokenise: {type(err).__name__}: {str(err)[:200]}"
                    continue
                if tokens:
                    pieces[i] = tokens
                else:  # CCNet's DocLM gives no perplexity to an empty tokenised document
                    reason = PerplexityReason.EMPTY_TEXT
            reasons[i] = reason.value if reason is not None else None
        return Prepared(_Tokenized(langs, pieces, reasons), errors)

    def infer(self, model: LanguageModels, inputs: _Tokenized) -> dict[str, Column]:
        n = len(inputs.pieces)
        pp, log10, tokens = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int32)
        valid = np.zeros(n, dtype=bool)
        for i, (lang, text) in enumerate(zip(inputs.langs, inputs.pieces)):
            if text is None or lang is None:
                continue
            lm = model.lm(lang)
            lines = text.split("\n")
            scores = [float(lm.score(line)) for line in lines]
            lengths = [line_length(line) for line in lines]
            pp[i], log10[i], tokens[i], valid[i] = document_perplexity(scores, lengths), sum(scores), sum(lengths), True
        reasons = np.array(inputs.reasons, dtype=object)
        c = self.params.column
        return {
            c: Column(pp, valid),
            f"{c}_log10": Column(log10, valid),
            f"{c}_tokens": Column(tokens, valid),
            f"{c}_reason": Column(reasons, np.array([r is not None for r in inputs.reasons], dtype=bool)),
        }

    def transform_stream(self, batches: Iterable[pa.RecordBatch]) -> Iterator[OpResult]:
        """As the base class, except that a skipped model (no language's files found) still says why per row."""
        self.setup()
        if not self.skipped:
            yield from super().transform_stream(batches)
            return
        configured = self.params.files()
        for batch in batches:
            texts = batch.column(self.params.text_column).to_pylist()
            langs = batch.column(self.params.lang_column).to_pylist()
            reasons = [row_reason(t, lang, configured, ()) for t, lang in zip(texts, langs)]
            schema = self.output_schema
            arrays = [pa.nulls(batch.num_rows, f.type) for f in list(schema)[:-1]]
            arrays.append(pa.array([r.value if r is not None else None for r in reasons], pa.string()))
            yield OpResult(pa.RecordBatch.from_arrays(arrays, schema=schema))
