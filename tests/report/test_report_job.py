"""The z_image job on the embedded sample, then its report and MLflow run; the report rendered in
headless Chromium (screenshot not blank, key sections in the DOM)."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageStat
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.engine.runner import Runner
from spark_mm.recipe import LoadedRecipe
from spark_mm.report.mlflow_log import Published, publish_run

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "rep-1"
# Sections a z_image report must show (no dedup/text sections: the recipe has neither).
SECTIONS = ("run", "skipped-models", "stages", "funnel", "throughput", "errors", "histograms", "thumbnails", "duplicates", "recipe")


def _recipe(mlflow_uri: str) -> LoadedRecipe:
    """conf/z_image.yaml in namespace ``rep``, without the (slow) real NSFW model, so the model stage
    is only the three skipped models and the report's banner has something to say."""
    raw = yaml.safe_load((REPO / "conf" / "z_image.yaml").read_text())
    raw = recipes.apply_overrides(raw, ["namespace=rep", "lake.buckets=4", f"tracking.mlflow_uri={mlflow_uri}", "tracking.experiment=z_image_test"])
    models = next(s for s in raw["stages"] if s["name"] == "image_models")
    models["ops"] = [op for op in models["ops"] if op["op"] != "img_nsfw"]
    text = yaml.safe_dump(raw, sort_keys=False)
    import hashlib

    return LoadedRecipe(recipe=recipes.validate(raw), text=text, sha256=hashlib.sha256(text.encode()).hexdigest())


@pytest.fixture(scope="module")
def published(spark: SparkSession, lake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedRecipe, Published]:
    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    loaded = _recipe(f"sqlite:///{store}")
    result = Runner(loaded, run_id=RUN_ID, spark=spark).run()
    return loaded, publish_run(spark, result, loaded, root=lake_home)


def test_report_written_under_home(published: tuple[LoadedRecipe, Published], lake_home: Path) -> None:
    _, pub = published
    assert pub.report == lake_home / "reports" / "rep" / f"{RUN_ID}.html"
    page = pub.report.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'id="{section}"' in page
    assert "img_clip@1" in page and "img_quality_filter: too_small" in page
    thumbs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(thumbs) >= 10
    for b64 in thumbs[:5]:
        im = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert max(im.size) <= 128
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_mlflow_run_has_params_metrics_tags_artifacts(published: tuple[LoadedRecipe, Published], spark: SparkSession) -> None:
    from mlflow.tracking import MlflowClient

    loaded, pub = published
    assert pub.mlflow is not None
    client = MlflowClient(pub.mlflow.tracking_uri)
    run = client.get_run(pub.mlflow.mlflow_run_id)
    assert client.get_experiment(run.info.experiment_id).name == "z_image_test"
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert p["stages.0.ops.2.op"] == "img_quality_filter" and p["stages.0.ops.2.min_side_px"] == "200"
    assert p["namespace"] == "rep" and p["recipe.sha256"] == loaded.sha256
    n = spark.sql("SELECT count(*) FROM lake.rep.samples").first()[0]
    assert m["stage.image_cpu.rows_in"] == m["stage.image_cpu.rows_out"] == n
    assert m["op.image_cpu.img_quality_filter.rows_in"] == n
    kept = spark.sql(f"SELECT count(*) FROM lake.rep.signals_image_cpu WHERE run_id = '{RUN_ID}' AND img_quality_filter_ok").first()[0]
    assert m["op.image_cpu.img_quality_filter.rows_out"] == kept
    # The funnel ends with the dedup step: kept = quality ok and dup_keep.
    final = spark.sql(
        f"SELECT count(*) FROM lake.rep.signals_image_cpu s JOIN lake.rep.dedup_image_phash d USING (sample_id) "
        f"WHERE s.run_id = '{RUN_ID}' AND s.img_quality_filter_ok AND d.dup_keep"
    ).first()[0]
    assert m["run.kept_rows"] == final < kept
    assert m["op.image_cpu.img_quality_filter.pass_rate"] == pytest.approx(kept / n)
    assert m["op.image_cpu.img_quality_filter.reason.too_small"] > 0
    assert m["op.image_cpu.img_meta.errors"] >= 4  # the corrupt payloads of the sample
    assert m["stage.image_cpu.rows_per_s"] > 0
    snaps = {r[0] for r in spark.sql("SELECT snapshot_id FROM lake.rep.signals_image_cpu.snapshots").collect()}
    assert int(t["spark-mm.snapshot.image_cpu"]) in snaps
    assert t["spark-mm.run-id"] == RUN_ID and t["spark-mm.recipe-sha256"] == loaded.sha256
    assert "img_clip@1" in t["spark-mm.skipped-models"]
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == sorted([f"{RUN_ID}.html", "recipe.yaml"])
    assert run.info.status == "FINISHED"


def _chromium() -> str | None:
    for name in (os.environ.get("SPARK_MM_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _headless(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'profile'}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(published: tuple[LoadedRecipe, Published], tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium not found (Debian: apt-get install chromium; scripts/setup.sh --dev installs it as root)")
    _, pub = published
    url = pub.report.as_uri()
    png = tmp_path / "report.png"
    shot = _headless(binary, tmp_path, f"--screenshot={png}", "--window-size=1280,2000", url)
    assert png.is_file(), shot.stderr[-2000:]
    with Image.open(png) as im:
        assert im.size == (1280, 2000)
        gray = im.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 20  # a blank page has no variance
        assert len(im.convert("RGB").getcolors(1 << 20) or []) > 200  # text, charts, thumbnails
    dom = _headless(binary, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = set(re.findall(r'<(?:section|div)[^>]* id="([a-z-]+)"', dom.stdout))
    assert set(SECTIONS) <= found
    assert "spark-mm run report: z_image" in dom.stdout
