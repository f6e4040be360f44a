"""Every exception spark-mm raises on purpose, in one place.

Per-record failures are never exceptions: they are data (an ``errors`` entry or ``<op>_ok=False``).
These classes are for bad configuration and broken contracts, raised early with a message that
names the offending key and how to fix it.
"""

from __future__ import annotations


class SparkMMError(Exception):
    """Base class of every spark-mm error."""


class RecipeError(SparkMMError):
    """A recipe or ``--set`` override is invalid; the message names the key and accepted values."""


class ConfigError(SparkMMError):
    """Environment or runtime configuration is unusable (e.g. Java missing, bad catalog setting)."""


class OperatorContractError(SparkMMError):
    """An operator returned output that breaks its declared contract (rows or schema)."""


class StageCountMismatch(SparkMMError):
    """A stage wrote a different number of rows than it read: a record went missing or doubled."""


class QueryError(SparkMMError):
    """A Spark SQL query given on the command line does not parse, resolve or run; Spark's message, cut to its first line."""


class SourceError(SparkMMError):
    """A source cannot be read at all (missing path, no files). Bad records are error rows instead."""


class WeightsNotFound(SparkMMError):
    """Model weights were not found where the recipe said to look."""


class MissingDependency(SparkMMError):
    """An optional dependency is needed for this feature; the message carries the pip command."""


class LeaseHeld(SparkMMError):
    """Another run held the namespace lease for longer than ``run.lease_timeout_s``; names it and ``spark-mm unlock``."""


class RunAlreadyRunning(LeaseHeld):
    """The same run id is already running against the namespace in another live process."""


class IdentifierError(SparkMMError):
    """A run id, table, namespace or column name cannot be used safely in SQL, DDL or a filter."""


class ServiceUnreachable(SparkMMError):
    """A server the run writes through (the catalog, the object store) stopped answering mid-run;
    the message names it, its address and the step, and says to re-run with the same run id."""

    def __init__(self, message: str, service: str, address: str) -> None:
        super().__init__(message)
        self.service = service
        self.address = address
