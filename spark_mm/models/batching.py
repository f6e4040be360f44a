"""Re-batch Arrow rows to a model's batch size, preparing the next batch while one is inferred.

Arrow batches reach a stage at whatever size Spark cut them (10,000 rows, or 64 rows of 1 MiB
images). ``MicroBatcher`` accumulates rows across Arrow batches into chunks of exactly the model's
``batch_size`` (the last one smaller), so the model always sees full batches. A background thread
runs ``prepare`` (image decode, resize, tokenise) for the following chunks into a bounded queue
while the calling thread runs ``infer`` on the current one; results are reassembled per input
batch and yielded in input order, one output per input batch (rows in = rows out).

``prepare`` never raises for one bad row: it returns an error message for that row, and ``infer``
marks the row's outputs invalid (null). An exception raised by ``prepare`` (a broken contract, not a
bad row) is re-raised in the calling thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """Values of one output column for a run of rows.

    Attributes:
        values: shape ``(rows, ...)``; content of invalid rows is ignored.
        valid: bool ``(rows,)``; False rows become nulls.
    """

    values: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` returns for one chunk: model inputs and one error slot per row."""

    inputs: Any
    errors: list[str | None]


PrepareFn = Callable[[pa.RecordBatch], Prepared]
InferFn = Callable[[Any], dict[str, Column]]


@dataclass
class BatchOutput:
    """The outputs for one input Arrow batch, in its row order."""

    batch: pa.RecordBatch
    columns: dict[str, Column]
    errors: list[str | None]


@dataclass
class BatcherStats:
    """Counters of a run: rows, model calls and where the time went (seconds)."""

    rows: int = 0
    chunks: int = 0
    infer_s: float = 0.0
    wait_s: float = 0.0
    wall_s: float = 0.0
    chunk_sizes: list[int] = field(default_factory=list)

    @property
    def busy_fraction(self) -> float:
        """Share of wall time spent inside ``infer`` (the model's forward and the copy back)."""
        return self.infer_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class _Pending:
    batch: pa.RecordBatch
    filled: int = 0
    pieces: list[tuple[int, dict[str, Column]]] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.errors = [None] * self.batch.num_rows


_END = object()


