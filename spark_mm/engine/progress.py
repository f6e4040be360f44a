"""Console progress of a run: one ``started`` line per stage, and a live line on a terminal.

Every stage (ingest, each operator stage, each dedup step) prints ``stage NAME: started (N rows
pending)`` once it knows how many rows it will process, so a piped or logged run shows where it is.
When stdout is a terminal, a single line below it is rewritten in place (``\\r``) about twice a
second with the Spark tasks done, the rows that makes, rows/s and an ETA, and erased when the stage
ends; piped output never gets it. Spark's own progress bar stays off (``engine/session.py``): it
knows tasks, not rows, and draws on stderr between log lines.

The live line reads Spark's status tracker (the driver's job/stage bookkeeping, there with the UI
off too). A stage's jobs run under a job group named after the stage, so jobs of other threads
(the namespace lease's heartbeat) are not counted. Rows done are estimated as the stage's pending
rows times the fraction of the running Spark job's tasks that finished: tasks are partitions of
similar size, and the estimate restarts with each job (a count, then the write).
``SPARK_MM_PROGRESS=0`` turns the live line off on a terminal too.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
_GROUP_KEYS = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")


def live_output(stream: TextIO) -> bool:
    """Whether ``stream`` gets the live line: a terminal that is not ``TERM=dumb``, unless ``SPARK_MM_PROGRESS=0``."""
    if os.environ.get("SPARK_MM_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


@dataclass(frozen=True)
class TaskCounts:
    """Tasks of the stage's running Spark jobs: ``key`` names the running Spark stages (a new job, a new key)."""

    done: int
    total: int
    key: tuple[int, ...]


def running_tasks(spark: SparkSession, group: str) -> TaskCounts:
    """Completed and total tasks of the active Spark stages of the running jobs in ``group``."""
    tracker = spark.sparkContext.statusTracker()
    active = set(tracker.getActiveStageIds())
    done = total = 0
    key: list[int] = []
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        if job is None or job.status != "RUNNING":
            continue
        for stage_id in job.stageIds:
            info = tracker.getStageInfo(stage_id) if stage_id in active else None
            if info is not None:
                done, total = done + info.numCompletedTasks, total + info.numTasks
                key.append(stage_id)
    return TaskCounts(done, total, tuple(sorted(key)))


def format_line(stage: str, tasks: TaskCounts, rows: int | None, rows_per_s: float | None, elapsed_s: float) -> str:
    """The live line.

    >>> format_line("image_cpu", TaskCounts(6, 8, (3,)), 240, 15.0, 12.4)
    'stage image_cpu: ~180/240 rows (6/8 tasks), 15.0 rows/s, ETA 4s, 12s elapsed'
    >>> format_line("ingest", TaskCounts(1, 4, (0,)), None, None, 3.0)
    'stage ingest: 1/4 tasks, 3s elapsed'
    """
    parts = [f"stage {stage}:"]
    if rows is not None:
        done = rows * tasks.done // tasks.total if tasks.total else 0
        parts.append(f"~{done}/{rows} rows ({tasks.done}/{tasks.total} tasks),")
        rate = rows_per_s or 0.0
        eta = f"{(rows - done) / rate:.0f}s" if rate > 0 else "--"
        parts.append(f"{rate:.1f} rows/s, ETA {eta},")
    elif tasks.total:
        parts.append(f"{tasks.done}/{tasks.total} tasks,")
    parts.append(f"{elapsed_s:.0f}s elapsed")
    return " ".join(parts)


class StageProgress:
    """Console progress of one stage; use as a context manager around the stage's work.

    Args:
        spark: the session whose status tracker feeds the live line.
        stage: the stage's name, as the summary prints it.
        stream: where to print (default: ``sys.stdout`` at entry).
        interval_s: seconds between two refreshes of the live line.
        live: force the live line on or off (default: :func:`live_output` of ``stream``).
    """

    def __init__(self, spark: SparkSession, stage: str, stream: TextIO | None = None, interval_s: float = 0.5, live: bool | None = None) -> None:
        self.spark, self.stage, self.interval_s = spark, stage, interval_s
        self._stream = stream
        self._live = live
        self.group = f"spark-mm:{stage}"
        self.rows: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = 0  # characters of the live line now on screen
        self._saved: dict[str, str | None] = {}
        self._started_at = time.monotonic()
        self._job: tuple[tuple[int, ...], float, int] = ((), self._started_at, 0)  # (key, since, rows done then)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    @property
    def live(self) -> bool:
        return live_output(self.stream) if self._live is None else self._live

    def __enter__(self) -> StageProgress:
        sc = self.spark.sparkContext
        self._saved = {k: sc.getLocalProperty(k) for k in _GROUP_KEYS}
        sc.setJobGroup(self.group, f"spark-mm stage {self.stage}", interruptOnCancel=False)
        self._started_at = time.monotonic()
        if self.live:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._erase_before_log)
            self._thread = threading.Thread(target=self._poll, name=f"spark-mm-progress-{self.stage}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._erase_before_log)
        with self._lock:
            self._erase()
        sc = self.spark.sparkContext
        for k, v in self._saved.items():
            sc.setLocalProperty(k, v)  # type: ignore[arg-type]  # None removes the property

    def started(self, rows: int, what: str = "") -> None:
        """Print ``stage NAME: started (N rows pending)``; the live line now counts rows against ``rows``."""
        self.rows = rows
        self.say(f"stage {self.stage}{what}: started ({rows} rows pending)")
        if self._thread is not None:
            self._safe_refresh()

    def say(self, line: str) -> None:
        """Print a line of its own, above the live line."""
        with self._lock:
            self._erase()
            print(line, file=self.stream, flush=True)

    def _erase_before_log(self, record: logging.LogRecord) -> bool:
        """A filter on the root log handlers while the live line shows: blank it before a log line
        prints (the next refresh draws it again below). Lets every record through."""
        with self._lock:
            self._erase()
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self.interval_s) and self._safe_refresh():
            pass

    def _safe_refresh(self) -> bool:
        """Refresh the live line; False (logged at DEBUG) when the tracker cannot be read, e.g. while the session stops."""
        try:
            self._refresh()
        except Exception:  # noqa: BLE001 - a progress line is never worth failing the stage over
            log.debug("progress of stage %s: status tracker not readable", self.stage, exc_info=True)
            return False
        return True

    def _refresh(self) -> None:
        tasks = running_tasks(self.spark, self.group)  # outside the lock: a round trip to the JVM
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        with self._lock:
            if self._stop.is_set():
                return
            now = time.monotonic()
            done = self.rows * tasks.done // tasks.total if self.rows is not None and tasks.total else 0
            key, since, done_then = self._job
            if tasks.key != key:  # another Spark job: its rate starts now
                self._job = key, since, done_then = tasks.key, now, done
            rate = (done - done_then) / (now - since) if self.rows is not None and now > since else None
            line = format_line(self.stage, tasks, self.rows, rate, now - self._started_at)[:width]
            pad = " " * max(0, self._shown - len(line))
            self.stream.write("\r" + line + pad)
            self.stream.flush()
            self._shown = len(line)

    def _erase(self) -> None:
        """Blank the live line and return to its start (caller holds the lock)."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
