"""JSONL error rows name the 1-based line an editor shows; ``source_offset`` stays the 0-based index."""

from __future__ import annotations

import json
from pathlib import Path

from spark_mm.sources.jsonl_records import iter_jsonl_records


def test_error_messages_count_lines_from_one(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"d{i}", "text": f"t{i}"}) for i in range(10)] + ["{not json", "[1, 2]", json.dumps({"body": "x"}), "", json.dumps({"text": "ok"})]
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join(lines) + "\n")
    rows = list(iter_jsonl_records(str(f), text_column="text", id_column="id", url_column=None))
    errors = {r["source_offset"]: r["ingest_error"] for r in rows if r["ingest_error"]}
    assert errors[10].startswith("line 11: invalid JSON")  # the 11th line of the file (sed -n 11p)
    assert errors[11] == "line 12: expected an object, got list"
    assert errors[12] == "line 13: field 'text' missing or not a string; line 13: id column 'id' missing or null"
    assert errors[14] == "line 15: id column 'id' missing or null"  # the blank 14th line is skipped, not renumbered
    assert f.read_text().splitlines()[10] == "{not json"
    assert [r["source_offset"] for r in rows] == [*range(13), 14]
