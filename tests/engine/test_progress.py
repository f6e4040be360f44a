"""Stage progress on the console: the started line always, the live line only where asked, fed by
Spark's status tracker for the stage's own job group, and blanked when the stage ends."""

from __future__ import annotations

import io
import logging
import re
import time

import pytest
from pyspark.sql import SparkSession

from spark_mm.engine.progress import StageProgress, format_line, live_output, running_tasks


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _slow_job(spark: SparkSession, tasks: int, seconds_per_task: float) -> int:
    def slow(it):  # type: ignore[no-untyped-def]
        time.sleep(seconds_per_task)
        yield sum(1 for _ in it)

    return sum(spark.sparkContext.parallelize(range(tasks * 4), tasks).mapPartitions(slow).collect())


def test_live_line_follows_the_job_and_is_erased(spark: SparkSession) -> None:
    out = _Tty()
    with StageProgress(spark, "unit_live", stream=out, interval_s=0.1) as p:
        p.started(40)
        assert _slow_job(spark, 4, 0.6) == 16
    text = out.getvalue()
    assert text.count("stage unit_live: started (40 rows pending)\n") == 1
    live = re.findall(r"\r(stage unit_live: [^\r\n]*)", text)
    assert any(re.search(r"~\d+/40 rows \(\d/4 tasks\), [\d.]+ rows/s, ETA ", line) for line in live), live
    assert text.endswith("\r" + " " * len(live[-1].rstrip()) + "\r"), repr(text[-200:])  # the last line drawn, blanked
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # the group is restored


def test_piped_output_has_only_the_started_line(spark: SparkSession) -> None:
    out = io.StringIO()
    assert not live_output(out)
    with StageProgress(spark, "unit_piped", stream=out, interval_s=0.05) as p:
        p.started(3, " chunk 1/2")
        _slow_job(spark, 2, 0.2)
        p.say("stage unit_piped: skipped (already committed by this run)")
    assert out.getvalue() == "stage unit_piped chunk 1/2: started (3 rows pending)\nstage unit_piped: skipped (already committed by this run)\n"


def test_tracker_counts_only_the_stage_group(spark: SparkSession) -> None:
    with StageProgress(spark, "unit_group", live=False) as p:
        _slow_job(spark, 2, 0.0)
        assert running_tasks(spark, p.group).total == 0  # finished jobs no longer count
    assert running_tasks(spark, "spark-mm:no-such-stage").total == 0


def test_a_log_record_blanks_the_live_line_first(spark: SparkSession) -> None:
    out = _Tty()
    stream = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(stream)
    try:
        with StageProgress(spark, "unit_log", stream=out, interval_s=0.05) as p:
            p.started(8)
            time.sleep(0.3)
            logging.getLogger("spark_mm.test").warning("a warning while the live line shows")
    finally:
        root.removeHandler(stream)
    before, _, _ = out.getvalue().partition("a warning while the live line shows")
    assert re.search(r"\r +\r$", before), repr(before[-200:])


@pytest.mark.parametrize(("env", "live"), [({}, True), ({"SPARK_MM_PROGRESS": "0"}, False), ({"TERM": "dumb"}, False)])
def test_live_output_switches(env: dict[str, str], live: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_MM_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert live_output(_Tty()) is live


def test_format_line_without_rows_shows_tasks() -> None:
    from spark_mm.engine.progress import TaskCounts

    assert format_line("x", TaskCounts(0, 0, ()), None, None, 0.4) == "stage x: 0s elapsed"
    assert format_line("x", TaskCounts(2, 4, (1,)), 10, 0.0, 1.0) == "stage x: ~5/10 rows (2/4 tasks), 0.0 rows/s, ETA --, 1s elapsed"
