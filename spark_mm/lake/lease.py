"""A lease on a namespace, so that two runs into one namespace take turns instead of writing twice.

Stages anti-join on ``sample_id`` against what their table holds, which keeps one row per sample
only when runs into a namespace do not overlap: two runs started together both see an empty table
and both append everything. The lease makes them take turns. It is built on the one
compare-and-swap every Iceberg catalog offers (JDBC/SQLite, REST, Hive, Glue): creating a table
is atomic and refuses an existing name.

- The lease of namespace ``ns`` is a series of empty tables ``ns.spark_mm_lease_g000001``,
  ``..._g000002``, ... (generations). Their table properties name the holder: run id, host, pid,
  a random token, acquired-at, heartbeat-at, released. Only the newest generation counts.
- **Acquire:** the newest generation is *held* when it is not released, its heartbeat is fresher
  than :data:`STALE_AFTER_S`, and it is not a dead pid on this same host. Then wait (polling) up
  to ``run.lease_timeout_s`` and fail with :class:`~spark_mm.errors.LeaseHeld`. Otherwise CREATE
  the next generation (plain CREATE, never IF NOT EXISTS): of two contenders one succeeds, the
  other goes back to waiting. Generations older than the previous one are dropped.
- **Heartbeat:** a daemon thread refreshes heartbeat-at every :data:`HEARTBEAT_EVERY_S`.
- **Release:** released=true, in a ``finally``. A killed run's lease expires (or, on the same
  host, is taken over at once because its pid is gone); ``spark-mm unlock NS`` releases by hand.

Every lease statement runs in a Spark session of its own (``spark.newSession()``): its SQL conf
is separate from the run's, so the run's ``spark.wap.id`` never applies to a lease commit and the
heartbeat never sees it, and its catalog has the table cache off, so every read sees what another
process committed a moment ago.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING

from spark_mm.errors import LeaseHeld, RunAlreadyRunning

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

TABLE_PREFIX = "spark_mm_lease_g"
_TABLE = re.compile(rf"^{TABLE_PREFIX}(\d{{6,}})$")
KEY = "spark-mm.lease."
HEARTBEAT_EVERY_S = 30.0
STALE_AFTER_S = 300.0  # ten missed heartbeats: a GC pause or a slow catalog never looks like a dead run
POLL_EVERY_S = 3.0
_CATALOG_ATTEMPTS = 8  # catalog errors in a row (e.g. SQLite "database is locked") before acquire gives up
# Lease tables commit a metadata file per heartbeat; keep only the last few.
_TABLE_PROPERTIES = {"write.metadata.delete-after-commit.enabled": "true", "write.metadata.previous-versions-max": "2"}


def is_lease_table(name: str) -> bool:
    """True for a lease table (no data, no snapshots, part of no run).

    >>> is_lease_table("spark_mm_lease_g000012"), is_lease_table("samples")
    (True, False)
    """
    return _TABLE.match(name) is not None


def lease_table_name(generation: int) -> str:
    """The table of one lease generation.

    >>> lease_table_name(7)
    'spark_mm_lease_g000007'
    """
    return f"{TABLE_PREFIX}{generation:06d}"


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str | None) -> datetime:
    """A stored timestamp; an unreadable one is the epoch (so the lease reads as stale, never as held)."""
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, tz=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LeaseRecord:
    """One generation of a namespace's lease, as its table properties describe it."""

    generation: int
    run_id: str
    host: str
    pid: int
    token: str  # random per acquisition: tells "my create succeeded" from "someone else's did"
    acquired_at: datetime
    heartbeat_at: datetime
    released: bool = False

    def properties(self) -> dict[str, str]:
        return {
            f"{KEY}run-id": self.run_id,
            f"{KEY}host": self.host,
            f"{KEY}pid": str(self.pid),
            f"{KEY}token": self.token,
            f"{KEY}acquired-at": _iso(self.acquired_at),
            f"{KEY}heartbeat-at": _iso(self.heartbeat_at),
            f"{KEY}released": "true" if self.released else "false",
        }

    @classmethod
    def from_properties(cls, generation: int, props: dict[str, str]) -> LeaseRecord:
        pid = props.get(f"{KEY}pid", "")
        return cls(
            generation=generation,
            run_id=props.get(f"{KEY}run-id", "?"),
            host=props.get(f"{KEY}host", "?"),
            pid=int(pid) if pid.isdigit() else -1,
            token=props.get(f"{KEY}token", ""),
            acquired_at=_parse_time(props.get(f"{KEY}acquired-at")),
            heartbeat_at=_parse_time(props.get(f"{KEY}heartbeat-at")),
            released=props.get(f"{KEY}released") == "true",
        )

    def describe(self) -> str:
        """``run R (host, pid P) since T``, as the waiting line and the errors print it."""
        return f"run {self.run_id} ({self.host}, pid {self.pid}) since {_iso(self.acquired_at)}"


