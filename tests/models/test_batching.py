"""MicroBatcher: model batches independent of Arrow batches, order kept, decode overlapping inference."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest

from spark_mm.models.batching import Column, MicroBatcher, Prepared, column_to_arrow


def _batches(sizes: list[int]) -> list[pa.RecordBatch]:
    out, start = [], 0
    for n in sizes:
        out.append(pa.RecordBatch.from_pydict({"x": list(range(start, start + n))}))
        start += n
    return out


def _prepare(chunk: pa.RecordBatch) -> Prepared:
    x = np.array(chunk.column("x").to_pylist(), dtype=np.float64)
    return Prepared(x, ["odd" if v % 2 else None for v in x.astype(int)])


def _infer(x: np.ndarray) -> dict[str, Column]:
    return {"y": Column(x * 10, x.astype(int) % 2 == 0)}


@pytest.mark.parametrize("sizes", [[10], [1] * 10, [3, 0, 4, 3], [7, 1, 1, 1], [25]])
def test_rebatches_to_model_batch_size(sizes: list[int]) -> None:
    mb = MicroBatcher(4, _prepare, _infer)
    outs = list(mb.run(_batches(sizes)))
    assert [o.batch.num_rows for o in outs] == sizes
    total = sum(sizes)
    # every model call is full except the last
    assert mb.stats.chunk_sizes == [4] * (total // 4) + ([total % 4] if total % 4 else [])
    ys = np.concatenate([o.columns["y"].values for o in outs if o.batch.num_rows])
    valid = np.concatenate([o.columns["y"].valid for o in outs if o.batch.num_rows])
    assert ys.tolist() == [10.0 * i for i in range(total)]
    assert valid.tolist() == [i % 2 == 0 for i in range(total)]
    errors = [e for o in outs for e in o.errors]
    assert errors == ["odd" if i % 2 else None for i in range(total)]


def test_prepare_of_next_chunk_overlaps_inference() -> None:
    second_prepared = threading.Event()
    seen: list[bool] = []

    def prepare(chunk: pa.RecordBatch) -> Prepared:
        if chunk.column("x")[0].as_py() == 2:
            second_prepared.set()
        return _prepare(chunk)

    def infer(x: np.ndarray) -> dict[str, Column]:
        if x[0] == 0:  # while the first batch is "on the GPU", the next one gets decoded
            seen.append(second_prepared.wait(timeout=5))
        return _infer(x)

    list(MicroBatcher(2, prepare, infer).run(_batches([6])))
    assert seen == [True]


def test_prepare_exception_reaches_caller() -> None:
    def bad(chunk: pa.RecordBatch) -> Prepared:
        raise RuntimeError("broken contract")

    with pytest.raises(RuntimeError, match="broken contract"):
        list(MicroBatcher(2, bad, _infer).run(_batches([3])))


def test_consumer_stopping_early_stops_the_prefetch_thread() -> None:
    gen = MicroBatcher(1, _prepare, _infer, queue_depth=1).run(_batches([1] * 50))
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name == "spark-mm-prefetch"]


def test_column_to_arrow_fixed_size_list_and_nulls() -> None:
    col = Column(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([False, True]))
    arr = column_to_arrow(col, pa.list_(pa.float16(), 2), 2)
    assert arr.type == pa.list_(pa.float16(), 2)
    assert arr.to_pylist() == [None, [3.0, 4.0]]
    assert column_to_arrow(None, pa.float32(), 3).null_count == 3
