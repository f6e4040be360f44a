"""spark-mm trace on a tiny real text run: the exact rows a filter dropped with their reasons, the
before/after of rewriting operators (input joined from the same stage and from an upstream signals
table), and a near-duplicate group from the dedup step; the table is found from lineage."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_mm import cli
from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner
from spark_mm.errors import ConfigError
from spark_mm.lake.settings import LakeSettings
from spark_mm.lake.trace import Trace, format_traces, trace

NS = "trace_txt"
SETTINGS = LakeSettings(buckets=4)
# 80 distinct words without digits (dedup normalisation maps every digit run to 0): one removed
# 3-word line is 3.6 % of a page
BODY = " ".join(a + b + c for a, b, c in itertools.islice(itertools.product("bcdfg", "aeiou", "lmnrst"), 80))
REVERSED = " ".join(reversed(BODY.split()))  # other 5-grams: no near-duplicate of d1
DOCS = {
    "d1": f"{BODY}\nALL CAPS HEADER\n{BODY} end",  # line corrections remove the upper-case line (kept)
    "d2": "a short page with ten words in it right here\nBUY NOW TODAY",  # 3 of 13 words removed: dropped
    "d3": "hello world",  # txt_length: too_few_words
    "d4": f"{BODY}\nALL CAPS HEADER\n{BODY} fin",  # near-duplicate of d1 (one word differs)
    "d5": f"{REVERSED} write to jane.doe@example.org please",  # PII: the address is redacted
    "d6": None,  # no text field: txt_extract says no_text, later filters missing_input
}


def _recipe(src: Path) -> recipes.LoadedRecipe:
    return recipes.from_mapping(
        {
            "job": "trace_test",
            "namespace": NS,
            "source": {"type": "jsonl", "path": str(src), "id_column": "id"},
            "stages": [
                {
                    "name": "text",
                    "ops": [
                        {"op": "txt_extract"},
                        {"op": "txt_line_corrections"},
                        {"op": "txt_length", "text_column": "txt_line_corrections_text", "min_words": 5},
                        {"op": "txt_minhash", "text_column": "txt_line_corrections_text"},
                    ],
                },
                {"name": "pii", "ops": [{"op": "txt_pii", "redact": True}]},  # reads txt_content from signals_text
            ],
            "dedup": [{"name": "near", "method": "minhash"}],
            "lake": {"buckets": 4},
            "tracking": {"enabled": False},
        }
    )


@pytest.fixture(scope="module")
def ids(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the recipe once; source record id -> sample_id."""
    src = tmp_path_factory.mktemp("trace_src")
    with (src / "part-0.jsonl").open("w") as f:
        for key, text in DOCS.items():
            f.write(json.dumps({"id": key, "url": f"https://example.com/{key}", **({} if text is None else {"text": text})}) + "\n")
    Runner(_recipe(src), run_id="trace-1", spark=spark).run()
    return {r[0]: r[1] for r in spark.sql(f"SELECT source_record_id, sample_id FROM lake.{NS}.samples").collect()}


def _one(op: str, **kw: object) -> Trace:
    (t,) = trace(_spark(), SETTINGS, NS, op, **kw)  # type: ignore[arg-type]
    return t


def _spark() -> SparkSession:
    active = SparkSession.getActiveSession()
    assert active is not None
    return active


def test_filter_drops_exact_rows_and_reasons(ids: dict[str, str]) -> None:
    by_id = {v: k for k, v in ids.items()}
    t = _one("txt_length")
    assert (t.table, t.stage, t.op, t.run_ids) == ("signals_text", "text", "txt_length@2", ("trace-1",))
    assert t.drops is not None and t.changes is None and t.dups is None
    assert (t.drops.rows, t.drops.dropped) == (6, 2)
    assert t.drops.by_reason == {"missing_input": 1, "too_few_words": 1}
    got = {by_id[r.sample_id]: (r.reason, r.url, r.signals["txt_length_words"]) for r in t.drops.shown}
    assert got == {"d3": ("too_few_words", "https://example.com/d3", 2), "d6": ("missing_input", "https://example.com/d6", None)}
    extract = _one("txt_extract")
    assert extract.drops is not None and extract.drops.by_reason == {"no_text": 1}
    assert [by_id[r.sample_id] for r in extract.drops.shown] == ["d6"]
    # the given text passes through txt_extract unchanged: rewritten, never changed
    assert extract.changes is not None and (extract.changes.rewritten, extract.changes.changed) == (5, 0)


