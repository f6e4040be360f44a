"""Web-text quality filters (Gopher, C4 + bad words, FineWeb, RefinedWeb line corrections,
length) and the PII mapper, over Rust kernels.

Every operator here is a thin declaration over one kernel call, ``_native.txt_rules``: the kernel
analyses each document once (spaCy-style English words, lines, lengths) and evaluates the rule.
Parameters are frozen pydantic models whose defaults are the published settings; a test checks
them against the kernel's own reference defaults (``_native.txt_rule_defaults``).

Reason codes follow datatrove's filter reasons, so counts read the same as its stats.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from spark_mm import _native
from spark_mm.errors import ConfigError
from spark_mm.ops.base import Filter, FilterDecision, Operator, OpParams, OpResult, TextRewrite
from spark_mm.ops.registry import register
from spark_mm.ops.thresholds import Bound, Threshold, column

DEFAULT_TEXT_COLUMN = "txt_content"


def run_rules(texts: pa.Array, specs: list[dict[str, Any]], languages: pa.Array | None = None) -> pa.RecordBatch:
    """Run kernel rule specs over a string column; returns the kernel's columns (``error`` last).

    ``languages`` (same length, optional) is each row's language code, read by the bad-words rule.

    >>> b = run_rules(pa.array(["a b c"]), [{"name": "n", "rule": "length",
    ...     "params": {"min_chars": None, "max_chars": None, "min_words": 5, "max_words": None}}])
    >>> b.column("n_reason").to_pylist()
    ['too_few_words']
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if isinstance(languages, pa.ChunkedArray):
        languages = languages.combine_chunks()
    return pa.RecordBatch.from_struct_array(pa.array(_native.txt_rules(texts, json.dumps(specs), languages)))


class _TextRule(Filter[Any]):
    """A filter backed by one ``txt_rules`` kernel rule. Subclasses set ``rule`` and ``params_json``."""

    rule: ClassVar[str]

    @property
    def language_column(self) -> str | None:
        """A per-row language column the rule reads (only the bad-words rule has one)."""
        return None

    @property
    def reads(self) -> tuple[str, ...]:
        lang = self.language_column
        return (self.params.text_column,) if lang is None else (self.params.text_column, lang)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        # a null language falls back to the rule's default; only a null text is missing input
        return (self.params.text_column,)

    def rule_params(self) -> dict[str, Any]:
        """The kernel parameters (the params model minus operator-only fields)."""
        return self.params.model_dump(exclude={"op", "text_column"})

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.rule, "params": self.rule_params()}

    def fusion_key(self) -> tuple[str, ...] | None:
        # Consecutive rules over the same text column share one kernel call (one tokenisation).
        return ("txt_rules", self.params.text_column)

    @classmethod
    def apply_group(cls, ops: list[Operator], batch: pa.RecordBatch) -> list[OpResult]:  # type: ignore[type-arg]
        rules = [op for op in ops if isinstance(op, _TextRule)]
        # one kernel call per distinct language column (rules without one join the first call)
        langs = list(dict.fromkeys(op.language_column for op in rules if op.language_column is not None)) or [None]
        outs = {}
        for i, lang in enumerate(langs):
            members = [op for op in rules if op.language_column == lang or (i == 0 and op.language_column is None)]
            out = run_rules(batch.column(rules[0].params.text_column), [op.spec() for op in members],
                            None if lang is None else batch.column(lang))
            outs.update({id(op): out for op in members})
        results = []
        for op in rules:
            result = op.result_from(op.decision_from(outs[id(op)]), batch)
            op.check(batch, result)
            results.append(result)
        return results

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        lang = self.language_column
        return self.decision_from(
            run_rules(batch.column(self.params.text_column), [self.spec()], None if lang is None else batch.column(lang))
        )

    def decision_from(self, out: pa.RecordBatch) -> FilterDecision:
        """This rule's decision from a kernel output that may hold other rules' columns too."""
        signals = out.select([f.name for f in self.signal_schema]) if len(self.signal_schema) else None
        errors = out.column("error")
        return FilterDecision(
            ok=out.column(f"{self.name}_ok"),
            reason=out.column(f"{self.name}_reason"),
            signals=signals,
            errors=errors if errors.null_count < len(errors) else None,
        )


# --- Gopher quality ----------------------------------------------------------------------------


