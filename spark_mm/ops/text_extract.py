"""HTML -> main text: charset resolution, then resiliparse's or trafilatura's main-content extractor.

trafilatura (datatrove's FineWeb settings) gives the text FineWeb and RefinedWeb filtered, so their
recipes use it; resiliparse runs ~15x faster and agrees with it at word-F1 0.60 on the real pages
of shared/data/warc (docs/web_text.md), the fast option.
"""

from __future__ import annotations

import codecs
import enum
import re
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from spark_mm.errors import MissingDependency
from spark_mm.ops.base import Filter, FilterDecision, OpParams, TextRewrite
from spark_mm.ops.registry import register

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)
_HTML_MIME = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_TEXT_MIME = ("text/plain",)


def _valid(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None


def resolve_charset(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Charset of an HTTP body and where it came from: BOM, HTTP header, ``<meta>``, detection.

    Labels are mapped to what browsers use (WHATWG: ``iso-8859-1`` decodes as ``cp1252``).

    >>> resolve_charset(b"<meta charset='latin-1'>caf\\xe9", None)
    ('cp1252', 'meta')
    >>> resolve_charset(b"\\xef\\xbb\\xbfhi", "text/html; charset=iso-8859-2")
    ('utf-8', 'bom')
    """
    from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

    def html5(name: str) -> str:
        return _valid(map_encoding_to_html5(name)) or name

    for bom, enc in _BOMS:
        if body.startswith(bom):
            return enc, "bom"
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        if m and (enc := _valid(m.group(1))):
            return html5(enc), "header"
    m = _META_CHARSET.search(body[:4096])
    if m and (enc := _valid(m.group(1).decode("ascii", "replace"))):
        return html5(enc), "meta"
    return html5(detect_encoding(body[:65536])), "detected"


def decode_body(body: bytes, charset: str) -> str:
    """Decode with ``charset``, BOM dropped, undecodable bytes replaced (never raises)."""
    for bom, enc in _BOMS:
        if body.startswith(bom) and codecs.lookup(enc).name == codecs.lookup(charset).name:
            body = body[len(bom):]
            break
    return body.decode(charset, errors="replace")


def trafilatura_text(html: str, dedup_scope: str = "page") -> str | None:
    """trafilatura's main text with the settings of datatrove's ``Trafilatura`` extractor as the
    FineWeb pipeline runs it: ``favor_precision=True``, ``include_comments=False``,
    ``deduplicate=True``, no images. ``None`` when trafilatura finds no main text.

    ``deduplicate`` drops a paragraph seen more than twice in trafilatura's process-wide LRU cache
    (4,096 entries). datatrove leaves that cache shared by every document a worker extracts, so a
    page's text depends on the pages the same process saw before it (``dedup_scope="worker"``).
    ``"page"`` (the default) empties the cache first, so the text is a function of the page alone
    (repeats inside the page are still dropped), as stable signals and recomputes need.
    """
    from trafilatura import extract
    from trafilatura.deduplication import LRU_TEST

    if dedup_scope == "page":
        LRU_TEST.clear()
    return extract(html, favor_precision=True, include_comments=False, deduplicate=True)


class TxtExtractParams(OpParams):
    op: Literal["txt_extract"] = "txt_extract"
    payload_column: str = "payload"
    text_column: str = Field("text", description="text already extracted (WET, JSONL): passed through")
    mime_column: str = "mime_type"
    meta_column: str = "record_meta"
    main_content: bool = Field(True, description="boilerplate removal (navigation, footers); False = all text")
    alt_texts: bool = False
    links: bool = False
    list_bullets: bool = True
    max_html_bytes: int = Field(16 * 1024 * 1024, gt=0, description="larger bodies get too_large, not a parse")
    extractor: Literal["resiliparse", "trafilatura"] = Field(
        "resiliparse",
        description="resiliparse (fast) or trafilatura with datatrove's FineWeb settings (the published text)",
    )
    trafilatura_dedup: Literal["page", "worker"] = Field(
        "page",
        description="trafilatura's paragraph dedup cache: emptied per page (deterministic), or shared by the "
        "worker's documents as datatrove runs it (text depends on what the worker saw before)",
    )


class ExtractReason(str, enum.Enum):
    """Why ``txt_extract`` produced no text for a row."""

    NO_TEXT = "no_text"  # neither a payload nor a text (WARC request / metadata / revisit records)
    UNSUPPORTED_MIME = "unsupported_mime"  # a payload that is neither HTML nor plain text (PDF, images)
    TOO_LARGE = "too_large"  # a payload over max_html_bytes: not parsed
    EXTRACT_ERROR = "extract_error"  # the parser failed on the page; the message is in ``errors``


class _NoText(Exception):
    """A body with no text to extract, by policy (not a failure): carries the reason."""

    def __init__(self, reason: ExtractReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@register
class TxtExtract(Filter[TxtExtractParams]):
    """Main text of an HTML page (resiliparse ``extract_plain_text``, Bevendorff et al. 2018).

    Signals: ``txt_content`` (main text; for rows that already carry ``text``, e.g. WET records,
    that text), ``txt_title`` (``<title>``), ``txt_charset`` (Python codec name) and
    ``txt_charset_source`` (bom / header / meta / detected / given).

    The first text operator, so it says once why a row has no text: ``txt_extract_ok`` is true
    when ``txt_content`` is set; otherwise the reason (:class:`ExtractReason`) is ``no_text``
    (no payload and no text: WARC request/metadata records), ``unsupported_mime`` (neither HTML
    nor plain text), ``too_large`` (over ``max_html_bytes``) or ``extract_error`` (the parser
    raised; only this one also writes an ``errors`` entry). Later text filters then report
    ``missing_input`` for these rows, never an error.
    """

    name = "txt_extract"
    version = "2"
    Params = TxtExtractParams
    Reason = ExtractReason

    def __init__(self, params: TxtExtractParams) -> None:
        super().__init__(params)
        self._extract: Any = None

    def fingerprint_excludes(self) -> frozenset[str]:
        """``trafilatura_dedup`` counts only when trafilatura extracts: resiliparse rows computed
        before the param existed stay current."""
        if self.params.extractor == "trafilatura":
            return self.params.execution_only
        return self.params.execution_only | {"trafilatura_dedup"}

    @property
    def reads(self) -> tuple[str, ...]:
        p = self.params
        return (p.payload_column, p.text_column, p.mime_column, p.meta_column)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        # every input may be null; a row with none of them is this filter's own no_text
        return ()

    @property
    def signal_schema(self) -> pa.Schema:
        return pa.schema(
            [
                ("txt_content", pa.string()),
                ("txt_title", pa.string()),
                ("txt_charset", pa.string()),
                ("txt_charset_source", pa.string()),
            ]
        )

    def rewrites(self) -> TextRewrite:
        # a given text passes through unchanged; otherwise the text comes from the HTTP body
        return TextRewrite("txt_content", (self.params.text_column, self.params.payload_column))

    def setup(self) -> None:
        if self._extract is not None:
            return
        if self.params.extractor == "trafilatura":
            try:
                import trafilatura  # noqa: F401
            except ImportError as e:
                raise MissingDependency("txt_extract extractor=trafilatura needs trafilatura: pip install trafilatura") from e
        try:
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree
        except ImportError as e:
            raise MissingDependency("txt_extract needs resiliparse: pip install resiliparse") from e
        self._extract = (extract_plain_text, HTMLTree)

    def _column(self, batch: pa.RecordBatch, name: str) -> list[Any]:
        if name in batch.schema.names:
            return batch.column(name).to_pylist()
        return [None] * batch.num_rows

    def extract_one(self, body: bytes, mime: str | None, meta: dict[str, str]) -> tuple[str | None, str | None, str, str]:
        """Text, title, charset and charset source of one HTTP body.

        Raises:
            _NoText: the body is over ``max_html_bytes`` or of an unsupported MIME type.
            Exception: whatever the parser raises on a broken page.
        """
        extract_plain_text, html_tree = self._extract
        p = self.params
        if len(body) > p.max_html_bytes:
            raise _NoText(ExtractReason.TOO_LARGE)
        content_type = meta.get("content_type") or mime
        charset, source = resolve_charset(body, content_type)
        kind = (mime or "").split(";")[0].strip().lower()
        html = decode_body(body, charset)
        if kind in _TEXT_MIME:
            return html, None, charset, source
        if kind and kind not in _HTML_MIME and not html.lstrip()[:200].lower().startswith(("<!doctype html", "<html")):
            raise _NoText(ExtractReason.UNSUPPORTED_MIME)
        tree = html_tree.parse(html)
        title = tree.title or None
        if p.extractor == "trafilatura":
            return trafilatura_text(html, p.trafilatura_dedup), title, charset, source
        text = extract_plain_text(
            tree, main_content=p.main_content, alt_texts=p.alt_texts, links=p.links, list_bullets=p.list_bullets
        )
        return text, title, charset, source

    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        self.setup()
        p = self.params
        bodies = self._column(batch, p.payload_column)
        texts = self._column(batch, p.text_column)
        mimes = self._column(batch, p.mime_column)
        metas = self._column(batch, p.meta_column)
        cols: list[list[Any]] = [[], [], [], []]
        reasons: list[str | None] = []
        errors: list[str | None] = []
        for body, text, mime, meta in zip(bodies, texts, mimes, metas):
            meta_d = dict(meta) if meta else {}
            row: tuple[Any, ...] = (None, None, None, None)
            reason: ExtractReason | None = None
            err = None
            if text is not None:
                row = (text, None, "utf-8", "given")
            elif body is None:
                reason = ExtractReason.NO_TEXT
            else:
                try:
                    row = self.extract_one(body, mime, meta_d)
                except _NoText as e:
                    reason = e.reason
                except Exception as e:  # noqa: BLE001 - one bad page is an error row, never a failed batch
                    reason, err = ExtractReason.EXTRACT_ERROR, f"{type(e).__name__}: {e}"
            if reason is None and row[0] is None:  # the parser found nothing at all
                reason = ExtractReason.NO_TEXT
            for c, v in zip(cols, row):
                c.append(v)
            reasons.append(None if reason is None else reason.value)
            errors.append(err)
        signals = pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], schema=self.signal_schema)
        reason_arr = pa.array(reasons, pa.string())
        err_arr = pa.array(errors, pa.string())
        return FilterDecision(
            ok=reason_arr.is_null(),
            reason=reason_arr,
            signals=signals,
            errors=err_arr if err_arr.null_count < len(err_arr) else None,
        )
