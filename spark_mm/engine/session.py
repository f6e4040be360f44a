"""The one place that builds the SparkSession.

Precedence for every key: built-in defaults < recipe ``spark.conf`` / ``lake`` < ``spark-submit``
flags (``--master``, ``--conf``), so the same job runs on the embedded default and on a cluster.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from spark_mm.engine import jars
from spark_mm.engine.console import LOG4J2_FILE
from spark_mm.errors import ConfigError
from spark_mm.lake.settings import LakeSettings, SparkSettings

log = logging.getLogger(__name__)

MIN_JAVA = 17

_DEFAULTS = {
    "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    # Storage-partitioned joins: per-sample tables share bucket(N, sample_id).
    "spark.sql.sources.v2.bucketing.enabled": "true",
    "spark.sql.iceberg.planning.preserve-data-grouping": "true",
    "spark.sql.requireAllClusterKeysForCoPartition": "false",
    "spark.sql.sources.v2.bucketing.pushPartValues.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Rows can carry whole images (100 KB - several MB): Spark's default 4096-row Parquet read
    # batches and unbounded Arrow batches to Python exhaust a default 1 GiB heap on a single
    # ~100 MB image shard. Cap both; per-row work dwarfs the extra batch overhead.
    "spark.sql.parquet.columnarReaderBatchSize": "256",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(64 << 20),
}


def java_major_version(java: str | None = None) -> int:
    """Major version of the ``java`` on PATH (or JAVA_HOME), raising ConfigError when absent."""
    java = java or (os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None)
    java = java or shutil.which("java")
    if not java or not os.path.exists(java):
        raise ConfigError(f"Java {MIN_JAVA}+ is required by Spark but no `java` was found; install a JDK (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    for token in out.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and ("." in token or token.isdigit()):
            major = int(head)
            return int(token.split(".")[1]) if major == 1 else major
    raise ConfigError(f"cannot parse the Java version from: {out.strip()[:200]}")


def check_java() -> None:
    major = java_major_version()
    if major < MIN_JAVA:
        raise ConfigError(f"Spark 4.1 needs Java {MIN_JAVA}+, found Java {major}; install a newer JDK or set JAVA_HOME")


DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
_LOG4J_PROPERTIES = ("-Dlog4j2.configurationFile=", "-Dlog4j.configurationFile=")


def driver_java_options(user: str | None, log4j_file: Path = LOG4J2_FILE) -> str:
    """``spark.driver.extraJavaOptions`` with spark-mm's log4j2 file added to the user's options.

    A user's own log4j configuration wins: then the options are returned unchanged. The file is
    given as a ``file:`` URI, so a path with spaces stays one option.

    >>> driver_java_options(None, Path("/p q/log4j2.properties"))
    '-Dlog4j2.configurationFile=file:///p%20q/log4j2.properties'
    >>> driver_java_options("-Xss4m", Path("/p/log4j2.properties"))
    '-Dlog4j2.configurationFile=file:///p/log4j2.properties -Xss4m'
    >>> driver_java_options("-Dlog4j2.configurationFile=mine.xml", Path("/p/log4j2.properties"))
    '-Dlog4j2.configurationFile=mine.xml'
    """
    user = (user or "").strip()
    if any(p in user for p in _LOG4J_PROPERTIES):
        return user
    ours = f"-Dlog4j2.configurationFile={log4j_file.resolve().as_uri()}"
    return f"{ours} {user}" if user else ours


def is_local_master(master: str) -> bool:
    """``local``, ``local[N]`` / ``local[*]`` and ``local-cluster[...]``: every JVM on this host."""
    return master == "local" or master.startswith(("local[", "local-cluster["))


def _launched_by_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


# The object store's address and region (never its keys: those come from the executors' own
# environment, instance profiles, or spark-submit --conf spark.executorEnv.*) forwarded to executors.
EXECUTOR_STORE_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


def session_conf(lake: LakeSettings, spark: SparkSettings) -> dict[str, str]:
    """All conf entries spark-mm sets (before spark-submit's own flags are applied)."""
    conf = dict(_DEFAULTS)
    s3 = lake.uses_s3() if spark.s3_jars is None else spark.s3_jars
    jar_paths = jars.cached_jars(s3=s3)
    if jar_paths:
        conf["spark.jars"] = ",".join(str(p) for p in jar_paths)
    else:
        conf["spark.jars.packages"] = ",".join(jars.coordinates(s3))
    # Executors must run the same interpreter (and therefore the same spark_mm build).
    conf["spark.pyspark.python"] = sys.executable
    conf["spark.pyspark.driver.python"] = sys.executable
    conf.update(lake.spark_conf())
    conf["spark.sql.defaultCatalog"] = lake.catalog
    for key in EXECUTOR_STORE_ENV:  # where s3:// sources live, for executors reading video byte ranges later
        if os.environ.get(key) and f"spark.executorEnv.{key}" not in conf:
            conf[f"spark.executorEnv.{key}"] = os.environ[key]
    conf.update(spark.conf)
    if LOG4J2_FILE.is_file():  # shipped in the package; see spark_mm/engine/console.py
        conf[DRIVER_JAVA_OPTIONS] = driver_java_options(conf.get(DRIVER_JAVA_OPTIONS))
    return conf


def build_session(lake: LakeSettings, spark: SparkSettings, app_name: str = "spark-mm") -> SparkSession:
    """Create (or reuse) the SparkSession with the Iceberg catalog configured.

    Raises:
        ConfigError: Java is missing or too old.
    """
    check_java()
    lake.prepare_local()
    conf = session_conf(lake, spark)
    builder = SparkSession.builder.appName(app_name)
    submitted: dict[str, str] = {}
    if _launched_by_spark_submit():
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()  # attach to spark-submit's JVM so its system properties are visible
        submitted = dict(SparkConf().getAll())
    if "spark.master" not in submitted:
        builder = builder.master(spark.master)
        if is_local_master(spark.master):
            # Every JVM runs on this host: bind to loopback instead of warning that the hostname
            # resolves to it ("Your hostname ... resolves to a loopback address"). Unset only.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in conf.items():
        if key not in submitted:
            builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("SPARK_MM_LOG_LEVEL", "WARN"))
    return session
