"""Where the embedded default keeps its state: one project-local directory.

``SPARK_MM_HOME`` overrides it; by default it is ``./lakehouse`` under the current directory, so a
checkout's catalog, warehouse, MLflow store, reports and sample data all live in one folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def home(env: Mapping[str, str] | None = None) -> Path:
    """The project-local state directory (created on demand by the callers that write to it)."""
    return Path((os.environ if env is None else env).get("SPARK_MM_HOME", "lakehouse")).resolve()


def describe_home(env: Mapping[str, str] | None = None) -> str:
    """The resolved home and where it came from, for the run summary and "no catalog here" errors.

    >>> describe_home({"SPARK_MM_HOME": "/srv/lake"})
    '/srv/lake (SPARK_MM_HOME)'
    """
    env = os.environ if env is None else env
    if "SPARK_MM_HOME" in env:
        return f"{home(env)} (SPARK_MM_HOME)"
    return f"{home(env)} (default: ./lakehouse under the current directory; SPARK_MM_HOME overrides it)"


def jar_cache() -> Path:
    """Project-local cache of the Spark jars that setup resolves from Maven Central."""
    default = Path(__file__).resolve().parents[1] / ".cache" / "jars"
    return Path(os.environ.get("SPARK_MM_JARS", default)).resolve()
