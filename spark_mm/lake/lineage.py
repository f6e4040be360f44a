"""Lineage: the snapshot summary properties every spark-mm commit carries.

From any row one can answer which run, job, code, recipe and input snapshot produced it, by
reading the summary of the snapshot that added it (``SELECT * FROM t.snapshots``).
"""

from __future__ import annotations

import functools
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import spark_mm
from spark_mm.lake.identifiers import check_run_id

PREFIX = "spark-mm."


@dataclass(frozen=True)
class Lineage:
    """What one commit records about how it was produced."""

    run_id: str
    job: str
    recipe_sha256: str
    code_version: str
    stage: str
    ops: tuple[str, ...]
    input: str
    chunk: str = "1/1"  # which commit chunk of the stage (bucket group i of n)

    def __post_init__(self) -> None:
        check_run_id(self.run_id, "run id")  # it reaches WAP ids, tags and SQL literals

    def properties(self) -> dict[str, str]:
        """Snapshot summary properties, keys prefixed with ``spark-mm.``."""
        return {
            f"{PREFIX}run-id": self.run_id,
            f"{PREFIX}job": self.job,
            f"{PREFIX}recipe-sha256": self.recipe_sha256,
            f"{PREFIX}code-version": self.code_version,
            f"{PREFIX}stage": self.stage,
            f"{PREFIX}ops": ",".join(self.ops),
            f"{PREFIX}input": self.input,
            f"{PREFIX}chunk": self.chunk,
        }

    @property
    def wap_id(self) -> str:
        """The write-audit-publish id of this commit: unique per run, stage and chunk."""
        return f"{self.run_id}.{self.stage}.{self.chunk.replace('/', 'of')}"


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus 8 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


@functools.cache
def code_version() -> str:
    """Package version plus the git commit (and ``-dirty``) when running from a checkout."""
    repo = Path(spark_mm.__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return spark_mm.__version__
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
        return f"{spark_mm.__version__}+g{sha.stdout.strip()}{'-dirty' if dirty.stdout.strip() else ''}"
    except (OSError, subprocess.SubprocessError):
        return spark_mm.__version__
