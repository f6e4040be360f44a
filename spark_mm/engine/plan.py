"""Recipe stages → the function each ``mapInArrow`` pass runs.

Consecutive operators of a stage are fused into one pass: a batch is decoded from Arrow once, each
operator appends its columns to the working batch (later operators can read them), per-row errors
are gathered into one ``errors`` map (operator → message), and the pass checks rows in = rows out
for every batch. Operators are built on the worker from their params, never pickled with state.
Every output row carries the stage's fingerprint (``engine/fingerprint.py``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from spark_mm.engine.arrow_types import storable_schema, to_storable
from spark_mm.engine.fingerprint import FINGERPRINT_FIELD
from spark_mm.errors import OperatorContractError
from spark_mm.lake.schema import ERRORS_FIELD, RUN_ID_FIELD
from spark_mm.ops import registry
from spark_mm.ops.base import Operator, OpParams, OpResult, Resource


# The key columns of a stage's rows, by what it runs over: its row id first, then the parent sample.
STAGE_KEYS: dict[str, tuple[str, ...]] = {"samples": ("sample_id",), "clips": ("clip_id", "sample_id")}


@dataclass(frozen=True)
class StagePlan:
    """One stage: its name, operator params in order, where it runs, and what it runs over (``samples`` or ``clips``)."""

    name: str
    ops: tuple[OpParams, ...]
    resource: Resource
    over: str = "samples"

    @property
    def keys(self) -> tuple[str, ...]:
        """``("sample_id",)``, or ``("clip_id", "sample_id")`` for a clip stage: the row key first."""
        return STAGE_KEYS[self.over]

    def operators(self) -> list[Operator]:  # type: ignore[type-arg]
        return [registry.build(p) for p in self.ops]

    @property
    def op_ids(self) -> tuple[str, ...]:
        return tuple(op.id for op in self.operators())

    def external_inputs(self) -> list[str]:
        """Columns the stage reads that no operator of the stage produces, in first-use order."""
        produced: set[str] = set()
        needed: list[str] = []
        for op in self.operators():
            for col in op.reads:
                if col not in produced and col not in needed:
                    needed.append(col)
            produced |= set(op.output_schema.names)
        return needed

    def output_schema(self) -> pa.Schema:
        """The keys (sample_id; clip_id, sample_id), every operator's columns (storable types), errors, run_id, fingerprint."""
        fields = [pa.field(k, pa.string(), nullable=False) for k in self.keys]
        for op in self.operators():
            fields.extend(storable_schema(op.output_schema))
        names = [f.name for f in fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise OperatorContractError(f"stage {self.name!r}: operators write the same columns {dupes}")
        return pa.schema(fields + [ERRORS_FIELD, RUN_ID_FIELD, FINGERPRINT_FIELD])

    def signal_columns(self) -> list[str]:
        """The operators' columns: the output schema without the bookkeeping columns."""
        return [n for n in self.output_schema().names if n not in BOOKKEEPING_COLUMNS]


# Columns of every signals_<stage> row that no operator writes.
KEY_COLUMNS = ("clip_id", "sample_id")
BOOKKEEPING_COLUMNS = (*KEY_COLUMNS, ERRORS_FIELD.name, RUN_ID_FIELD.name, FINGERPRINT_FIELD.name)


def errors_map(n: int, per_op: list[tuple[str, pa.Array]]) -> pa.MapArray:
    """Build the ``errors`` column: for each row, a map of operator name → message (empty when clean).

    >>> m = errors_map(3, [("a", pa.array([None, "bad", None])), ("b", pa.array(["x", "y", None]))])
    >>> m.to_pylist()
    [[('b', 'x')], [('a', 'bad'), ('b', 'y')], []]
    """
    counts = np.zeros(n, dtype=np.int32)
    valid: list[tuple[str, np.ndarray, list[str | None]]] = []
    for name, arr in per_op:
        mask = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if mask.any():
            counts += mask
            valid.append((name, mask, arr.to_pylist()))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    keys: list[str] = []
    items: list[str | None] = []
    if valid:
        rows = np.flatnonzero(counts)
        for r in rows:
            for name, mask, values in valid:
                if mask[r]:
                    keys.append(name)
                    items.append(values[r])
    return pa.MapArray.from_arrays(pa.array(offsets), pa.array(keys, pa.string()), pa.array(items, pa.string()))


def make_stage_fn(
    plan: StagePlan, run_id: str, prepared: list[Operator] | None = None, seconds: Any = None, fingerprint: str | None = None  # type: ignore[type-arg]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function a stage's ``mapInArrow`` runs on every partition.

    Args:
        fingerprint: the stage fingerprint written into every row (``engine/fingerprint.py``).
        prepared: operators already preflighted on the driver (model weights resolved once, not
            per task); they pickle their config and weights status only. Default: build from params.
        seconds: a Spark accumulator (``SecondsByOp``) that receives per-operator worker seconds.
    """
    params = plan.ops
    schema = plan.output_schema()
    stage = plan.name

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ops = list(prepared) if prepared is not None else [registry.build(p) for p in params]
        for op in ops:
            op.setup()
        timings: dict[str, float] = {}
        yield from run_ops(stage, ops, batches, schema, run_id, timings, fingerprint)
        if seconds is not None:
            seconds.add(timings)

    return run


@dataclass
class _Working:
    """A batch on its way through the fused operators: input, columns so far, per-op errors."""

    source: pa.RecordBatch
    batch: pa.RecordBatch
    outputs: dict[str, pa.Array] = field(default_factory=dict)
    errors: list[tuple[str, pa.Array]] = field(default_factory=list)

    def add(self, op: Operator, result: OpResult) -> "_Working":  # type: ignore[type-arg]
        for name, column in zip(result.columns.schema.names, result.columns.columns):
            self.outputs[name] = column
            if name not in self.batch.schema.names:
                self.batch = self.batch.append_column(name, column)
        if result.errors is not None:
            self.errors.append((op.name, result.errors))
        return self


def _through(op: Operator, stream: Iterator[_Working], timings: dict[str, float] | None) -> Iterator[_Working]:  # type: ignore[type-arg]
    """Push a stream of working batches through one operator.

    Operators with ``transform_stream`` (model stages) re-batch across Arrow batches to their own
    batch size and may read ahead; results come back in input order, matched here by a queue.
    """
    streaming = getattr(op, "transform_stream", None)
    if streaming is None:
        for w in stream:
            started = time.perf_counter()
            result = op.apply(w.batch)
            if timings is not None:
                timings[op.name] = timings.get(op.name, 0.0) + time.perf_counter() - started
            yield w.add(op, result)
        return
    pending: deque[_Working] = deque()

    def feed() -> Iterator[pa.RecordBatch]:
        for w in stream:
            pending.append(w)
            yield w.batch

    for result in streaming(feed()):
        w = pending.popleft()
        op.check(w.batch, result)
        yield w.add(op, result)


def _group_through(ops: list[Operator], stream: Iterator[_Working], timings: dict[str, float] | None) -> Iterator[_Working]:  # type: ignore[type-arg]
    """Push batches through operators that evaluate together (same ``fusion_key``)."""
    name = "+".join(op.name for op in ops)
    for w in stream:
        started = time.perf_counter()
        results = type(ops[0]).apply_group(ops, w.batch)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        for op, result in zip(ops, results):
            w.add(op, result)
        yield w


def fusion_groups(ops: list[Operator]) -> list[list[Operator]]:  # type: ignore[type-arg]
    """Consecutive operators with the same non-None ``fusion_key`` form one group.

    A group never includes an operator that reads a column another member produces.
    """
    groups: list[list[Operator]] = []  # type: ignore[type-arg]
    for op in ops:
        key = op.fusion_key()
        last = groups[-1] if groups else None
        if (
            last is not None
            and key is not None
            and last[0].fusion_key() == key
            and not set(op.reads) & {c for member in last for c in member.output_schema.names}
        ):
            last.append(op)
        else:
            groups.append([op])
    return groups


def run_ops(
    stage: str, ops: list[Operator], batches: Iterable[pa.RecordBatch], schema: pa.Schema, run_id: str,  # type: ignore[type-arg]
    timings: dict[str, float] | None = None, fingerprint: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Run the fused operators over a stream of batches, yielding the stage's output batches."""
    stream: Iterator[_Working] = (_Working(b, b) for b in batches)
    for group in fusion_groups(ops):
        stream = _through(group[0], stream, timings) if len(group) == 1 else _group_through(group, stream, timings)
    for w in stream:
        yield _assemble(stage, w, schema, run_id, fingerprint)


def apply_ops(
    stage: str, ops: list[Operator], batch: pa.RecordBatch, schema: pa.Schema, run_id: str,  # type: ignore[type-arg]
    timings: dict[str, float] | None = None, fingerprint: str | None = None,
) -> pa.RecordBatch:
    """Run the fused operators on one batch (see :func:`run_ops`)."""
    (out,) = list(run_ops(stage, ops, [batch], schema, run_id, timings, fingerprint))
    return out


def _assemble(stage: str, w: _Working, schema: pa.Schema, run_id: str, fingerprint: str | None) -> pa.RecordBatch:
    n = w.source.num_rows
    arrays = []
    for f in schema:
        if f.name in KEY_COLUMNS:
            arrays.append(w.source.column(f.name))
        elif f.name not in BOOKKEEPING_COLUMNS:
            arrays.append(to_storable(w.outputs[f.name], f.type))
    arrays.append(errors_map(n, w.errors))
    arrays.append(pa.array([run_id] * n, pa.string()))
    arrays.append(pa.array([fingerprint] * n, pa.string()))
    out = pa.RecordBatch.from_arrays(arrays, schema=schema)
    if out.num_rows != n:
        raise OperatorContractError(f"stage {stage!r}: {out.num_rows} rows out for {n} in")
    return out

