"""Which filter params are thresholds on which stored signal, for ``spark-mm suggest`` (k-sigma).

A filter's Params declare, through ``threshold_signals()``, each threshold param that bounds a
signal stored in its stage's table: the signal (a column, or a SQL expression over columns such
as the shorter image side), whether the param is a lower or an upper bound, and the comparison
the filter keeps with. Thresholds whose signal is not stored (ratios computed inside a kernel and
thrown away) are not declared; ``docs/analysis.md`` lists both kinds.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from spark_mm.lake.identifiers import quote_identifier


class Bound(str, enum.Enum):
    """Lower bounds (``min_*``) keep values above the threshold, upper bounds (``max_*``) below."""

    LOWER = "lower"
    UPPER = "upper"


@dataclass(frozen=True)
class SignalExpr:
    """A signal: a stored column, or a named SQL expression over stored columns.

    Attributes:
        name: the column name, or the name ``analyze`` stores a derived signal under.
        columns: the stored columns it needs (all in one signals table).
        sql: Spark SQL expression computing it; ``None`` for a plain column.
    """

    name: str
    columns: tuple[str, ...]
    sql: str | None = None

    @property
    def expression(self) -> str:
        """The SQL that computes the signal (a quoted column for a plain one); null when any input is
        null, as the Filter base class decides such rows ``missing_input`` (Spark's ``least`` and
        ``greatest`` would skip a null instead).

        >>> SignalExpr("s", ("a", "b"), "least(a, b)").expression
        'CASE WHEN `a` IS NOT NULL AND `b` IS NOT NULL THEN least(a, b) END'
        """
        if self.sql is None:
            return quote_identifier(self.name)
        guard = " AND ".join(f"{quote_identifier(c)} IS NOT NULL" for c in self.columns)
        return f"CASE WHEN {guard} THEN {self.sql} END"

    @property
    def derived(self) -> bool:
        return self.sql is not None


def column(name: str) -> SignalExpr:
    """A signal that is one stored column."""
    return SignalExpr(name, (name,))


@dataclass(frozen=True)
class Threshold:
    """One threshold param of a filter and the signal it bounds.

    Attributes:
        signal: what the param bounds.
        bound: lower or upper.
        strict: the filter keeps ``value > t`` (lower) / ``value < t`` (upper) instead of ``>=`` / ``<=``.
        integer: the param is an int: a lower bound is rounded up, an upper bound down (for an
            integer signal that keeps exactly the values the real-valued bound keeps).
        minimum / maximum: the param's own valid range (its pydantic ``ge``/``le``); proposals clamp to it.
        effective: the value the filter runs with when the param itself is unset (a variant default).
    """

    signal: SignalExpr
    bound: Bound
    strict: bool = False
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    effective: float | int | None = None

    def propose(self, mean: float, std: float, k: float) -> float | int:
        """Data-Juicer's k-sigma value (mean − k·std for a lower bound, + for an upper), rounded
        for int params and clamped to the param's valid range.

        >>> t = Threshold(column("x"), Bound.LOWER, integer=True, minimum=1)
        >>> t.propose(100.0, 30.0, 3), t.propose(100.0, 40.0, 3), t.propose(100.5, 0.1, 3)
        (10, 1, 101)
        >>> Threshold(column("x"), Bound.UPPER).propose(0.5, 0.1, 2)
        0.7
        """
        value = mean - k * std if self.bound is Bound.LOWER else mean + k * std
        if self.minimum is not None:
            value = max(value, self.minimum)
        if self.maximum is not None:
            value = min(value, self.maximum)
        if self.integer:
            return math.ceil(value - 1e-9) if self.bound is Bound.LOWER else math.floor(value + 1e-9)
        return round(value, 12)

    def keep_sql(self, value: float | int) -> str:
        """Spark SQL that is true where the filter's rule keeps the row (a null signal is dropped,
        as the Filter base class drops rows with a missing input)."""
        op = {(Bound.LOWER, False): ">=", (Bound.LOWER, True): ">", (Bound.UPPER, False): "<=", (Bound.UPPER, True): "<"}[(self.bound, self.strict)]
        return f"coalesce(({self.signal.expression}) {op} {float(value)!r}, false)"