def test_rewriting_filter_shows_before_and_after(ids: dict[str, str]) -> None:
    by_id = {v: k for k, v in ids.items()}
    t = _one("txt_line_corrections")
    assert t.drops is not None and t.drops.by_reason == {"missing_input": 1, "too_many_removed_words": 1}
    assert sorted(by_id[r.sample_id] for r in t.drops.shown) == ["d2", "d6"]
    assert t.changes is not None and t.changes.sources == ("txt_content",)
    changed = {by_id[r.sample_id]: r for r in t.changes.shown}
    assert set(changed) == {"d1", "d2", "d4"} and t.changes.changed == 3
    d1 = changed["d1"]
    assert d1.source == "txt_content" and d1.before == DOCS["d1"] and d1.after == f"{BODY}\n{BODY} end"
    assert d1.removed_lines == ["ALL CAPS HEADER"]
    assert "-ALL CAPS HEADER" in d1.diff and not any(line.startswith("+") and not line.startswith("+++") for line in d1.diff)
    assert changed["d2"].removed_lines == ["BUY NOW TODAY"]


def test_before_text_joined_from_upstream_table(ids: dict[str, str]) -> None:
    by_id = {v: k for k, v in ids.items()}
    t = _one("txt_pii")
    assert t.table == "signals_pii" and t.drops is None and t.changes is not None
    assert [by_id[r.sample_id] for r in t.changes.shown] == ["d5"]
    (row,) = t.changes.shown
    assert row.before == DOCS["d5"] and row.after == f"{REVERSED} write to email@example.com please"
    assert row.removed_lines == [DOCS["d5"]]


def test_dedup_group_has_both_texts(ids: dict[str, str]) -> None:
    by_id = {v: k for k, v in ids.items()}
    t = _one("dedup_near")
    assert t.table == "dedup_near" and t.op == "minhash@2" and t.dups is not None
    assert t.dups.text_column == "signals_text.txt_line_corrections_text"
    assert t.dups.groups == 1 and t.dups.not_kept == {"in_run": 1, "missing_input": 1}
    (group,) = t.dups.shown
    members = {by_id[m.sample_id]: (m.keep, m.reason, m.text) for m in group.members}
    keep = min(ids["d1"], ids["d4"])  # smallest_id policy
    assert members == {
        "d1": (ids["d1"] == keep, None if ids["d1"] == keep else "in_run", f"{BODY}\n{BODY} end"),
        "d4": (ids["d4"] == keep, None if ids["d4"] == keep else "in_run", f"{BODY}\n{BODY} fin"),
    }
    assert group.members[0].keep  # the kept member first


def test_run_filter_clip_and_formats(ids: dict[str, str]) -> None:
    (t,) = trace(_spark(), SETTINGS, NS, "txt_line_corrections", run_id="nope")
    assert t.drops is not None and (t.drops.rows, t.drops.dropped) == (0, 0) and t.changes is not None and t.changes.shown == []
    (t,) = trace(_spark(), SETTINGS, NS, "txt_line_corrections", limit=1, max_chars=10)
    assert t.changes is not None and len(t.changes.shown) == 1 and t.changes.shown[0].before.startswith("bal bam ba…[+")
    text = format_traces([t])
    assert "txt_line_corrections@2 in trace_txt.signals_text" in text and "too_many_removed_words: 1" in text
    assert json.loads(format_traces([t], "json"))[0]["changes"]["changed"] == 3


def test_unknown_op_lists_what_ran(ids: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"no commit in this namespace ran it; operators there: \[.*'txt_length'.*dedup steps: \['dedup_near'\]"):
        trace(_spark(), SETTINGS, NS, "txt_gopher_quality")


def test_cli_trace(ids: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["trace", NS, "--op", "dedup_near", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["dups"]["groups"] == 1
    assert cli.main(["trace", NS, "--op", "nope_op"]) == 2
    assert "no commit in this namespace ran it" in capsys.readouterr().err
