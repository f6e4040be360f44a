"""The Spark jars spark-mm needs, resolved once into a project-local cache.

Setup runs ``python -m spark_mm.engine.jars`` which copies the artifacts with Maven (it honours
the machine's Maven mirror settings). When the cache is empty at session start, the session falls
back to ``spark.jars.packages`` and lets Spark's own resolver fetch the same coordinates.
"""

from __future__ import annotations

import os
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
# Iceberg's S3FileIO and the AWS SDK it calls (63 MB): only for an ``s3://`` warehouse (see
# LakeSettings.uses_s3), fetched by ``python -m spark_mm.engine.jars --s3`` and setup --dev.
ICEBERG_AWS_BUNDLE = "org.apache.iceberg:iceberg-aws-bundle:1.11.0"
S3_COORDINATES: tuple[str, ...] = (ICEBERG_AWS_BUNDLE,)


def coordinates(s3: bool = False) -> tuple[str, ...]:
    """The artifacts a session needs: the Iceberg runtime and SQLite driver, plus S3 when asked."""
    return COORDINATES + (S3_COORDINATES if s3 else ())


def jar_name(coordinate: str) -> str:
    """File name Maven gives an artifact.

    >>> jar_name("org.xerial:sqlite-jdbc:3.47.1.0")
    'sqlite-jdbc-3.47.1.0.jar'
    """
    _, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def cached_jars(cache: Path | None = None, s3: bool = False) -> list[Path] | None:
    """Paths of all required jars if every one is in the cache, else None."""
    cache = cache or jar_cache()
    paths = [cache / jar_name(c) for c in coordinates(s3)]
    return paths if all(p.is_file() for p in paths) else None


def fetch(cache: Path | None = None, s3: bool = False) -> list[Path]:
    """Copy every required jar into the cache with ``mvn dependency:copy`` (idempotent)."""
    cache = cache or jar_cache()
    cache.mkdir(parents=True, exist_ok=True)
    mvn = shutil.which("mvn")
    for coordinate in coordinates(s3):
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
    return [cache / jar_name(c) for c in coordinates(s3)]


_MARK = "# managed by spark-mm setup"


def write_spark_defaults(paths: list[Path]) -> Path:
    """Put ``spark.jars`` in the pip pyspark's ``conf/spark-defaults.conf``.

    ``spark-submit jobs/<job>.py`` starts the driver JVM before our code runs, so the jars must be
    on its command line or in spark-defaults; a session built from plain Python gets them from
    :func:`spark_mm.engine.session.session_conf` as well. Lines we did not write are kept.
    """
    import pyspark

    conf_dir = Path(os.environ.get("SPARK_CONF_DIR") or Path(pyspark.__file__).parent / "conf")
    conf_dir.mkdir(parents=True, exist_ok=True)
    target = conf_dir / "spark-defaults.conf"
    lines = target.read_text().splitlines() if target.exists() else []
    kept = [line for line in lines if line != _MARK and not line.startswith("spark.jars ")]
    kept += [_MARK, f"spark.jars {','.join(str(p) for p in paths)}"]
    target.write_text("\n".join(kept) + "\n")
    return target


if __name__ == "__main__":
    jar_paths = fetch(s3="--s3" in sys.argv[1:])
    for path in jar_paths:
        print(path)
    print(write_spark_defaults(jar_paths))
    sys.exit(0)