class TxtGopherQualityParams(OpParams):
    op: Literal["txt_gopher_quality"] = "txt_gopher_quality"
    text_column: str = DEFAULT_TEXT_COLUMN
    min_doc_words: int | None = Field(50, ge=0)
    max_doc_words: int | None = Field(100_000, ge=0)
    min_avg_word_length: float | None = 3.0
    max_avg_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")

    def threshold_signals(self) -> dict[str, Threshold]:
        """Word count and mean word length are stored; the ratio and stop-word rules are not."""
        words, mean_len = column("txt_gopher_quality_n_words"), column("txt_gopher_quality_mean_word_len")
        candidates = {
            "min_doc_words": Threshold(words, Bound.LOWER, integer=True, minimum=0),
            "max_doc_words": Threshold(words, Bound.UPPER, integer=True, minimum=0),
            "min_avg_word_length": Threshold(mean_len, Bound.LOWER, minimum=0.0),
            "max_avg_word_length": Threshold(mean_len, Bound.UPPER, minimum=0.0),
        }
        return {k: t for k, t in candidates.items() if (getattr(self, k) or 0) > 0}  # 0 and None disable


class GopherQualityReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    SHORT_DOC = "gopher_short_doc"
    LONG_DOC = "gopher_long_doc"
    BELOW_AVG = "gopher_below_avg_threshold"
    ABOVE_AVG = "gopher_above_avg_threshold"
    TOO_MANY_HASHES = "gopher_too_many_hashes"
    TOO_MANY_ELLIPSIS = "gopher_too_many_ellipsis"
    TOO_MANY_BULLETS = "gopher_too_many_bullets"
    TOO_MANY_END_ELLIPSIS = "gopher_too_many_end_ellipsis"
    BELOW_ALPHA = "gopher_below_alpha_threshold"
    NOT_ENOUGH_STOP_WORDS = "gopher_enough_stop_words"


@register
class TxtGopherQuality(_TextRule):
    """Gopher quality heuristics (Rae et al. 2021, App. A; thresholds of datatrove's filter).

    Signals: ``txt_gopher_quality_n_words`` (words with a non-punctuation character),
    ``txt_gopher_quality_mean_word_len`` (characters). Checks, in order: 50..100,000 words, mean
    word length 3..10, ``#`` and ellipsis per word <= 0.1, <= 90% bullet lines, <= 30% lines
    ending in an ellipsis, >= 80% words with a letter, >= 2 distinct stop words.
    Reasons: :class:`GopherQualityReason` (datatrove's names).
    """

    name = "txt_gopher_quality"
    version = "2"
    Params = TxtGopherQualityParams
    Reason = GopherQualityReason
    rule = "gopher_quality"

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([(f"{self.name}_n_words", pa.int32()), (f"{self.name}_mean_word_len", pa.float32())])

    def rule_params(self) -> dict[str, Any]:
        d = super().rule_params()
        d["stop_words"] = list(d["stop_words"])
        return d


# --- Gopher repetition -------------------------------------------------------------------------


class TxtGopherRepetitionParams(OpParams):
    op: Literal["txt_gopher_repetition"] = "txt_gopher_repetition"
    text_column: str = DEFAULT_TEXT_COLUMN
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

    @model_validator(mode="after")
    def _n_ranges(self) -> TxtGopherRepetitionParams:
        if any(not 2 <= n <= 4 for n, _ in self.top_n_grams):
            raise ValueError("top_n_grams: n must be in 2..4 (the Gopher paper's range)")
        if any(not 5 <= n <= 10 for n, _ in self.dup_n_grams):
            raise ValueError("dup_n_grams: n must be in 5..10 (the Gopher paper's range)")
        return self


class GopherRepetitionReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    EMPTY = "empty"
    DUP_PARA_FRAC = "dup_para_frac"
    DUP_PARA_CHAR_FRAC = "dup_para_char_frac"
    DUP_LINE_FRAC = "dup_line_frac"
    DUP_LINE_CHAR_FRAC = "dup_line_char_frac"
    TOP_2_GRAM = "top_2_gram"
    TOP_3_GRAM = "top_3_gram"
    TOP_4_GRAM = "top_4_gram"
    DUP_5 = "duplicated_5_n_grams"
    DUP_6 = "duplicated_6_n_grams"
    DUP_7 = "duplicated_7_n_grams"
    DUP_8 = "duplicated_8_n_grams"
    DUP_9 = "duplicated_9_n_grams"
    DUP_10 = "duplicated_10_n_grams"


