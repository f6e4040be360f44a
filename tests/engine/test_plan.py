"""Stage fusion on plain Arrow batches: errors map, contract checks, storable types."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest
from PIL import Image

from spark_mm.engine.arrow_types import storable_type, to_storable
from spark_mm.engine.plan import StagePlan, apply_ops, errors_map
from spark_mm.errors import OperatorContractError
from spark_mm.ops.base import Operator, OpResult, Resource
from spark_mm.ops.image_meta import ImgMeta, ImgMetaParams


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, "PNG")
    return buf.getvalue()


def batch() -> pa.RecordBatch:
    return pa.record_batch({"sample_id": ["a", "b", "c"], "image": pa.array([png(7, 5), b"junk", None], pa.binary())})


def test_fused_stage_output_schema_and_errors() -> None:
    plan = StagePlan("cpu", (ImgMetaParams(),), Resource.CPU)
    schema = plan.output_schema()
    assert schema.names[0] == "sample_id" and schema.names[-3:] == ["errors", "run_id", "fingerprint"]
    assert plan.signal_columns() == [n for n in schema.names if n.startswith("img_")]
    assert schema.field("img_channels").type == pa.int32()  # uint8 widened for Spark/Iceberg
    out = apply_ops("cpu", plan.operators(), batch(), schema, "r1", fingerprint="f00d")
    assert out.num_rows == 3 and set(out.column("fingerprint").to_pylist()) == {"f00d"}
    rows = out.to_pylist()
    assert rows[0]["img_width"] == 7 and rows[0]["errors"] == []
    assert rows[1]["errors"][0][0] == "img_meta" and "unrecognised" in rows[1]["errors"][0][1]
    assert rows[2]["errors"] == [("img_meta", "null image payload")]
    assert {r["run_id"] for r in rows} == {"r1"}


def test_errors_map_empty_and_mixed() -> None:
    assert errors_map(2, []).to_pylist() == [[], []]
    m = errors_map(2, [("x", pa.array([None, "boom"]))])
    assert m.to_pylist() == [[], [("x", "boom")]]


class DropsRows(Operator[ImgMetaParams]):
    name, version, Params = "drops_rows", "1", ImgMetaParams

    @property
    def reads(self) -> tuple[str, ...]:
        return ("image",)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field("img_x", pa.int32())])

    def transform(self, batch: pa.RecordBatch) -> OpResult:
        return OpResult(pa.record_batch({"img_x": pa.array([1], pa.int32())}))


def test_operator_that_loses_rows_breaks_the_contract() -> None:
    with pytest.raises(OperatorContractError, match="returned 1 rows for 3 input rows"):
        DropsRows(ImgMetaParams()).apply(batch())


def test_external_inputs_skip_columns_made_inside_the_stage() -> None:
    plan = StagePlan("cpu", (ImgMetaParams(),), Resource.CPU)
    assert plan.external_inputs() == ["image"]


def test_storable_types_widen_losslessly() -> None:
    assert storable_type(pa.uint16()) == pa.int32()
    arr = pa.array([[1.5, 2.0]], pa.list_(pa.float16(), 2))
    out = to_storable(arr, storable_type(arr.type))
    assert out.type == pa.list_(pa.float32()) and out.to_pylist() == [[1.5, 2.0]]
    with pytest.raises(pa.ArrowInvalid):
        to_storable(pa.array([2**63], pa.uint64()), pa.int64())


def test_img_meta_op_reads_declared_column() -> None:
    op = ImgMeta(ImgMetaParams(image_column="pic"))
    assert op.reads == ("pic",)
    result = op.apply(pa.record_batch({"pic": pa.array([png(3, 4)], pa.binary())}))
    assert result.columns.to_pylist()[0]["img_height"] == 4 and result.errors is None


def test_null_fixed_size_lists_keep_their_rows() -> None:
    arr = pa.array([None, [1.0, 2.0], None], pa.list_(pa.float16(), 2))
    out = to_storable(arr, storable_type(arr.type))
    assert out.to_pylist() == [None, [1.0, 2.0], None]
    all_null = pa.nulls(4, pa.list_(pa.float16(), 3))
    assert to_storable(all_null, storable_type(all_null.type)).to_pylist() == [None] * 4


def test_consecutive_text_rules_share_one_kernel_call_with_identical_results() -> None:
    from spark_mm.engine.plan import fusion_groups, run_ops
    from spark_mm.ops import registry

    params = [registry.operators()[n].Params() for n in ("txt_gopher_repetition", "txt_gopher_quality", "txt_fineweb")]
    params.append(registry.operators()["txt_c4"].Params(variant="datatrove"))
    plan = StagePlan("text", tuple(params), Resource.CPU)
    ops = plan.operators()
    assert [len(g) for g in fusion_groups(ops)] == [4]
    docs = ["The cat sat on the mat. " * 30, "buy now " * 200, "", None, "Short line.\nAnother short one.\n" * 10]
    batch = pa.record_batch({"sample_id": [str(i) for i in range(5)], "txt_content": pa.array(docs, pa.string())})
    fused = next(run_ops("text", ops, [batch], plan.output_schema(), "r"))
    one_by_one = pa.RecordBatch.from_arrays(
        [batch.column("sample_id")] + [c for op in ops for c in op.apply(batch).columns.columns],
        names=["sample_id"] + [n for op in ops for n in op.output_schema.names],
    )
    for name in one_by_one.schema.names[1:]:
        assert fused.column(name).to_pylist() == one_by_one.column(name).to_pylist(), name
