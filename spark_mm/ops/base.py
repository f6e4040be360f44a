"""The operator contract.

An operator declares the columns it reads, the Arrow schema it adds, its resources and a version,
and turns a ``pyarrow.RecordBatch`` into the added columns. It never raises for one bad record: it
returns a per-row error message instead (null where the row is fine), so rows in always equal rows
out. Operators know nothing about Spark; the engine fuses them into ``mapInArrow`` passes.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from spark_mm.errors import OperatorContractError
from spark_mm.ops.thresholds import Threshold


class Resource(str, enum.Enum):
    """Where an operator runs. CPU and GPU operators never share a stage."""

    CPU = "cpu"
    GPU = "gpu"


class OpParams(BaseModel):
    """Base of every operator's recipe parameters: frozen, unknown keys rejected.

    Subclasses narrow ``op`` to ``Literal["<name>"]``; the recipe union is discriminated on it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: str

    #: Params that change how an operator runs but never the values it computes (batch sizes,
    #: threads, devices). The operator's fingerprint leaves them out, so changing one recomputes
    #: nothing; every other param is value-changing. Subclasses extend the set, never shrink it.
    execution_only: ClassVar[frozenset[str]] = frozenset()

    def threshold_signals(self) -> dict[str, "Threshold"]:
        """Threshold params (enabled ones) → the stored signal each bounds; see ``spark_mm/ops/thresholds.py``.

        ``spark-mm suggest`` proposes k-sigma values for these. Default: none.
        """
        return {}


P = TypeVar("P", bound=OpParams)


@dataclass(frozen=True)
class OpResult:
    """What one operator adds to a batch.

    Attributes:
        columns: the added columns, one row per input row, matching ``Operator.output_schema``.
        errors: one string per row (null where the row is fine), or None when no row failed.
    """

    columns: pa.RecordBatch
    errors: pa.Array | None = None


@dataclass(frozen=True)
class TextRewrite:
    """The text an operator rewrites: its output column and the input column(s) that text came from.

    ``spark-mm trace`` shows before/after for such operators (docs/operations.md, Tracing one
    operator). ``sources`` are read in order and the first non-null one is the "before" text
    (``txt_extract``: the given text, else the raw payload).
    """

    output: str
    sources: tuple[str, ...]


class Operator(ABC, Generic[P]):
    """A per-record transform over Arrow batches. Subclasses set the class attributes below."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[OpParams]]
    resource: ClassVar[Resource] = Resource.CPU

    def __init__(self, params: P) -> None:
        self.params = params

    @property
    @abstractmethod
    def reads(self) -> tuple[str, ...]:
        """Input columns this operator needs (from the samples table or earlier operators)."""

    @property
    @abstractmethod
    def output_schema(self) -> pa.Schema:
        """Schema of the columns this operator adds (prefixed by modality: img_, txt_, url_)."""

    @abstractmethod
    def transform(self, batch: pa.RecordBatch) -> OpResult:
        """Compute the added columns for ``batch``; bad rows get an error, not an exception."""

    @property
    def id(self) -> str:
        """``name@version``, recorded in lineage."""
        return f"{self.name}@{self.version}"

    def fingerprint(self) -> str:
        """What computed this operator's values: ``name@version`` and its value-changing params.

        Stored (hashed per stage) with every signal row, so a changed threshold or a bumped
        version makes exactly the rows it computed stale. Params are canonical JSON (sorted keys,
        defaults included), without ``op`` and the params' ``execution_only`` set.

        >>> class P(OpParams):
        ...     execution_only = frozenset({"threads"})
        ...     min_px: int = 200
        ...     threads: int = 4
        >>> class Op(Operator[P]):
        ...     name, version, Params = "demo", "2", P
        ...     reads = output_schema = transform = None
        >>> Op.__abstractmethods__ = frozenset()
        >>> Op(P(op="demo", threads=8)).fingerprint()
        'demo@2 {"min_px":200}'
        """
        values = self.params.model_dump(mode="json", exclude={"op", *self.fingerprint_excludes()})
        return f"{self.id} {json.dumps(values, sort_keys=True, separators=(',', ':'))}"

    def fingerprint_excludes(self) -> frozenset[str]:
        """Params that do not change this instance's values (``execution_only``, unless overridden)."""
        return self.params.execution_only

    def rewrites(self) -> TextRewrite | None:
        """The text column this operator rewrites from which input, or None (default: it rewrites none)."""
        return None

    def setup(self) -> None:
        """Load anything heavy (models, lists) on the worker; called once before the first batch."""

    def fusion_key(self) -> tuple[str, ...] | None:
        """Operators with equal non-None keys that follow each other in a stage may be evaluated in
        one call by ``apply_group`` (e.g. text rules sharing one tokenisation). Default: never."""
        return None

    @classmethod
    def apply_group(cls, ops: list["Operator"], batch: pa.RecordBatch) -> list[OpResult]:  # type: ignore[type-arg]
        """Evaluate consecutive operators with the same ``fusion_key`` at once; default: one by one."""
        return [op.apply(batch) for op in ops]

    def apply(self, batch: pa.RecordBatch) -> OpResult:
        """Run ``transform`` and enforce the contract: same row count, declared schema."""
        result = self.transform(batch)
        self.check(batch, result)
        return result

    def check(self, batch: pa.RecordBatch, result: OpResult) -> None:
        """Raise OperatorContractError unless ``result`` has one row per input row and the declared schema."""
        if result.columns.num_rows != batch.num_rows:
            raise OperatorContractError(
                f"{self.id} returned {result.columns.num_rows} rows for {batch.num_rows} input rows"
            )
        if not result.columns.schema.equals(self.output_schema):
            raise OperatorContractError(
                f"{self.id} returned schema {result.columns.schema} but declares {self.output_schema}"
            )
        if result.errors is not None and len(result.errors) != batch.num_rows:
            raise OperatorContractError(f"{self.id} returned {len(result.errors)} error slots for {batch.num_rows} rows")


