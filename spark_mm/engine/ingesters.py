"""Which ingest a source uses: the file-source ingest (``engine/ingest.py``) unless its spec class registers its own.

Sources read from files go through ``sources.reader.SOURCE_READERS`` and the one audited ingest
commit; a source whose rows cost work to produce (downloads) needs its own chunked, resumable
ingest and registers it here, so the runner never branches on the spec's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spark_mm.engine.context import RunContext, StageResult
from spark_mm.engine.download import ingest_image_links
from spark_mm.engine.ingest import ingest
from spark_mm.engine.progress import StageProgress
from spark_mm.sources.specs import ImageLinksSource

Ingest = Callable[[RunContext, Any, bool], StageResult]

SOURCE_INGESTS: dict[type, Ingest] = {
    ImageLinksSource: ingest_image_links,
}


def ingest_source(ctx: RunContext, spec: object, allow_all_errors: bool = False, progress: StageProgress | None = None) -> StageResult:
    """Run the ingest registered for the spec's class (the file-source ingest, with its progress line, by default)."""
    registered = SOURCE_INGESTS.get(type(spec))
    if registered is None:
        return ingest(ctx, spec, allow_all_errors, progress=progress)
    return registered(ctx, spec, allow_all_errors)
