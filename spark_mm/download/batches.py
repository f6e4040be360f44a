"""Arrow in, Arrow out: link rows → one bronze ``samples`` row per link, fetched on the way.

The Spark wiring (``engine/download.py``) hands a task's link batches to :func:`fetch_batches`
inside ``mapInArrow``; this module knows nothing of Spark, so it is tested on RecordBatches.
Output batches are cut at ``max_rows`` rows or ``max_bytes`` of image bytes, whichever comes
first (images are up to ``fetch.max_bytes`` each).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from spark_mm.download.fetch import FetchRequest, Fetcher, FetchResult
from spark_mm.download.settings import FetchSettings
from spark_mm.lake.schema import SAMPLES_SCHEMA

# what the wiring sends: the link columns, with the link's sample id already computed
LINK_COLUMNS = (
    "sample_id", "link_id", "page_sample_id", "page_url", "url", "alt", "title", "position", "link_alt_lang", "link_alt_lang_score",
)
OUT_SCHEMA = pa.schema([f.with_nullable(True) for f in SAMPLES_SCHEMA])
# record_meta keys whose values differ between two fetches of the same bytes (left out of equality checks)
VOLATILE_META = ("fetch_time", "fetch_seconds")


def fetch_batches(
    batches: Iterator[pa.RecordBatch], settings: FetchSettings, source_uri: str, run_id: str,
    max_rows: int = 256, max_bytes: int = 32 * 1024 * 1024,
) -> Iterator[pa.RecordBatch]:
    """Fetch every link of ``batches`` and yield its samples rows (completion order, rows in = rows out)."""
    rows: list[dict[str, Any]] = []
    size = 0
    for result in Fetcher(settings).fetch(_requests(batches)):
        row = sample_row(result, source_uri, run_id)
        rows.append(row)
        size += len(row["image"] or b"")
        if len(rows) >= max_rows or size >= max_bytes:
            yield pa.RecordBatch.from_pylist(rows, schema=OUT_SCHEMA)
            rows, size = [], 0
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=OUT_SCHEMA)


def _requests(batches: Iterator[pa.RecordBatch]) -> Iterator[FetchRequest]:
    for batch in batches:
        names = [c for c in LINK_COLUMNS if c in batch.schema.names]  # the optional link signals may be absent
        for link in batch.select(names).to_pylist():
            yield FetchRequest(link, link["url"])


def sample_row(result: FetchResult, source_uri: str, run_id: str) -> dict[str, Any]:
    """The bronze row of one link's result: image bytes (original, not resized) or ``ingest_error`` = the reason code."""
    link: dict[str, Any] = result.key  # type: ignore[assignment]
    meta = {
        "link_id": link["link_id"],
        "page_sample_id": link["page_sample_id"],
        "page_url": link["page_url"],
        "title": link["title"],
        "link_alt_lang": link.get("link_alt_lang"),  # the links step's alt-text language, for per-language curation
        "link_alt_lang_score": link.get("link_alt_lang_score"),
        "position": None if link["position"] is None else str(link["position"]),
        "http_status": None if result.status is None else str(result.status),
        "final_url": result.final_url,
        "content_type": result.content_type,
        "fetch_time": result.fetched_at,
        "fetch_seconds": f"{result.seconds:.3f}",
        "fetch_attempts": str(result.attempts),
        "redirects": str(result.redirects),
        "fetch_detail": result.detail,
    }
    media = (result.content_type or "").split(";", 1)[0].strip().lower() or None
    return {
        "sample_id": link["sample_id"],
        "source_uri": source_uri,
        "source_offset": None,
        "source_record_id": link["link_id"],
        "ingest_run_id": run_id,
        "url": link["url"],
        "caption": link["alt"],
        "text": None,
        "image": result.image,
        "payload": None,
        "mime_type": media if result.ok else None,
        "record_meta": [(k, v) for k, v in meta.items() if v is not None],
        "ingest_error": None if result.error is None else result.error.value,
        "is_revisit": None,
        "refers_to_record_id": None,
    }
