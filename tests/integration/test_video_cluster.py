"""``spark-submit jobs/video.py --recipe conf/video.yaml`` on local-cluster (two executor JVMs), end
to end on the embedded video sample: the per-video stage, the clips step, the clip stages
(``over: clips``), clip dedup, then ``conf/video_curate.sql`` over what it wrote.

Nothing here is compared with an in-process run (the video ops' own tests pin their values); what
is pinned is what a cluster could break: every table accounted for (one row per sample in each
sample-keyed table, one per clip in each clip stage's, one per ``video_clips`` row in ``dedup_clips``), the application a standalone one (not
``local-*``), and the shipped curation query resolving and keeping only rows its rules allow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

pytest.importorskip("av")

from spark_mm.lake.curate import substitute  # noqa: E402
from tests.integration.test_local_cluster import tables  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NS = "vid_cluster"
# Tables with one row per video_clips row (every clip, and one error row per video not split);
# clip stages (over: clips) have one row per clip, sample-keyed tables one row per sample.
ALL_CLIP_ROWS = ("video_clips", "dedup_clips")


@pytest.fixture(scope="module")
def video_job(lake_home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SPARK_MM_HOME=str(lake_home), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"), "--master", "local-cluster[2,1,1536]",
        "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
        str(REPO / "jobs" / "video.py"), "--recipe", str(REPO / "conf" / "video.yaml"),
        "--set", f"namespace={NS}", "--set", "lake.buckets=4", "--set", "tracking.enabled=false", "--run-id", f"{NS}-run",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    print(*[line for line in done.stdout.splitlines() if line.startswith("stage ")], sep="\n")
    return done


@pytest.mark.cluster
def test_video_recipe_on_local_cluster_accounts_for_every_video_and_clip(video_job, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    assert video_job.returncode == 0, video_job.stderr[-3000:]
    names = tables(spark, NS)
    assert {"samples", "signals_video_cpu", "signals_clip_cpu", "signals_clip_models", "signals_clips", "video_clips", "dedup_clips"} <= names, names
    n = spark.table(f"lake.{NS}.samples").count()
    assert n >= 5, n
    clips = spark.sql(f"SELECT count(*) AS rows, count(clip_index) AS clips, count(DISTINCT clip_id) AS ids FROM lake.{NS}.video_clips").first()
    assert clips["clips"] >= n // 2 and clips["rows"] > clips["clips"] and clips["ids"] == clips["rows"], clips  # clips and error rows
    keys = spark.sql(f"SELECT count(*), count(DISTINCT key_type, key, sample_id) FROM lake.{NS}.dedup_keys").first()
    assert 0 < keys[0] == keys[1] <= clips["rows"], tuple(keys)  # the side-channel key table: one row per (key type, key, kept id)
    for name in sorted(names - {"samples", "video_clips", "dedup_keys"}):
        frame = spark.table(f"lake.{NS}.{name}")
        key = "clip_id" if "clip_id" in frame.columns else "sample_id"
        got = frame.selectExpr("count(*)", f"count(DISTINCT {key})").first()
        want = {"sample_id": n, "clip_id": clips["rows"] if name in ALL_CLIP_ROWS else clips["clips"]}[key]
        assert tuple(got) == (want, want), (name, key, tuple(got), want)
    app = spark.sql(f"SELECT summary['spark.app.id'] FROM lake.{NS}.signals_video_cpu.snapshots").first()[0]
    assert app.startswith("app-"), app  # a standalone (local-cluster) application id


@pytest.mark.cluster
def test_video_curate_query_keeps_only_rows_its_rules_allow(video_job, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    assert video_job.returncode == 0, video_job.stderr[-3000:]
    rows = spark.sql(substitute((REPO / "conf" / "video_curate.sql").read_text(), {"namespace": f"lake.{NS}"})).collect()
    clips = spark.sql(f"SELECT count(*) FROM lake.{NS}.video_clips WHERE error IS NULL").first()[0]
    assert 0 < len(rows) < clips and len({r["clip_id"] for r in rows}) == len(rows), (len(rows), clips)  # the still clips are dropped
    video = {r["sample_id"]: r for r in spark.table(f"lake.{NS}.signals_video_cpu").collect()}
    per_clip = {r["clip_id"]: r for r in spark.table(f"lake.{NS}.signals_clip_cpu").collect()}
    kept = {r["clip_id"]: r["dup_keep"] for r in spark.table(f"lake.{NS}.dedup_clips").collect()}
    for row in rows:
        v, c = video[row["sample_id"]], per_clip[row["clip_id"]]
        assert v["vid_meta_ok"] and v["vid_duration_ok"] and c["vid_motion_ok"] and c["vid_ocr_ok"] and kept[row["clip_id"]], row["clip_id"]
    dropped = set(per_clip) - {r["clip_id"] for r in rows}
    assert any(not per_clip[c]["vid_motion_ok"] for c in dropped), "no clip was dropped for its motion score"
