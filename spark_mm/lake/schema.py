"""Table schemas of the data model: the bronze samples table and the per-stage signal tables."""

from __future__ import annotations

import pyarrow as pa

# Bronze: one row per source record. Payload columns are nullable; a source fills what it has.
SAMPLES_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string(), nullable=False),  # 32 hex chars, see sources.ids and docs/identity.md
        pa.field("source_uri", pa.string()),
        pa.field("source_offset", pa.int64()),  # row index, line number or WARC byte offset
        pa.field("source_record_id", pa.string()),  # WARC-Record-ID, dataset id column, ...
        pa.field("ingest_run_id", pa.string()),
        pa.field("url", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("text", pa.string()),
        pa.field("image", pa.binary()),
        pa.field("payload", pa.binary()),  # raw HTTP body of web records
        pa.field("mime_type", pa.string()),
        pa.field("record_meta", pa.map_(pa.string(), pa.string())),
        pa.field("ingest_error", pa.string()),
        pa.field("is_revisit", pa.bool_()),  # WARC revisit record (payload lives in the record it refers to); null off WARC
        pa.field("refers_to_record_id", pa.string()),  # WARC-Refers-To: a revisit's original, a WET record's response
    ]
)
SAMPLES_COLUMNS: tuple[str, ...] = tuple(SAMPLES_SCHEMA.names)

# Columns every signals_<stage> table has besides the operators' own.
ERRORS_FIELD = pa.field("errors", pa.map_(pa.string(), pa.string()))
RUN_ID_FIELD = pa.field("run_id", pa.string())