class Verdict(str, Enum):
    """What the newest lease generation means for a run that wants the namespace."""

    HELD = "held"
    RELEASED = "released"
    STALE = "heartbeat expired"
    DEAD = "its process is gone"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 probes without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def judge(record: LeaseRecord, now: datetime, host: str, alive: Callable[[int], bool] = pid_alive, stale_after_s: float = STALE_AFTER_S) -> Verdict:
    """Decide whether a lease generation still holds the namespace.

    The pid is only checked on the holder's own host; elsewhere the heartbeat decides.

    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> r = LeaseRecord(3, "r1", "h1", 42, "tok", t, t)
    >>> judge(r, t, "h2").value, judge(r, t, "h1", alive=lambda pid: False).value
    ('held', 'its process is gone')
    >>> from datetime import timedelta
    >>> judge(r, t + timedelta(seconds=301), "h2").value
    'heartbeat expired'
    """
    if record.released:
        return Verdict.RELEASED
    if record.host == host and not alive(record.pid):
        return Verdict.DEAD
    if (now - record.heartbeat_at).total_seconds() > stale_after_s:
        return Verdict.STALE
    return Verdict.HELD


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _condition(err: Exception) -> str | None:
    getter = getattr(err, "getCondition", None) or getattr(err, "getErrorClass", None)
    return getter() if getter else None