# Reason codes the Filter base class itself emits, before a subclass sees the row. Every filter's
# ``Reason`` enum repeats the ones it can get (checked at construction), so reasons stay one enum
# per operator.
MISSING_INPUT = "missing_input"  # a required input is null (no payload, an upstream operator failed)
DECODE_ERROR = "decode_error"  # a payload is present but its decoder flagged it undecodable


class Filter(Operator[P]):
    """An operator that decides keep/drop: adds ``<name>_ok`` (bool) and ``<name>_reason`` (string).

    Subclasses list their reason codes in ``Reason`` (a ``str`` enum) and implement ``evaluate``;
    the base class builds the two decision columns so every filter reports the same way.

    The base class alone decides rows whose inputs are unusable, so no filter keeps them and no
    rule after the first failure reports an error for them: a row where a ``decode_flags`` column
    is false gets ``ok=False`` with ``decode_error``; else a row where a ``required_inputs`` column
    (or a decode flag) is null gets ``ok=False`` with ``missing_input``. Such rows carry no error
    of this filter and null signals (the operator that failed upstream holds the error).
    Subclasses decide the other rows only.
    """

    Reason: ClassVar[type[enum.Enum]]

    def __init__(self, params: P) -> None:
        super().__init__(params)
        needed: set[str] = set()
        if self.required_inputs or self.decode_flags:
            needed.add(MISSING_INPUT)
        if self.decode_flags:
            needed.add(DECODE_ERROR)
        lacking = needed - {r.value for r in self.Reason}
        if lacking:
            raise OperatorContractError(
                f"{self.name}: its Reason enum {self.Reason.__name__} lacks {sorted(lacking)}, which the Filter "
                "base class emits for unusable inputs; add the member(s) to the enum"
            )

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """Columns that must be non-null for a row to be decided (default: every column read)."""
        return self.reads

    @property
    def decode_flags(self) -> tuple[str, ...]:
        """Boolean columns written by a decoding operator: false = payload present but undecodable
        (decode_error), null = no payload (missing_input). Default: none."""
        return ()

    def input_status(self, batch: pa.RecordBatch) -> pa.Array | None:
        """Per row ``decode_error`` / ``missing_input`` / null (usable); None when every row is usable.

        >>> import pyarrow as pa
        >>> from spark_mm.ops.image_signals import ImgQualityFilter, ImgQualityFilterParams
        >>> f = ImgQualityFilter(ImgQualityFilterParams())
        >>> b = pa.RecordBatch.from_pydict({"img_width": [300, 300, None], "img_height": [300, 300, 300],
        ...                                 "img_decoded": [True, False, None]})
        >>> f.input_status(b).to_pylist()
        [None, 'decode_error', 'missing_input']
        """
        flags = self.decode_flags
        absent = [c for c in dict.fromkeys(self.required_inputs + flags) if c not in batch.schema.names]
        if absent:
            raise OperatorContractError(f"{self.id} needs columns {absent}, which the batch lacks (run their operators first)")
        missing: pa.Array | None = None
        for col in dict.fromkeys(self.required_inputs + flags):
            nulls = batch.column(col).is_null()
            missing = nulls if missing is None else pc.or_(missing, nulls)
        broken: pa.Array | None = None
        for col in flags:
            false = pc.invert(pc.fill_null(batch.column(col), True))
            broken = false if broken is None else pc.or_(broken, false)
        any_missing = missing is not None and pc.any(missing).as_py()
        any_broken = broken is not None and pc.any(broken).as_py()
        if not any_missing and not any_broken:
            return None
        none = pa.scalar(None, pa.string())
        status = pc.if_else(missing, pa.scalar(MISSING_INPUT), none) if any_missing else pa.nulls(batch.num_rows, pa.string())
        if any_broken:
            status = pc.if_else(broken, pa.scalar(DECODE_ERROR), status)
        return status

    @property
    def signal_schema(self) -> pa.Schema:
        """Extra signal columns the filter adds besides the decision (default: none)."""
        return pa.schema([])

    @property
    def output_schema(self) -> pa.Schema:
        fields = list(self.signal_schema) + [
            pa.field(f"{self.name}_ok", pa.bool_()),
            pa.field(f"{self.name}_reason", pa.string()),
        ]
        return pa.schema(fields)

    @abstractmethod
    def evaluate(self, batch: pa.RecordBatch) -> FilterDecision:
        """Decide every row of ``batch`` (rows with unusable inputs are overridden by the base class)."""

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        return self.result_from(self.evaluate(batch), batch)

    def result_from(self, d: "FilterDecision", batch: pa.RecordBatch) -> OpResult:
        """Assemble the filter's columns from a decision over ``batch``: rows with unusable inputs
        get the base-class verdict, then every reason is checked to be a declared code."""
        status = self.input_status(batch)
        if status is not None:
            d = _override(d, status)
        allowed = {r.value for r in self.Reason}
        unknown = set(d.reason.drop_null().unique().to_pylist()) - allowed  # type: ignore[attr-defined]
        if unknown:
            raise OperatorContractError(f"{self.id} emitted reasons {sorted(unknown)} not in {sorted(allowed)}")
        arrays = list(d.signals.columns) if d.signals is not None else []
        arrays += [d.ok, d.reason]
        return OpResult(pa.RecordBatch.from_arrays(arrays, schema=self.output_schema), d.errors)


def _override(d: "FilterDecision", status: pa.Array) -> "FilterDecision":
    """``d`` with every row where ``status`` is set decided as ``ok=False, reason=status``, its
    error and signals nulled (the failing upstream operator already holds the error)."""
    unusable = status.is_valid()
    errors = d.errors
    if errors is not None:
        errors = pc.if_else(unusable, pa.scalar(None, pa.string()), errors)
        errors = errors if errors.null_count < len(errors) else None
    signals = d.signals
    if signals is not None:
        signals = pa.RecordBatch.from_arrays(
            [pc.if_else(unusable, pa.scalar(None, c.type), c) for c in signals.columns], schema=signals.schema
        )
    return FilterDecision(
        ok=pc.if_else(unusable, pa.scalar(False), d.ok),
        reason=pc.if_else(unusable, status, d.reason),
        signals=signals,
        errors=errors,
    )


@dataclass(frozen=True)
class FilterDecision:
    """A filter's verdict for a batch: ``ok`` per row, the reason code when not ok."""

    ok: pa.Array
    reason: pa.Array
    signals: pa.RecordBatch | None = None
    errors: pa.Array | None = None
