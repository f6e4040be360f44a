"""Where the embedded default keeps its state: one project-local directory.

``SPARK_MM_HOME`` overrides it; by default it is ``./lakehouse`` under the current directory, so a
checkout's catalog, warehouse, MLflow store, reports and sample data all live in one folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The project-local state directory (created on demand by the callers that write to it)."""
    return Path(os.environ.get("SPARK_MM_HOME", "lakehouse")).resolve()


def jar_cache() -> Path:
    """Project-local cache of the Spark jars that setup resolves from Maven Central."""
    default = Path(__file__).resolve().parents[1] / ".cache" / "jars"
    return Path(os.environ.get("SPARK_MM_JARS", default)).resolve()
