"""Arrow layouts of the link tables (docs/image_text.md, "image_links table").

``PAGES_SCHEMA`` is what the Spark step's ``mapInArrow`` returns, one row per page with its links
nested; the step writes ``signals_links`` from the page columns and ``image_links`` from the
exploded ``links``.
"""

from __future__ import annotations

import pyarrow as pa

from spark_mm.engine.fingerprint import FINGERPRINT_FIELD
from spark_mm.lake.schema import ERRORS_FIELD, RUN_ID_FIELD

LINK_FIELDS: tuple[pa.Field, ...] = (
    pa.field("link_id", pa.string()),
    pa.field("page_url", pa.string()),
    pa.field("url", pa.string()),
    pa.field("alt", pa.string()),
    pa.field("title", pa.string()),
    pa.field("position", pa.int32()),
    pa.field("data_src", pa.string()),
    pa.field("width_px", pa.int32()),
    pa.field("height_px", pa.int32()),
    pa.field("link_laion_ok", pa.bool_()),
    pa.field("link_laion_reason", pa.string()),
    pa.field("link_alt_lang", pa.string()),  # fastText lid.176 top-1 ISO code of the alt text; null: no alt
    pa.field("link_alt_lang_score", pa.float32()),  # its probability
)
LINK_STRUCT = pa.struct(list(LINK_FIELDS))

PAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("sample_id", pa.string()),
    pa.field("link_source", pa.string()),  # html | wat | null (no page)
    pa.field("link_count", pa.int32()),  # links written to image_links
    pa.field("link_ok_count", pa.int32()),  # of which link_laion_ok
    pa.field("link_truncated", pa.bool_()),  # more than max_links_per_page <img> on the page
    pa.field("link_extract_ok", pa.bool_()),
    pa.field("link_extract_reason", pa.string()),
    ERRORS_FIELD,
    RUN_ID_FIELD,
    FINGERPRINT_FIELD,
)
PAGES_SCHEMA = pa.schema([*PAGE_FIELDS, pa.field("links", pa.list_(LINK_STRUCT))])
SIGNALS_SCHEMA = pa.schema(list(PAGE_FIELDS))
# image_links: the link columns plus the parent page and the run, link_id first
IMAGE_LINKS_SCHEMA = pa.schema(
    [LINK_FIELDS[0], pa.field("sample_id", pa.string()), *LINK_FIELDS[1:], pa.field("link_source", pa.string()), RUN_ID_FIELD]
)
IMAGE_LINK_COLUMNS: tuple[str, ...] = tuple(IMAGE_LINKS_SCHEMA.names)
