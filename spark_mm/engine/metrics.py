"""Worker → driver metrics: a Spark accumulator that sums per-operator seconds."""

from __future__ import annotations

from pyspark.accumulators import AccumulatorParam


class SecondsByOp(AccumulatorParam):  # type: ignore[type-arg]
    """Adds dicts of operator name → seconds (worker time spent inside each operator)."""

    def zero(self, value: dict[str, float]) -> dict[str, float]:
        return {}

    def addInPlace(self, a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        for k, v in b.items():
            a[k] = a.get(k, 0.0) + v
        return a