class LeaseStore:
    """The lease tables of one namespace, read and written through a Spark session of their own."""

    def __init__(self, spark: SparkSession, catalog: str, namespace: str) -> None:
        self.session = spark.newSession()  # own SQL conf: the run's spark.wap.id never reaches it
        # A new session starts from the SparkContext's conf: a catalog defined at runtime with
        # spark.conf.set (a REST catalog added to a running session) must be copied over.
        prefix = f"spark.sql.catalog.{catalog}"
        for key, value in spark.conf.getAll.items():
            if key == prefix or key.startswith(prefix + "."):
                self.session.conf.set(key, value)
        self.session.conf.set(f"{prefix}.cache-enabled", "false")  # see other JVMs' commits
        self.catalog = catalog
        self.namespace = namespace

    def table(self, generation: int) -> str:
        return f"{self.catalog}.{self.namespace}.{lease_table_name(generation)}"

    def ensure_namespace(self) -> None:
        """CREATE NAMESPACE IF NOT EXISTS, retried: another process may be creating it (or holding the catalog's lock)."""
        for attempt in range(_CATALOG_ATTEMPTS):
            try:
                self.session.sql(f"CREATE NAMESPACE IF NOT EXISTS {self.catalog}.{self.namespace}")
                return
            except Exception as err:  # a concurrent create or a locked catalog; IF NOT EXISTS makes the retry exact
                if attempt == _CATALOG_ATTEMPTS - 1:
                    raise
                log.warning("creating namespace %s.%s failed (%s); retrying", self.catalog, self.namespace, err)
                time.sleep(min(0.25 * 2 ** (attempt + 1), 5.0))

    def generations(self) -> list[int]:
        """Lease generations present, ascending (none when the namespace does not exist)."""
        from pyspark.errors import AnalysisException

        try:
            rows = self.session.sql(f"SHOW TABLES IN {self.catalog}.{self.namespace} LIKE '{TABLE_PREFIX}*'").collect()
        except AnalysisException as err:
            if _condition(err) == "SCHEMA_NOT_FOUND":
                return []
            raise
        return sorted(int(m.group(1)) for r in rows if (m := _TABLE.match(r["tableName"])))

    def read(self, generation: int) -> LeaseRecord | None:
        """The generation's record; None when that table is gone (dropped by a newer holder)."""
        from pyspark.errors import AnalysisException

        try:
            rows = self.session.sql(f"SHOW TBLPROPERTIES {self.table(generation)}").collect()
        except AnalysisException as err:
            if _condition(err) == "TABLE_OR_VIEW_NOT_FOUND":
                return None
            raise
        return LeaseRecord.from_properties(generation, {r["key"]: r["value"] for r in rows})

    def create(self, record: LeaseRecord) -> None:
        """Create the generation's table; raises when it exists (the catalog's atomic create)."""
        props = {**_TABLE_PROPERTIES, **record.properties()}
        listed = ", ".join(f"{_sql_string(k)}={_sql_string(v)}" for k, v in props.items())
        self.session.sql(f"CREATE TABLE {self.table(record.generation)} (lease STRING) USING iceberg TBLPROPERTIES ({listed})")

    def update(self, generation: int, props: dict[str, str]) -> None:
        listed = ", ".join(f"{_sql_string(k)}={_sql_string(v)}" for k, v in props.items())
        self.session.sql(f"ALTER TABLE {self.table(generation)} SET TBLPROPERTIES ({listed})")

    def drop_before(self, generation: int) -> None:
        """Drop generations older than ``generation`` (best effort: a leftover table is harmless)."""
        for old in self.generations():
            if old >= generation:
                break
            try:
                self._drop(old)
            except Exception as err:  # another holder dropping it too, or a locked catalog
                log.info("could not drop old lease table %s: %s", self.table(old), err)

    def _drop(self, generation: int) -> None:
        """Drop with purge through the Iceberg catalog API, which deletes the current metadata file
        and the ones its log lists (all there are: lease tables keep two). Spark's ``DROP TABLE
        PURGE`` reads the logs recursively and logs an ERROR for every older, already deleted file.
        """
        jcat = self.session._jsparkSession.sessionState().catalogManager().catalog(self.catalog)
        if not hasattr(jcat, "icebergCatalog"):  # not an Iceberg SparkCatalog: plain SQL, files stay
            self.session.sql(f"DROP TABLE IF EXISTS {self.table(generation)}")
            return
        ident = self.session._jvm.org.apache.iceberg.catalog.TableIdentifier.parse(f"{self.namespace}.{lease_table_name(generation)}")
        jcat.icebergCatalog().dropTable(ident, True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class NamespaceLease:
    """The lease of one namespace held by one run: acquire (waiting), heartbeat, release.

    Use as a context manager around everything a run writes::

        with NamespaceLease(spark, "lake", "z_image", run_id, timeout_s=3600):
            ...  # ingest, stages, dedup

    Raises (from ``acquire``):
        RunAlreadyRunning: a live process holds the lease under the same run id.
        LeaseHeld: another run held it for longer than ``timeout_s``.
    """

    def __init__(
        self, spark: SparkSession, catalog: str, namespace: str, run_id: str, timeout_s: float, *,
        poll_s: float = POLL_EVERY_S, heartbeat_s: float = HEARTBEAT_EVERY_S, stale_after_s: float = STALE_AFTER_S,
        say: Callable[[str], None] = _stderr,
    ) -> None:
        self.store = LeaseStore(spark, catalog, namespace)
        self.namespace = namespace
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.say = say
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.record: LeaseRecord | None = None
        self.waited_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> NamespaceLease:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def _unlock_hint(self) -> str:
        return f"spark-mm unlock {self.namespace}"

    def acquire(self) -> NamespaceLease:
        """Wait until the namespace is free (or its holder is dead), then take the next generation.

        A catalog error (e.g. SQLite's "database is locked" once its 3 s busy timeout passed, when
        another JVM holds the catalog file's write lock) retries with backoff; only
        :data:`_CATALOG_ATTEMPTS` failures in a row give up.
        """
        self.store.ensure_namespace()
        token = uuid.uuid4().hex
        started = time.monotonic()
        announced: int | None = None
        failures = 0
        while True:
            try:
                acquired, record = self._attempt(token)
                failures = 0
            except Exception as err:  # a catalog hiccup: look again
                failures += 1
                if failures >= _CATALOG_ATTEMPTS:
                    raise
                log.warning("lease on %s: catalog error (%s); retrying", self.namespace, err)
                time.sleep(min(0.25 * 2**failures, 5.0))
                continue
            if record is None:
                continue
            if not acquired:
                self._wait_or_fail(record, started, announced)
                announced = record.generation
                continue
            self.record = record
            self.waited_s = time.monotonic() - started
            self.store.drop_before(record.generation - 1)
            self._start_heartbeat()
            log.info("lease on %s acquired: generation %d", self.namespace, record.generation)
            return self

    def _attempt(self, token: str) -> tuple[bool, LeaseRecord | None]:
        """One look at the lease: (True, ours) when taken, (False, holder) when held, (False, None) to look again."""
        gens = self.store.generations()
        newest = self.store.read(gens[-1]) if gens else None
        if gens and newest is None:  # dropped between listing and reading: a newer generation exists
            time.sleep(0.1)
            return False, None
        if newest is not None:
            verdict = judge(newest, _now(), self.host, stale_after_s=self.stale_after_s)
            if verdict is Verdict.HELD:
                return False, newest
            if verdict in (Verdict.STALE, Verdict.DEAD):
                self.say(f"taking over the lease on {self.namespace} from {newest.describe()}: {verdict.value}")
        generation = (gens[-1] if gens else 0) + 1
        now = _now()
        record = LeaseRecord(generation, self.run_id, self.host, self.pid, token, now, now)
        try:
            self.store.create(record)
        except Exception:  # lost the race, or a catalog error: the catalog says which
            winner = self.store.read(generation)
            if winner is None:
                raise
            if winner.token != token:
                return False, None  # another contender took this generation first: it is the holder now
        if self.store.generations()[-1] != generation:
            # Listed long ago and recreated a dropped old generation: a newer one is the real holder.
            self.store.update(generation, {f"{KEY}released": "true"})
            return False, None
        return True, record

    def _wait_or_fail(self, holder: LeaseRecord, started: float, announced: int | None) -> None:
        if holder.run_id == self.run_id:
            raise RunAlreadyRunning(
                f"run {self.run_id} is already running on namespace {self.namespace!r} ({holder.host}, pid {holder.pid}, "
                f"since {_iso(holder.acquired_at)}, last heartbeat {_iso(holder.heartbeat_at)}); nothing was written by this "
                f"process. A run id names one run: wait for it and re-run the same id to resume (it appends nothing twice), "
                f"or, if that process is dead, run `{self._unlock_hint()}` first"
            )
        elapsed = time.monotonic() - started
        if elapsed >= self.timeout_s:
            raise LeaseHeld(
                f"namespace {self.namespace!r} is leased by {holder.describe()} (last heartbeat {_iso(holder.heartbeat_at)}); "
                f"gave up after {elapsed:.0f} s (run.lease_timeout_s={self.timeout_s:g}). Re-run later, raise "
                f"run.lease_timeout_s, or, if that run is dead, run `{self._unlock_hint()}`"
            )
        if holder.generation != announced:
            self.say(f"waiting for the lease on {self.namespace} held by {holder.describe()}")
        time.sleep(min(self.poll_s, max(self.timeout_s - elapsed, 0.0)))

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"spark-mm-lease-{self.namespace}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        """Refresh heartbeat-at until released; warn once and stop if the lease was taken away."""
        assert self.record is not None
        generation = self.record.generation
        while not self._stop.wait(self.heartbeat_s):
            try:
                current = self.store.read(generation)
                if current is None or current.released or self.store.generations()[-1] != generation:
                    log.warning(
                        "the lease on %s was released or taken over while run %s held it (spark-mm unlock?); "
                        "another run may now write into the namespace at the same time", self.namespace, self.run_id,
                    )
                    return
                self.store.update(generation, {f"{KEY}heartbeat-at": _iso(_now())})
            except Exception as err:  # a locked catalog or a network blip: the next beat tries again
                log.warning("lease heartbeat on %s failed: %s", self.namespace, err)

    def release(self) -> None:
        """Mark the lease released and stop the heartbeat; never raises (it runs in ``finally``)."""
        if self.record is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(60.0, self.heartbeat_s))
        try:
            self.store.update(self.record.generation, {f"{KEY}released": "true", f"{KEY}released-at": _iso(_now())})
        except Exception as err:  # keep the run's own outcome; the lease expires or is unlocked
            log.warning(
                "could not release the lease on %s (%s): it expires %.0f s after the last heartbeat, or run `%s`",
                self.namespace, err, self.stale_after_s, self._unlock_hint(),
            )
        self.record = None


@dataclass(frozen=True)
class Unlocked:
    """What ``spark-mm unlock`` released, and whether its holder still looked alive."""

    record: LeaseRecord
    verdict: Verdict


def unlock(spark: SparkSession, catalog: str, namespace: str) -> Unlocked | None:
    """Release a namespace's lease by hand (a stuck holder); None when no lease was held."""
    store = LeaseStore(spark, catalog, namespace)
    gens = store.generations()
    record = store.read(gens[-1]) if gens else None
    if record is None or record.released:
        return None
    verdict = judge(record, _now(), socket.gethostname())
    store.update(record.generation, {f"{KEY}released": "true", f"{KEY}released-at": _iso(_now()), f"{KEY}released-by": "spark-mm unlock"})
    return Unlocked(record, verdict)
