"""The silenced loggers: the shipped log4j2 file matches ``QUIET_LOGGERS``, the driver JVM runs with
it, and it drops exactly the known-harmless messages while other warnings and every error print."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from spark_mm.engine import console
from spark_mm.engine.session import DRIVER_JAVA_OPTIONS, session_conf
from spark_mm.lake.settings import LakeSettings, SparkSettings

DSV2 = "org.apache.spark.sql.execution.datasources.v2.DataSourceV2Strategy"


def test_shipped_file_is_rendered_from_the_list() -> None:
    assert console.LOG4J2_FILE.read_text() == console.render_log4j2(), "regenerate: python -m spark_mm.engine.console > spark_mm/engine/log4j2.properties"
    text = console.LOG4J2_FILE.read_text()
    assert "rootLogger.level = warn" in text
    for q in console.QUIET_LOGGERS:
        assert f"= {q.name}\n" in text and q.why


def test_session_conf_adds_the_file_and_keeps_the_users_options() -> None:
    uri = console.LOG4J2_FILE.resolve().as_uri()
    conf = session_conf(LakeSettings(), SparkSettings())
    assert conf[DRIVER_JAVA_OPTIONS] == f"-Dlog4j2.configurationFile={uri}"
    mine = session_conf(LakeSettings(), SparkSettings(conf={DRIVER_JAVA_OPTIONS: "-Xss8m -Dfoo=1"}))
    assert mine[DRIVER_JAVA_OPTIONS] == f"-Dlog4j2.configurationFile={uri} -Xss8m -Dfoo=1"
    own = session_conf(LakeSettings(), SparkSettings(conf={DRIVER_JAVA_OPTIONS: "-Dlog4j.configurationFile=/etc/l.properties"}))
    assert own[DRIVER_JAVA_OPTIONS] == "-Dlog4j.configurationFile=/etc/l.properties"


@pytest.fixture()
def jvm_log(spark: SparkSession) -> Iterator[object]:
    """A StringWriter appender on the driver JVM's root logger (what the console appender would print)."""
    jvm = spark.sparkContext._jvm
    core = jvm.org.apache.logging.log4j.core
    ctx = jvm.org.apache.logging.log4j.LogManager.getContext(False)
    location = str(ctx.getConfiguration().getConfigurationSource().getLocation())
    if not location.endswith("log4j2.properties") or "spark_mm" not in location:
        pytest.skip(f"the test session's JVM was started with another log4j configuration: {location}")
    writer = jvm.java.io.StringWriter()
    layout = core.layout.PatternLayout.newBuilder().withPattern("%p %c{1}: %m%n").build()
    appender = core.appender.WriterAppender.createAppender(layout, None, writer, "spark-mm-test", False, True)
    appender.start()
    root = ctx.getConfiguration().getRootLogger()
    root.addAppender(appender, None, None)
    ctx.updateLoggers()
    try:
        yield writer
    finally:
        root.removeAppender("spark-mm-test")
        ctx.updateLoggers()
        appender.stop()


def test_known_noise_is_dropped_and_real_trouble_prints(spark: SparkSession, jvm_log: object) -> None:
    get = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger
    get(DSV2).warn("Can't translate true to source filter, unsupported expression")
    get(DSV2).warn("some other DataSourceV2Strategy warning")
    get("org.apache.spark.util.SparkStringUtils").warn("Truncated the string representation of a plan since it was too large.")
    get("org.apache.hadoop.util.NativeCodeLoader").warn("Unable to load native-hadoop library for your platform")
    get("org.apache.hadoop.util.NativeCodeLoader").error("a real NativeCodeLoader error")
    get("org.apache.spark.scheduler.TaskSetManager").warn("Lost task 0.0 in stage 1.0")
    get("org.apache.spark.scheduler.TaskSetManager").info("Starting task 0.0")
    out = str(jvm_log.toString())  # type: ignore[attr-defined]
    assert "Can't translate" not in out and "Truncated the string" not in out and "native-hadoop" not in out
    assert "WARN DataSourceV2Strategy: some other DataSourceV2Strategy warning" in out
    assert "ERROR NativeCodeLoader: a real NativeCodeLoader error" in out
    assert "WARN TaskSetManager: Lost task 0.0 in stage 1.0" in out
    assert "Starting task" not in out  # root stays at WARN


def test_python_noise_filter_survives_a_logging_reconfiguration(caplog: pytest.LogCaptureFixture) -> None:
    console.quiet_python_loggers()
    console.quiet_python_loggers()  # idempotent: one filter
    logger = logging.getLogger("mlflow.store.db.utils")
    assert len(logger.filters) == 1
    logger.setLevel(logging.NOTSET)  # what MLflow's dictConfig does to its child loggers
    with caplog.at_level(logging.INFO):
        logger.info("Creating initial MLflow database tables...")
        logger.warning("a real MLflow store warning")
    assert [r.getMessage() for r in caplog.records if r.name == logger.name] == ["a real MLflow store warning"]