@register
class TxtGopherRepetition(_TextRule):
    """Gopher repetition removal (Rae et al. 2021, Table A1): duplicate lines/paragraphs (by
    count and by characters), the most frequent 2..4-gram's character share, and the character
    share of duplicated 5..10-grams. Reasons: :class:`GopherRepetitionReason` (datatrove's names).
    """

    name = "txt_gopher_repetition"
    version = "2"
    Params = TxtGopherRepetitionParams
    Reason = GopherRepetitionReason
    rule = "gopher_repetition"

    def rule_params(self) -> dict[str, Any]:
        d = super().rule_params()
        d["top_n_grams"] = [list(x) for x in d["top_n_grams"]]
        d["dup_n_grams"] = [list(x) for x in d["dup_n_grams"]]
        return d


# --- C4 ----------------------------------------------------------------------------------------

C4_VARIANTS: dict[str, dict[str, Any]] = {
    # TFDS c4_utils: end marks . ? ! " ; >= 5 words per line; >= 3 sentences per page
    "tfds": {"end_marks": (".", "?", "!", '"'), "min_num_sentences": 3, "min_words_per_line": 5},
    # datatrove C4QualityFilter: adds ' as end mark; >= 3 words per line; >= 5 sentences
    "datatrove": {"end_marks": (".", "?", "!", '"', "'"), "min_num_sentences": 5, "min_words_per_line": 3},
}


class TxtC4Params(OpParams):
    """C4 settings. ``variant`` picks the defaults of the fields left unset."""

    op: Literal["txt_c4"] = "txt_c4"
    text_column: str = DEFAULT_TEXT_COLUMN
    variant: Literal["tfds", "datatrove"] = "tfds"
    end_marks: tuple[str, ...] | None = None
    min_num_sentences: int | None = Field(None, ge=-1, description="-1 disables")
    min_words_per_line: int | None = Field(None, ge=-1, description="-1 disables")
    max_word_length: int = Field(1000, ge=-1, description="-1 disables")
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    emit_text: bool = Field(False, description="add txt_c4_text: the kept lines (what C4 publishes)")

    def threshold_signals(self) -> dict[str, Threshold]:
        """The sentence count of the kept lines is stored; words per line and word length are not."""
        sentences = self.min_num_sentences if self.min_num_sentences is not None else C4_VARIANTS[self.variant]["min_num_sentences"]
        if sentences == -1:
            return {}
        return {"min_num_sentences": Threshold(column("txt_c4_sentences"), Bound.LOWER, integer=True, minimum=0, effective=sentences)}


class C4Reason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    LOREM_IPSUM = "lorem_ipsum"
    CURLY_BRACKET = "curly_bracket"
    TOO_FEW_SENTENCES = "too_few_sentences"


@register
class TxtC4(_TextRule):
    """C4 cleaning rules (Raffel et al. 2020, §2.2; TFDS ``c4_utils.clean_page``).

    Line rules drop lines (no terminal mark or ending in "...", fewer words than
    ``min_words_per_line``, a word over ``max_word_length`` characters, "javascript", cookie /
    terms-of-use phrases; Wikipedia citation marks are removed); page rules drop the page.
    ``variant="tfds"`` is the original code, ``"datatrove"`` datatrove's defaults (FineWeb ran it
    with ``filter_no_terminal_punct=False``). The bad-words list rule of C4 is a separate filter
    (see :class:`TxtC4BadWords`). Signals: ``txt_c4_sentences`` (sentences in kept lines) and, with ``emit_text``,
    ``txt_c4_text`` (kept lines joined by newlines). Reasons: :class:`C4Reason`.
    """

    name = "txt_c4"
    version = "2"
    Params = TxtC4Params
    Reason = C4Reason
    rule = "c4"

    @property
    def signal_schema(self) -> pa.Schema:
        fields = [pa.field(f"{self.name}_sentences", pa.int32())]
        if self.params.emit_text:
            fields.append(pa.field(f"{self.name}_text", pa.string()))
        return pa.schema(fields)

    def rule_params(self) -> dict[str, Any]:
        p = self.params
        v = C4_VARIANTS[p.variant]
        return {
            "remove_citations": p.remove_citations,
            "filter_no_terminal_punct": p.filter_no_terminal_punct,
            "end_marks": list(p.end_marks if p.end_marks is not None else v["end_marks"]),
            "min_num_sentences": p.min_num_sentences if p.min_num_sentences is not None else v["min_num_sentences"],
            "min_words_per_line": p.min_words_per_line if p.min_words_per_line is not None else v["min_words_per_line"],
            "max_word_length": p.max_word_length,
            "filter_lorem_ipsum": p.filter_lorem_ipsum,
            "filter_javascript": p.filter_javascript,
            "filter_curly_bracket": p.filter_curly_bracket,
            "filter_policy": p.filter_policy,
            "emit_text": p.emit_text,
        }


