"""Base class of the model operators (GPU stages).

A model operator resolves its weights without loading them (``preflight``), loads its model once
per Python worker through ``spark_mm.engine.model_cache`` (``setup``), and streams rows through a
``MicroBatcher`` at its own batch size (``transform_stream``). What the engine needs to schedule it
is on the class and the instance:

* ``resource`` is ``Resource.GPU``: the op belongs to a GPU stage (one task per GPU);
* ``batch_size`` (from the step's params) is the model's batch size, independent of Arrow's;
* ``preflight()`` on the driver applies ``weights.on_missing``: ``fail`` raises ``WeightsNotFound``
  before any work; ``skip`` returns a status whose ``skipped`` is true, and the op's columns are
  then all null. ``skipped`` / ``weights_status`` expose that for the run summary.

``stage_requirements(ops)`` folds these into what a stage needs.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

import pyarrow as pa
from pydantic import Field

from spark_mm.engine.device import DeviceChoice, select_device, torch_sees_cuda
from spark_mm.engine.model_cache import MODEL_CACHE, ModelKey
from spark_mm.models.batching import BatchOutput, BatcherStats, Column, MicroBatcher, Prepared, column_to_arrow
from spark_mm.models.runtime import Precision, dtype_name
from spark_mm.errors import MissingDependency
from spark_mm.models.weights import OnMissing, WeightsLocation, WeightsParams, WeightsStatus
from spark_mm.ops.base import Operator, OpParams, OpResult, Resource

log = logging.getLogger(__name__)


class ModelParams(OpParams):
    """Parameters shared by every model step.

    Attributes:
        weights: where the weights are and what to do when they are not (``on_missing``).
        batch_size: rows per model call (not Arrow's batch size).
        precision: ``auto`` = fp16 on GPU; ``bf16``/``fp16``/``fp32`` on GPU; always fp32 on CPU.
        device: ``auto`` (Spark-assigned GPU, else CUDA, else CPU) or ``cpu``.
        prefetch_batches: prepared batches kept ready ahead of the model.
    """

    # Where the weights are looked up is not what they are: the fingerprint records the resolved
    # weights' digest (or ``weights=missing``) instead of the ``weights`` block.
    execution_only: ClassVar[frozenset[str]] = frozenset({"weights", "batch_size", "device", "prefetch_batches", "decode_threads"})

    weights: WeightsParams = WeightsParams()
    batch_size: int = Field(64, ge=1)
    precision: Precision = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    prefetch_batches: int = Field(2, ge=1, le=16)
    decode_threads: int = Field(2, ge=1, le=64)


P = TypeVar("P", bound=ModelParams)


class ModelOperator(Operator[P], Generic[P]):
    """An operator backed by a model resident on the worker."""

    resource: ClassVar[Resource] = Resource.GPU

    def __init__(self, params: P) -> None:
        super().__init__(params)
        self._status: WeightsStatus | None = None
        self._model: Any = None
        self.device: DeviceChoice | None = None
        self.last_stats: BatcherStats | None = None
        self._pool: ThreadPoolExecutor | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle config and weights status only: the model and threads live on each worker."""
        state = dict(self.__dict__)
        state.update(_model=None, _pool=None, device=None, last_stats=None)
        return state

    @property
    def decode_pool(self) -> ThreadPoolExecutor:
        """Threads for image decode/resize inside ``prepare`` (``decode_threads`` param, default 2)."""
        if self._pool is None:
            n = self.params.decode_threads
            self._pool = ThreadPoolExecutor(n, thread_name_prefix=f"spark-mm-{self.name}")
        return self._pool

    # -- what subclasses implement -------------------------------------------------------------
    @abstractmethod
    def resolve_weights(self) -> WeightsStatus:
        """Find the weights (no loading); the status carries the step's ``on_missing`` policy."""

    @abstractmethod
    def load(self, location: WeightsLocation, device: str, dtype: str) -> Any:
        """Build the model on ``device`` at ``dtype`` (called once per worker through the cache)."""

    @abstractmethod
    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        """Turn a chunk of rows into model inputs (prefetch thread); bad rows get an error."""

    @abstractmethod
    def infer(self, model: Any, inputs: Any) -> dict[str, Column]:
        """Run the model; one ``Column`` per output field, covering every row of the chunk."""

    def model_id(self) -> str:
        """Identity of the model in cache keys and messages."""
        return self.name

    def cuda_available(self) -> bool:
        """Whether this model's runtime sees CUDA here (torch; ONNX models ask onnxruntime)."""
        return torch_sees_cuda()

    # -- engine-facing API ---------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.params.batch_size

    def preflight(self) -> WeightsStatus:
        """Resolve weights and apply ``on_missing``; call on the driver before the stage starts.

        Raises:
            WeightsNotFound: weights are missing and the policy is ``fail``.
        """
        if self._status is None:
            try:
                status = self.resolve_weights()
            except MissingDependency as err:
                # Without its library the model cannot run either: ``skip`` covers that case too
                # (the demo installs no torch), ``fail`` still raises with the install command.
                if self.params.weights.on_missing != "skip":
                    raise
                status = WeightsStatus(self.model_id(), None, (f"not looked up: {err}",), str(err), OnMissing.SKIP)
            status.raise_if_fatal()
            if status.skipped:
                # INFO: the run prints one line for all skipped models (report/summary.py); the
                # details are here (``spark-mm run --verbose``) and in the report.
                log.info("model stage %s skipped: %s", self.id, status.message())
            self._status = status
        return self._status

    @property
    def weights_status(self) -> WeightsStatus | None:
        """The resolved status, once ``preflight`` (or ``setup``) ran."""
        return self._status

    @property
    def skipped(self) -> bool:
        """True when weights are missing under ``on_missing: skip`` (columns are null)."""
        return self.preflight().skipped

    def fingerprint(self) -> str:
        """The operator's fingerprint plus the weights it runs with: their digest, or
        ``weights=missing`` when skipped, so rows a skipped model left null become stale once the
        weights are there (and rows computed with other weights become stale too)."""
        status = self.preflight()
        weights = status.location.digest if status.location is not None else "missing"
        return f"{super().fingerprint()} weights={weights}"

    def setup(self) -> None:
        """Load the model through the per-worker cache (no-op when skipped or already loaded)."""
        status = self.preflight()
        if status.location is None or self._model is not None:
            return
        self.device = select_device(self.params.device, self.cuda_available)
        dtype = dtype_name(self.params.precision, self.device.device)
        key = ModelKey(self.model_id(), status.location.digest, self.device.device, dtype)
        location, device = status.location, self.device.device
        self._model = MODEL_CACHE.get_or_load(key, lambda: self.load(location, device, dtype))

    def transform_stream(self, batches: Iterable[pa.RecordBatch]) -> Iterator[OpResult]:
        """One ``OpResult`` per input batch, re-batched to ``batch_size`` across Arrow batches."""
        self.setup()
        if self.skipped:
            for batch in batches:
                yield self._result(BatchOutput(batch, {}, [None] * batch.num_rows))
            return
        batcher = MicroBatcher(
            self.batch_size, self.prepare, lambda x: self.infer(self._model, x), self.params.prefetch_batches
        )
        self.last_stats = batcher.stats
        for out in batcher.run(batches):
            yield self._result(out)

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        (result,) = list(self.transform_stream([batch]))
        return result

    def _result(self, out: BatchOutput) -> OpResult:
        n = out.batch.num_rows
        arrays = [column_to_arrow(out.columns.get(f.name), f.type, n) for f in self.output_schema]
        errors = pa.array(out.errors, type=pa.string())
        return OpResult(
            pa.RecordBatch.from_arrays(arrays, schema=self.output_schema),
            errors if errors.null_count < n else None,
        )


@dataclass(frozen=True)
class StageRequirements:
    """What a stage made of these operators needs from the scheduler.

    Attributes:
        gpu: at least one operator wants a GPU (run under a GPU resource profile).
        batch_size: largest model batch size in the stage (rows buffered per model call).
        skipped: ids of operators whose weights are missing under ``on_missing: skip``.
    """

    gpu: bool
    batch_size: int
    skipped: tuple[str, ...]


def stage_requirements(ops: Iterable[Operator[Any]], preflight: bool = True) -> StageRequirements:
    """Fold operators into a stage's needs; with ``preflight`` also resolve weights (may raise).

    Raises:
        WeightsNotFound: an operator's weights are missing and its policy is ``fail``.
    """
    ops = list(ops)
    models = [op for op in ops if isinstance(op, ModelOperator)]
    skipped = tuple(op.id for op in models if preflight and op.preflight().skipped)
    return StageRequirements(
        gpu=any(op.resource is Resource.GPU for op in ops),
        batch_size=max((op.batch_size for op in models), default=0),
        skipped=skipped,
    )


def embedding_type(dim: int, dtype: Literal["float16", "float32"]) -> pa.DataType:
    """Arrow type of a stored embedding: fixed-size list of ``dim`` floats."""
    return pa.list_(pa.float16() if dtype == "float16" else pa.float32(), dim)
