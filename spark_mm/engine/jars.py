"""The Spark jars spark-mm needs, resolved once into a project-local cache.

Setup runs ``python -m spark_mm.engine.jars`` which copies the artifacts with Maven (it honours
the machine's Maven mirror settings). When the cache is empty at session start, the session falls
back to ``spark.jars.packages`` and lets Spark's own resolver fetch the same coordinates.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from spark_mm.errors import ConfigError
from spark_mm.paths import jar_cache

# Iceberg's 4.1 runtime does not run on Spark 4.2+; pyproject pins pyspark==4.1.*.
ICEBERG_RUNTIME = "org.apache.iceberg:iceberg-spark-runtime-4.1_2.13:1.11.0"
SQLITE_JDBC = "org.xerial:sqlite-jdbc:3.47.1.0"
COORDINATES: tuple[str, ...] = (ICEBERG_RUNTIME, SQLITE_JDBC)


def jar_name(coordinate: str) -> str:
    """File name Maven gives an artifact.

    >>> jar_name("org.xerial:sqlite-jdbc:3.47.1.0")
    'sqlite-jdbc-3.47.1.0.jar'
    """
    _, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def cached_jars(cache: Path | None = None) -> list[Path] | None:
    """Paths of all required jars if every one is in the cache, else None."""
    cache = cache or jar_cache()
    paths = [cache / jar_name(c) for c in COORDINATES]
    return paths if all(p.is_file() for p in paths) else None


def fetch(cache: Path | None = None) -> list[Path]:
    """Copy every required jar into the cache with ``mvn dependency:copy`` (idempotent)."""
    cache = cache or jar_cache()
    cache.mkdir(parents=True, exist_ok=True)
    mvn = shutil.which("mvn")
    for coordinate in COORDINATES:
        target = cache / jar_name(coordinate)
        if target.is_file():
            continue
        if mvn is None:
            raise ConfigError(
                f"cannot fetch {coordinate}: Maven (mvn) is not installed. Install it "
                "(apt-get install maven) or put the jar in " + str(cache)
            )
        cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={cache}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not target.is_file():
            raise ConfigError(f"mvn could not fetch {coordinate}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return [cache / jar_name(c) for c in COORDINATES]


if __name__ == "__main__":
    for path in fetch():
        print(path)
    sys.exit(0)