# --- C4 bad words ------------------------------------------------------------------------------

_LDNOOBW_HINT = (
    "give the List of Dirty, Naughty, Obscene or Otherwise Bad Words in its own layout (one word or "
    "phrase per line), e.g. bad_words_files: {en: /data/ldnoobw/en} (datatrove pins LDNOOBW commit "
    "25e679f03d96baa721cde20db9944649e8d0a844 for 'en'); the list is not shipped with spark-mm"
)


class TxtC4BadWordsParams(OpParams):
    """C4 bad-words settings: one LDNOOBW-layout list file per language code."""

    op: Literal["txt_c4_badwords"] = "txt_c4_badwords"
    text_column: str = DEFAULT_TEXT_COLUMN
    bad_words_files: dict[str, str] = Field(default_factory=dict, description="language code -> list file")
    language_column: str | None = Field(None, description="per-row language (e.g. txt_lang); None: default_language")
    default_language: str = "en"
    keep_fraction: float = Field(0.0, ge=0.0, le=1.0, description="share of matching pages kept anyway")
    seed: int = Field(0, ge=0, lt=2**64)

    @model_validator(mode="after")
    def _files_exist(self) -> TxtC4BadWordsParams:
        if not self.bad_words_files:
            raise ValueError(f"bad_words_files: no list given; {_LDNOOBW_HINT}")
        for lang, path in self.bad_words_files.items():
            if not Path(path).is_file():
                raise ValueError(f"bad_words_files.{lang}: {path!r} is not a file; {_LDNOOBW_HINT}")
        if self.language_column is None and self.default_language not in self.bad_words_files:
            raise ValueError(
                f"default_language: {self.default_language!r} has no list in bad_words_files "
                f"(lists for {sorted(self.bad_words_files)}); add one or set language_column"
            )
        return self


def read_word_list(path: str | Path) -> list[str]:
    """Entries of a word list file (LDNOOBW, datatrove URL lists): one entry per line, stripped, blanks dropped.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False); _ = f.write("darn\\n dang it \\n\\n"); f.close()
    >>> read_word_list(f.name)
    ['darn', 'dang it']
    >>> os.unlink(f.name)
    """
    with open(path, encoding="utf-8") as fh:
        return [w for w in (line.strip() for line in fh) if w]


class C4BadWordsReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    BAD_WORDS = "document_removed_with_badwords"


@register
class TxtC4BadWords(_TextRule):
    """C4's bad-words rule (Raffel et al. 2020, §2.2), matched as datatrove's ``C4BadWordsFilter``.

    A page is dropped when its lower-cased text contains an entry of its language's list flanked
    by non-word characters (Python ``re`` ``\\W``) or the page's start/end; Japanese, Thai and
    Chinese lists match anywhere. The language is ``language_column``'s value (``default_language``
    when null or when no column is set); a page whose language has no list is kept with
    ``txt_c4_badwords_has_badwords`` null (datatrove's ``fail_on_missing_language=False``).
    ``keep_fraction`` keeps that share of matching pages, drawn per document from
    ``xxh3(text, seed)`` (deterministic, unlike datatrove's per-worker RNG stream).
    Signal: ``txt_c4_badwords_has_badwords``. Reasons: :class:`C4BadWordsReason` (datatrove's name).
    Lists are read on the worker, once per operator instance.
    """

    name = "txt_c4_badwords"
    version = "2"
    Params = TxtC4BadWordsParams
    Reason = C4BadWordsReason
    rule = "bad_words"

    def __init__(self, params: TxtC4BadWordsParams) -> None:
        super().__init__(params)
        self._lists: dict[str, list[str]] | None = None

    @property
    def language_column(self) -> str | None:
        return self.params.language_column

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([(f"{self.name}_has_badwords", pa.bool_())])

    def setup(self) -> None:
        if self._lists is None:
            try:
                self._lists = {lang: read_word_list(f) for lang, f in self.params.bad_words_files.items()}
            except OSError as e:
                raise ConfigError(f"txt_c4_badwords.bad_words_files: cannot read a list ({e}); {_LDNOOBW_HINT}") from e

    def rule_params(self) -> dict[str, Any]:
        self.setup()
        p = self.params
        return {"lists": self._lists, "default_language": p.default_language, "keep_fraction": p.keep_fraction, "seed": p.seed}


