"""Resolving an operator's table from lineage alone (no Spark): fingerprint-ops parsing, which
table and commit hold the operator, dedup steps, and the error that lists what ran."""

from __future__ import annotations

import pytest

from spark_mm.errors import ConfigError
from spark_mm.lake.inspect import SnapshotInfo
from spark_mm.lake.trace_lineage import OpRecord, build_operator, locate, parse_fingerprint_ops
from spark_mm.ops.base import TextRewrite
from spark_mm.ops.text_rules import TxtLineCorrections, TxtLineCorrectionsParams


def snap(table: str, sid: int, status: str = "main", **lineage: str) -> SnapshotInfo:
    return SnapshotInfo(table, sid, None, "2026-01-01T00:00:00Z", "append", status, 1, 1, lineage, (), "")


def test_parse_keeps_params_with_separators_inside() -> None:
    op = TxtLineCorrections(TxtLineCorrectionsParams(start_patterns=("sign in; now",), text_column="t"))
    text = f"{op.fingerprint()}; img_clip@3 {{\"batch\":1}} weights=missing; upstream signals_cpu=00ff"
    records = parse_fingerprint_ops(text)
    assert [(r.name, r.version) for r in records] == [("txt_line_corrections", "2"), ("img_clip", "3")]
    rebuilt = build_operator(records[0])
    assert rebuilt.params == op.params and rebuilt.rewrites() == TextRewrite("txt_line_corrections_text", ("t",))
    with pytest.raises(ConfigError, match="cannot read an operator"):
        parse_fingerprint_ops("not an op")


def test_build_refuses_unknown_or_stale_params() -> None:
    with pytest.raises(ConfigError, match="not registered"):
        build_operator(OpRecord("txt_nope", "1", {}))
    with pytest.raises(ConfigError, match="do not validate"):
        build_operator(OpRecord("txt_length", "2", {"min_wordz": 3}))


def test_locate_uses_the_newest_main_commit_of_the_stage_table() -> None:
    fp_old = 'txt_length@1 {"text_column":"a"}'
    fp_new = 'txt_extract@2 {}; txt_length@2 {"text_column":"b"}'
    snapshots = {
        "samples": [snap("ns.samples", 1, stage="ingest", ops="", **{"run-id": "r1"})],
        "signals_text": [
            snap("ns.signals_text", 2, stage="text", ops="txt_length@1", **{"fingerprint-ops": fp_old, "run-id": "r1", "input": "lake.ns.samples@1"}),
            snap("ns.signals_text", 3, stage="text", ops="txt_extract@2,txt_length@2", **{"fingerprint-ops": fp_new, "run-id": "r2", "input": "lake.ns.samples@1"}),
            snap("ns.signals_text", 4, status="staged", stage="text", ops="txt_length@3", **{"run-id": "r3"}),
        ],
        "dedup_near": [snap("ns.dedup_near", 5, stage="dedup_near", ops="minhash@2", **{"dedup-reads": "txt_minhash_bands,txt_minhash_sig", "run-id": "r2"})],
        "dedup_keys": [snap("ns.dedup_keys", 6, stage="dedup_near", ops="minhash@2", **{"run-id": "r2"})],
    }
    (loc,) = locate(snapshots, "txt_length")
    assert (loc.table, loc.stage, loc.op_id, loc.snapshot_id, loc.run_ids) == ("signals_text", "text", "txt_length@2", 3, ("r1", "r2"))
    assert loc.op == OpRecord("txt_length", "2", {"text_column": "b"}) and loc.inputs == (("lake.ns.samples", 1),)
    (dd,) = locate(snapshots, "dedup_near")  # never the dedup_keys MERGE of the same stage
    assert (dd.table, dd.is_dedup, dd.op_id, dd.dedup_reads) == ("dedup_near", True, "minhash@2", ("txt_minhash_bands", "txt_minhash_sig"))
    with pytest.raises(ConfigError, match=r"operators there: \['txt_extract', 'txt_length'\]; dedup steps: \['dedup_near'\]"):
        locate(snapshots, "txt_gopher_quality")