class MicroBatcher:
    """Stream Arrow batches through ``prepare`` (background) and ``infer`` (caller) at ``batch_size``.

    Args:
        batch_size: rows per model call.
        prepare: builds model inputs for a chunk of rows (runs on the prefetch thread).
        infer: runs the model on prepared inputs; returns one ``Column`` per output, covering
            every row of the chunk.
        queue_depth: prepared chunks kept ready ahead of the model (bounds memory).
    """

    def __init__(self, batch_size: int, prepare: PrepareFn, infer: InferFn, queue_depth: int = 2) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.prepare = prepare
        self.infer = infer
        self.queue_depth = max(1, queue_depth)
        self.stats = BatcherStats()

    def run(self, batches: Iterable[pa.RecordBatch]) -> Iterator[BatchOutput]:
        """Yield one ``BatchOutput`` per input batch, in order."""
        q: queue.Queue[Any] = queue.Queue(maxsize=self.queue_depth)
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(iter(batches), q, stop), daemon=True, name="spark-mm-prefetch")
        start = time.perf_counter()
        worker.start()
        pending: dict[int, _Pending] = {}
        next_out = 0
        try:
            while True:
                t0 = time.perf_counter()
                item = q.get()
                self.stats.wait_s += time.perf_counter() - t0
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                kind = item[0]
                if kind == "batch":
                    _, seq, batch = item
                    pending[seq] = _Pending(batch)
                else:
                    _, pieces, prepared = item
                    t1 = time.perf_counter()
                    cols = self.infer(prepared.inputs)
                    self.stats.infer_s += time.perf_counter() - t1
                    self.stats.chunks += 1
                    n_chunk = sum(stop_ - start_ for _, start_, stop_ in pieces)
                    self.stats.chunk_sizes.append(n_chunk)
                    offset = 0
                    for seq, r0, r1 in pieces:
                        p = pending[seq]
                        n = r1 - r0
                        p.pieces.append((r0, {k: Column(c.values[offset : offset + n], c.valid[offset : offset + n]) for k, c in cols.items()}))
                        p.errors[r0:r1] = prepared.errors[offset : offset + n]
                        p.filled += n
                        offset += n
                while next_out in pending and pending[next_out].filled == pending[next_out].batch.num_rows:
                    done = pending.pop(next_out)
                    self.stats.rows += done.batch.num_rows
                    next_out += 1
                    yield BatchOutput(done.batch, _assemble(done), done.errors)
        finally:
            stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    worker.join(timeout=0.05)
            self.stats.wall_s += time.perf_counter() - start

    def _produce(self, batches: Iterator[pa.RecordBatch], q: queue.Queue[Any], stop: threading.Event) -> None:
        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            buffer: list[tuple[int, int, int, pa.RecordBatch]] = []  # (seq, r0, r1, batch)
            buffered = 0
            for seq, batch in enumerate(batches):
                if not put(("batch", seq, batch)):
                    return
                r = 0
                while r < batch.num_rows:
                    take = min(self.batch_size - buffered, batch.num_rows - r)
                    buffer.append((seq, r, r + take, batch))
                    buffered += take
                    r += take
                    if buffered == self.batch_size:
                        if not put(self._chunk(buffer)):
                            return
                        buffer, buffered = [], 0
            if buffer and not put(self._chunk(buffer)):
                return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer thread, which re-raises
            put(exc)

    def _chunk(self, buffer: list[tuple[int, int, int, pa.RecordBatch]]) -> tuple[str, list[tuple[int, int, int]], Prepared]:
        rows = pa.Table.from_batches([b.slice(r0, r1 - r0) for _, r0, r1, b in buffer]).combine_chunks()
        chunk = rows.to_batches()[0] if rows.num_rows else buffer[0][3].slice(0, 0)
        prepared = self.prepare(chunk)
        if len(prepared.errors) != chunk.num_rows:
            raise ValueError(f"prepare returned {len(prepared.errors)} error slots for {chunk.num_rows} rows")
        return ("chunk", [(seq, r0, r1) for seq, r0, r1, _ in buffer], prepared)


def _assemble(p: _Pending) -> dict[str, Column]:
    n = p.batch.num_rows
    if not p.pieces:
        return {}
    out: dict[str, Column] = {}
    for name, first in p.pieces[0][1].items():
        values = np.zeros((n, *first.values.shape[1:]), dtype=first.values.dtype)
        valid = np.zeros(n, dtype=bool)
        for r0, cols in p.pieces:
            c = cols[name]
            values[r0 : r0 + len(c.valid)] = c.values
            valid[r0 : r0 + len(c.valid)] = c.valid
        out[name] = Column(values, valid)
    return out


def column_to_arrow(column: Column | None, type_: pa.DataType, num_rows: int) -> pa.Array:
    """Build the Arrow array for an output column; None (model skipped) gives all nulls.

    >>> col = Column(np.array([[3.0, 4.0], [0.0, 0.0]]), np.array([True, False]))
    >>> column_to_arrow(col, pa.list_(pa.float32(), 2), 2).to_pylist()
    [[3.0, 4.0], None]
    """
    if column is None:
        return pa.nulls(num_rows, type=type_)
    mask = pa.array(~column.valid)
    if pa.types.is_fixed_size_list(type_):
        np_type = type_.value_type.to_pandas_dtype()
        flat = pa.array(np.ascontiguousarray(column.values, dtype=np_type).reshape(-1), type=type_.value_type)
        arr = pa.FixedSizeListArray.from_arrays(flat, type_.list_size, mask=mask)
        return arr if arr.type.equals(type_) else arr.cast(type_)
    return pa.array(np.asarray(column.values, dtype=type_.to_pandas_dtype()), type=type_, mask=np.asarray(~column.valid))
