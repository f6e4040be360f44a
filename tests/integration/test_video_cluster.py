"""``spark-submit jobs/video.py --recipe conf/video.yaml`` on local-cluster (two executor JVMs), end
to end on the embedded video sample: every stage, the clips step, clip dedup, then
``conf/video_curate.sql`` over what it wrote.

Nothing here is compared with an in-process run (the video ops' own tests pin their values); what
is pinned is what a cluster could break: every table accounted for (one row per sample in each
sample-keyed table, one per clip in each clip-keyed one), the application a standalone one (not
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
CLIP_TABLES = ("video_clips",)  # one row per clip plus one error row per video not split


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
    assert {"samples", "signals_video_cpu", "signals_video_models", "signals_clips", "video_clips", "dedup_clips"} <= names, names
    n = spark.table(f"lake.{NS}.samples").count()
    assert n >= 5, n
    clips = spark.sql(f"SELECT count(*) AS rows, count(clip_index) AS clips, count(DISTINCT clip_id) AS ids FROM lake.{NS}.video_clips").first()
    assert clips["clips"] > 0 and clips["ids"] == clips["rows"], clips
    for name in sorted(names - {"samples", *CLIP_TABLES}):
        frame = spark.table(f"lake.{NS}.{name}")
        key = "clip_id" if "clip_id" in frame.columns else "sample_id"
        got = frame.selectExpr("count(*)", f"count(DISTINCT {key})").first()
        want = clips["clips"] if key == "clip_id" else n
        assert tuple(got) == (want, want), (name, key, tuple(got), want)
    app = spark.sql(f"SELECT summary['spark.app.id'] FROM lake.{NS}.signals_video_cpu.snapshots").first()[0]
    assert app.startswith("app-"), app  # a standalone (local-cluster) application id


@pytest.mark.cluster
def test_video_curate_query_keeps_only_rows_its_rules_allow(video_job, spark: SparkSession) -> None:  # type: ignore[no-untyped-def]
    assert video_job.returncode == 0, video_job.stderr[-3000:]
    kept = spark.sql(substitute((REPO / "conf" / "video_curate.sql").read_text(), {"namespace": f"lake.{NS}"}))
    rows = kept.collect()
    n = spark.table(f"lake.{NS}.samples").count()
    assert 0 < len(rows) < n, (len(rows), n)  # the sample's broken files and still video are dropped
    meta = {r["sample_id"]: r for r in spark.table(f"lake.{NS}.signals_video_cpu").collect()}
    for row in rows:
        m = meta[row["sample_id"]]
        assert m["vid_meta_ok"] and m["vid_duration_ok"] and m["vid_motion_ok"], row["sample_id"]