# --- RefinedWeb line-wise corrections ----------------------------------------------------------


class TxtLineCorrectionsParams(OpParams):
    """RefinedWeb line-wise corrections; pattern/word lists left unset take the kernel defaults."""

    op: Literal["txt_line_corrections"] = "txt_line_corrections"
    text_column: str = DEFAULT_TEXT_COLUMN
    max_uppercase_ratio: float | None = Field(0.5, ge=0.0, le=1.0, description="None disables")
    remove_numeric: bool = True
    remove_counters: bool = True
    counter_words: tuple[str, ...] | None = None
    remove_single_word: bool = True
    max_words_for_patterns: int = Field(10, ge=0)
    start_patterns: tuple[str, ...] | None = None
    end_patterns: tuple[str, ...] | None = None
    anywhere_patterns: tuple[str, ...] | None = None
    max_removed_words_frac: float = Field(0.05, ge=0.0, le=1.0)


class LineCorrectionsReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    TOO_MANY_REMOVED_WORDS = "too_many_removed_words"


@register
class TxtLineCorrections(_TextRule):
    """RefinedWeb line-wise corrections (Penedo et al. 2023, §3.2 / App. G.2), a rewriting filter.

    Lines that are mainly upper-case (upper-case share of letters > ``max_uppercase_ratio``), only
    numerical, a counter ("3 likes") or a single word are removed; lines of at most
    ``max_words_for_patterns`` words have start / end / anywhere patterns ("sign in", "read more",
    "items in cart") cut out. The page is dropped when the words taken out exceed
    ``max_removed_words_frac`` (5%) of its words (whitespace-separated). Signals:
    ``txt_line_corrections_text`` (the corrected page, kept lines joined by newlines; later steps
    such as dedup read it), ``_lines_removed``, ``_words_removed``.
    Reasons: :class:`LineCorrectionsReason`. Defaults and their provenance: docs/web_text.md.
    """

    name = "txt_line_corrections"
    version = "2"
    Params = TxtLineCorrectionsParams
    Reason = LineCorrectionsReason
    rule = "line_corrections"

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([
            (f"{self.name}_text", pa.string()),
            (f"{self.name}_lines_removed", pa.int32()),
            (f"{self.name}_words_removed", pa.int32()),
        ])

    def rewrites(self) -> TextRewrite:
        return TextRewrite(f"{self.name}_text", (self.params.text_column,))

    def rule_params(self) -> dict[str, Any]:
        d: dict[str, Any] = json.loads(_native.txt_rule_defaults("line_corrections"))["params"]
        for k, v in self.params.model_dump(exclude={"op", "text_column"}).items():
            if v is not None or k == "max_uppercase_ratio":
                d[k] = list(v) if isinstance(v, tuple) else v
        return d


# --- FineWeb -----------------------------------------------------------------------------------


class TxtFinewebParams(OpParams):
    op: Literal["txt_fineweb"] = "txt_fineweb"
    text_column: str = DEFAULT_TEXT_COLUMN
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    stop_chars: tuple[str, ...] | None = Field(None, description="None = all terminal punctuation")
    short_line_thr: float = 0.67
    short_line_length: int = Field(30, ge=0)
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3


class FinewebReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    EMPTY = "empty"
    LINE_PUNCT_RATIO = "line_punct_ratio"
    SHORT_LINE_RATIO = "short_line_ratio"
    CHAR_DUP_RATIO = "char_dup_ratio"
    LIST_RATIO = "list_ratio"


