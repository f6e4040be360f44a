"""What every stage of a run shares: the session, the lake, the run id, and how to tag commits.

Stages (ingest, operator stages, dedup steps) take a :class:`RunContext` rather than the whole
runner, so each lives in its own module and none imports the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from spark_mm.lake.identifiers import check_run_id
from spark_mm.lake.lineage import Lineage, code_version
from spark_mm.lake.tables import Lake


@dataclass
class StageResult:
    """What one stage did, for the run summary and the report."""

    stage: str
    table: str
    rows_in: int
    rows_out: int
    rows_with_errors: int
    seconds: float
    snapshot_id: int | None
    skipped: bool = False
    note: str = ""
    op_seconds: dict[str, float] = field(default_factory=dict)
    recomputed: int = 0  # rows that replaced existing rows (stale fingerprint or --recompute)


@dataclass(frozen=True)
class RunContext:
    """The parts of a run a stage needs."""

    spark: SparkSession
    lake: Lake
    run_id: str
    job: str
    recipe_sha256: str
    buckets: int

    def __post_init__(self) -> None:
        check_run_id(self.run_id, "run_id")  # refused before any stage writes

    def lineage(self, stage: str, ops: tuple[str, ...], input: str, chunk: str = "1/1") -> Lineage:
        return Lineage(self.run_id, self.job, self.recipe_sha256, code_version(), stage, ops, input, chunk)
