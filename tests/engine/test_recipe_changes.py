"""Recipe evolution through real Spark + Iceberg: stale rows are recomputed, current rows are not.

One module-scoped fixture runs a two-stage image recipe (``meta``: img_meta + img_signals; ``quality``:
img_quality_filter over meta's columns) six times over a Parquet source written here, and the
tests read what each run did:

1. first file (8 images), ``min_side_px: 200``;
2. a second file (4 more images) and ``min_side_px: 120``: ``quality`` recomputes exactly its 8
   old rows and adds 4 in one commit; ``meta`` only adds the 4 new rows;
3. ``img_meta`` version bumped: ``meta`` recomputes all 12, and so does ``quality`` (its upstream
   changed);
4. nothing changed: nothing is appended;
5. three ``meta`` rows get a null fingerprint (rows written before fingerprints) and the run says
   ``recompute=["quality"]``: ``meta`` recomputes those 3, ``quality`` all 12.

A second fixture checks the error rules: a stage whose rows are all errors fails under the
default ceiling, under ``max_error_rate: 1.0`` (the all-errors rule), and passes only with
``allow_all_errors``; a source whose every file is unreadable fails at ingest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.engine.runner import RunResult, Runner
from spark_mm.errors import RecipeError
from spark_mm.lake.audit import AuditFailed
from spark_mm.ops.image_meta import ImgMeta

NS = "recipe_changes"
# (width, height): short sides 150 (too small at 200, fine at 120), 250, and one 100 (small at both).
FIRST = [(150, 300), (300, 150), (250, 260), (260, 250), (100, 120), (400, 300), (150, 150), (220, 230)]
SECOND = [(150, 200), (260, 270), (130, 140), (110, 300)]


def png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 30)).save(buf, "PNG")
    return buf.getvalue()


def write_images(path: Path, sizes: list[tuple[int, int]]) -> None:
    pq.write_table(pa.table({"image": pa.array([png(s) for s in sizes], pa.binary()), "w": [s[0] for s in sizes]}), path)


def recipe(source: Path, namespace: str, min_side_px: int, **run: object) -> recipes.LoadedRecipe:
    return recipes.from_mapping(
        {
            "job": "recipe_changes",
            "namespace": namespace,
            "source": {"type": "parquet", "path": str(source), "image_column": "image"},
            "lake": {"buckets": 4},
            "tracking": {"enabled": False},
            "run": dict(run),
            "stages": [
                {"name": "meta", "ops": [{"op": "img_meta"}, {"op": "img_signals"}]},  # the filter reads img_decoded
                {"name": "quality", "ops": [{"op": "img_quality_filter", "min_side_px": min_side_px, "max_aspect_ratio": None}]},
            ],
        }
    )


@dataclass
class Snap:
    """A table after one run: its rows by sample and its spark-mm snapshots (summaries)."""

    rows: dict[str, dict]
    commits: list[dict[str, str]]


def snap(spark: SparkSession, table: str) -> Snap:
    spark.sql(f"REFRESH TABLE {table}")
    rows = {r["sample_id"]: r.asDict() for r in spark.table(table).collect()}
    commits = [{**dict(r[0]), "operation": r[1]} for r in spark.sql(f"SELECT summary, operation FROM {table}.snapshots ORDER BY committed_at").collect()]
    return Snap(rows, [c for c in commits if "spark-mm.run-id" in c])


@dataclass
class History:
    results: dict[str, RunResult]
    meta: dict[str, Snap]
    quality: dict[str, Snap]
    widths: dict[str, int]  # sample_id -> short side


@pytest.fixture(scope="module")
def history(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> History:
    src = tmp_path_factory.mktemp("recipe_changes_src")
    write_images(src / "a.parquet", FIRST)
    results, meta, quality = {}, {}, {}
    meta_t, quality_t = f"lake.{NS}.signals_meta", f"lake.{NS}.signals_quality"

    def run(run_id: str, loaded: recipes.LoadedRecipe, recompute: tuple[str, ...] = ()) -> None:
        results[run_id] = Runner(loaded, run_id=run_id, spark=spark, recompute=recompute).run()
        meta[run_id], quality[run_id] = snap(spark, meta_t), snap(spark, quality_t)

    run("r1", recipe(src, NS, 200))
    write_images(src / "b.parquet", SECOND)
    run("r2", recipe(src, NS, 120))
    mp = pytest.MonkeyPatch()
    mp.setattr(ImgMeta, "version", "2")
    try:
        run("r3", recipe(src, NS, 120))
        run("r4", recipe(src, NS, 120))
        nulled = sorted(meta["r4"].rows)[:3]
        spark.sql(f"UPDATE {meta_t} SET fingerprint = NULL WHERE sample_id IN ({', '.join(repr(s) for s in nulled)})")
        run("r5", recipe(src, NS, 120), recompute=("quality",))
    finally:
        mp.undo()
    widths = {r["sample_id"]: min(r["img_width"], r["img_height"]) for r in meta["r5"].rows.values()}
    return History(results, meta, quality, widths)


def stage(result: RunResult, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in result.stages if s.stage == name)


def test_changed_threshold_recomputes_exactly_the_old_rows(history: History) -> None:
    r1, r2 = history.quality["r1"], history.quality["r2"]
    assert len(r1.rows) == 8 and len(r2.rows) == 12  # one row per sample, old rows replaced
    q = stage(history.results["r2"], "quality")
    assert (q.rows_in, q.rows_out, q.recomputed) == (12, 12, 8) and "recomputed 8 stale rows" in q.note
    for sid, row in r2.rows.items():
        side = history.widths[sid]
        assert row["img_quality_filter_ok"] is (side >= 120), (sid, side)
        assert row["run_id"] == "r2"
    # under the old threshold the 150 px images were too small; now they pass
    changed = [s for s in r1.rows if r1.rows[s]["img_quality_filter_ok"] != r2.rows[s]["img_quality_filter_ok"]]
    assert sorted(history.widths[s] for s in changed) == [150, 150, 150]
    assert r2.rows[next(iter(r2.rows))]["fingerprint"] != r1.rows[next(iter(r1.rows))]["fingerprint"]
    # meta's recipe did not change: only the 4 new samples, appended; old rows untouched
    m = stage(history.results["r2"], "meta")
    assert (m.rows_in, m.recomputed) == (4, 0)
    assert all(history.meta["r2"].rows[s]["run_id"] == "r1" for s in history.meta["r1"].rows)


def test_replace_is_one_commit_with_lineage(history: History) -> None:
    (commit,) = [c for c in history.quality["r2"].commits if c["spark-mm.run-id"] == "r2"]
    old = next(iter(history.quality["r1"].rows.values()))["fingerprint"]
    new = next(iter(history.quality["r2"].rows.values()))["fingerprint"]
    assert commit["operation"] == "overwrite"  # the MERGE: rows replaced and inserted together
    assert (commit["spark.merge-into.num-target-rows-updated"], commit["spark.merge-into.num-target-rows-inserted"]) == ("8", "4")
    assert commit["spark-mm.recomputed"] == f"8 rows from {old}=8"
    assert (commit["spark-mm.rows"], commit["spark-mm.fingerprint"]) == ("12", new)
    assert commit["spark-mm.fingerprint-ops"].startswith('img_quality_filter@2 {') and '"min_side_px":120' in commit["spark-mm.fingerprint-ops"]
    assert "upstream signals_meta=" in commit["spark-mm.fingerprint-ops"]
    (append,) = [c for c in history.meta["r2"].commits if c["spark-mm.run-id"] == "r2"]
    assert append["operation"] == "append" and "spark-mm.recomputed" not in append


def test_version_bump_recomputes_the_stage_and_its_downstream(history: History) -> None:
    m, q = stage(history.results["r3"], "meta"), stage(history.results["r3"], "quality")
    assert (m.rows_in, m.recomputed, q.rows_in, q.recomputed) == (12, 12, 12, 12)
    assert len(history.meta["r3"].rows) == len(history.quality["r3"].rows) == 12
    assert {r["run_id"] for r in history.meta["r3"].rows.values()} == {"r3"}
    assert {r["img_quality_filter_ok"] for r in history.quality["r3"].rows.values()} == {r["img_quality_filter_ok"] for r in history.quality["r2"].rows.values()}
    (commit,) = [c for c in history.meta["r3"].commits if c["spark-mm.run-id"] == "r3"]
    assert commit["spark-mm.fingerprint-ops"].startswith("img_meta@2 ") and commit["spark-mm.ops"].startswith("img_meta@2,img_signals@")


def test_unchanged_recipe_appends_nothing(history: History) -> None:
    for name, snaps in (("meta", history.meta), ("quality", history.quality)):
        s = stage(history.results["r4"], name)
        assert (s.rows_in, s.rows_out, s.recomputed) == (0, 0, 0)
        assert snaps["r4"].rows == snaps["r3"].rows
        added = [int(c.get("added-records", 0)) for c in snaps["r4"].commits if c["spark-mm.run-id"] == "r4"]
        assert sum(added) == 0


def test_null_fingerprints_are_stale_and_recompute_forces(history: History) -> None:
    m, q = stage(history.results["r5"], "meta"), stage(history.results["r5"], "quality")
    assert (m.rows_in, m.recomputed) == (3, 3) and "recomputed 3 stale rows" in m.note
    assert (q.rows_in, q.recomputed) == (12, 12) and "recomputed 12 rows (--recompute)" in q.note
    assert sum(r["run_id"] == "r5" for r in history.meta["r5"].rows.values()) == 3
    assert all(r["fingerprint"] for r in history.meta["r5"].rows.values())
    assert len(history.quality["r5"].rows) == 12


def test_recompute_flag_is_validated_before_spark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from spark_mm import cli

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(recipe(tmp_path, NS, 120).text)))
    assert cli.main(["run", str(path), "--recompute", "quality", "--recompute", "nope"]) == 2
    assert "error: --recompute nope: not a stage of this recipe; accepted: ['meta', 'quality']" in capsys.readouterr().err
    with pytest.raises(RecipeError, match=r"--recompute nope"):
        Runner(recipe(tmp_path, NS, 120), recompute=("nope",))


# -- error rules -----------------------------------------------------------------------------------

def test_all_error_stage_fails_unless_allowed(spark: SparkSession, tmp_path: Path) -> None:
    pq.write_table(pa.table({"image": pa.array([b"junk", b"not an image", b"\x00\x01"], pa.binary())}), tmp_path / "junk.parquet")
    with pytest.raises(AuditFailed, match=r"stage 'meta' chunk 1/1 .*error-rate check failed: 3 of 3 rows have errors \(100.0%\) > max_error_rate 50.0%"):
        Runner(recipe(tmp_path, "recipe_errors", 200), run_id="e1", spark=spark).run()
    with pytest.raises(AuditFailed, match=r"stage 'meta' chunk 1/1 .*all-errors check failed: every one of the 3 rows has an error"):
        Runner(recipe(tmp_path, "recipe_errors", 200, max_error_rate=1.0), run_id="e2", spark=spark).run()
    assert spark.sql("SELECT count(*) FROM lake.recipe_errors.signals_meta").first()[0] == 0  # main untouched
    done = Runner(recipe(tmp_path, "recipe_errors", 200, max_error_rate=1.0, allow_all_errors=True), run_id="e3", spark=spark).run()
    assert stage(done, "meta").rows_with_errors == 3


def test_all_unreadable_input_fails_at_ingest(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(AuditFailed, match=r"ingest into lake.recipe_unreadable.samples: all-errors check failed: every one of the 1 rows"):
        Runner(recipe(tmp_path, "recipe_unreadable", 200), run_id="u1", spark=spark).run()