@register
class TxtFineweb(_TextRule):
    """FineWeb's own quality rules (Penedo et al. 2024, §3.4): >= 12% of lines end in terminal
    punctuation, <= 67% of lines are <= 30 characters, duplicated-line characters <= 1% of the
    page, newlines per word <= 0.3. Reasons: :class:`FinewebReason` (datatrove's names).
    """

    name = "txt_fineweb"
    version = "2"
    Params = TxtFinewebParams
    Reason = FinewebReason
    rule = "fineweb"

    def rule_params(self) -> dict[str, Any]:
        d = super().rule_params()
        if d["stop_chars"] is not None:
            d["stop_chars"] = list(d["stop_chars"])
        return d


# --- length ------------------------------------------------------------------------------------


class TxtLengthParams(OpParams):
    op: Literal["txt_length"] = "txt_length"
    text_column: str = DEFAULT_TEXT_COLUMN
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=0)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=0)

    def threshold_signals(self) -> dict[str, Threshold]:
        chars, words = column("txt_length_chars"), column("txt_length_words")
        candidates = {
            "min_chars": Threshold(chars, Bound.LOWER, integer=True, minimum=0),
            "max_chars": Threshold(chars, Bound.UPPER, integer=True, minimum=0),
            "min_words": Threshold(words, Bound.LOWER, integer=True, minimum=0),
            "max_words": Threshold(words, Bound.UPPER, integer=True, minimum=0),
        }
        return {k: t for k, t in candidates.items() if getattr(self, k) is not None}


class LengthReason(str, enum.Enum):
    MISSING_INPUT = "missing_input"  # from the Filter base class: null text
    TOO_FEW_CHARS = "too_few_chars"
    TOO_MANY_CHARS = "too_many_chars"
    TOO_FEW_WORDS = "too_few_words"
    TOO_MANY_WORDS = "too_many_words"


@register
class TxtLength(_TextRule):
    """Text length in characters (code points) and words (non-punctuation words of the shared
    tokenizer), with optional bounds. Signals: ``txt_length_chars``, ``txt_length_words``.
    Reasons: :class:`LengthReason`.
    """

    name = "txt_length"
    version = "2"
    Params = TxtLengthParams
    Reason = LengthReason
    rule = "length"

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema([(f"{self.name}_chars", pa.int64()), (f"{self.name}_words", pa.int32())])


# --- PII mapper --------------------------------------------------------------------------------


class TxtPiiParams(OpParams):
    op: Literal["txt_pii"] = "txt_pii"
    text_column: str = DEFAULT_TEXT_COLUMN
    redact: bool = Field(False, description="add txt_pii_text with matches replaced")
    email_replacement: str = "email@example.com"
    ip_replacement: str = "0.0.0.0"
    ipv6_replacement: str = "::"
    include_private_ips: bool = False


@register
class TxtPii(Operator[TxtPiiParams]):
    """PII mapper: counts e-mail addresses (``txt_pii_emails``) and public IPv4 / IPv6 addresses
    (``txt_pii_ips``; full, ``::``-compressed and IPv4-mapped IPv6; private, loopback, link-local
    and unique-local ones too with ``include_private_ips``) and, with ``redact``, writes
    ``txt_pii_text`` with them replaced (FineWeb anonymised both before release). Times
    (``12:30:45``), MAC addresses and C++ scopes (``std::string``) are not addresses. A mapper,
    not a filter: no ok/reason columns. A null text gets null counts and no error.
    """

    name = "txt_pii"
    version = "2"
    Params = TxtPiiParams

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.params.text_column,)

    @property
    def output_schema(self) -> pa.Schema:
        fields = [pa.field("txt_pii_emails", pa.int32()), pa.field("txt_pii_ips", pa.int32())]
        if self.params.redact:
            fields.append(pa.field("txt_pii_text", pa.string()))
        return pa.schema(fields)

    def rewrites(self) -> TextRewrite | None:
        return TextRewrite("txt_pii_text", (self.params.text_column,)) if self.params.redact else None

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        params = self.params.model_dump(exclude={"op", "text_column"})
        texts = batch.column(self.params.text_column)
        out = run_rules(texts, [{"name": "txt_pii", "rule": "pii", "params": params}])
        # a null text has no PII to count: null counts, and no error (txt_extract said why)
        errors = pc.if_else(texts.is_null(), pa.scalar(None, pa.string()), out.column("error"))
        cols = out.select([f.name for f in self.output_schema])
        return OpResult(cols, errors if errors.null_count < len(errors) else None)
