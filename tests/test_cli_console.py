"""What ``spark-mm run`` prints, through the real CLI in a subprocess (its own driver JVM, so the
log4j2 file of ``spark_mm/engine/console.py`` is what the JVM starts with).

A tiny generated recipe (8 PNGs in one Parquet file; a CPU stage, a model stage whose one model has
no weights under ``on_missing: skip``, a pHash dedup step) runs twice, in fresh project homes:

- piped, as CI and logs see it: ``stage X: started`` lines for ingest, each stage and the dedup
  step; no ``\\r``; none of the silenced JVM warnings or log4j banners; one model-skip line;
- under a pseudo-terminal with ``--verbose``: the live progress line (``\\r``, rows/s) appears and
  is blanked before the next line, and the skip details (where the weights were looked for) print.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240
STAGES = ("ingest", "image_cpu", "image_models", "dedup_image_phash")
SILENCED = ("DataSourceV2Strategy", "NativeCodeLoader", "SparkStringUtils", "resolves to a loopback address", "Using Spark's default log4j profile", "Setting default log level")


def _png(seed: int) -> bytes:
    im = Image.new("RGB", (224 + 8 * seed, 224), (40 * seed % 256, 90, 200 - 20 * seed))
    for x in range(0, im.width, 16):  # some structure, so the pHashes differ
        for y in range(0, 224, 16 + seed):
            im.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("console")
    images = [_png(i) for i in range(8)]
    pq.write_table(pa.table({"image": images, "caption": [f"box {i}" for i in range(8)]}), root / "images.parquet")
    raw = {
        "job": "console_test",
        "namespace": "console",
        "source": {"type": "parquet", "path": str(root / "images.parquet"), "image_column": "image", "caption_column": "caption"},
        "stages": [
            {"name": "image_cpu", "ops": [{"op": "img_meta"}, {"op": "img_signals", "mode": "fast"}]},
            {
                "name": "image_models",
                "resources": {"gpus_per_task": 1.0, "cpus_per_task": 1},
                "ops": [{"op": "img_clip", "weights": {"on_missing": "skip", "allow_download": False}}],
            },
        ],
        "dedup": [{"name": "image_phash", "method": "phash", "column": "img_phash", "radius_bits": 4, "keep": {"kind": "smallest_id"}}],
        "lake": {"buckets": 2},
        "spark": {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}},
        "tracking": {"enabled": False},
    }
    path = root / "console.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_LOCAL_IP", "SPARK_MM_PROGRESS", "SPARK_MM_LOG_LEVEL", "PYSPARK_GATEWAY_PORT")}
    env.update(SPARK_MM_HOME=str(home), PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", TERM="xterm")
    return env


def _argv(recipe: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "spark_mm.cli", "run", str(recipe), "--run-id", "console-1", *extra]


@pytest.fixture(scope="module")
def piped(recipe: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """stdout and stderr of a piped run, together (as ``2>&1 | tee`` shows them)."""
    home = tmp_path_factory.mktemp("home_piped")
    proc = subprocess.run(_argv(recipe), env=_env(home), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="module")
def on_terminal(recipe: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """What a terminal receives from a ``--verbose`` run (stdout and stderr on one pseudo-terminal)."""
    home = tmp_path_factory.mktemp("home_tty")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(_argv(recipe, "--verbose"), env=_env(home), cwd=REPO, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    out = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")  # the terminal's ONLCR
    assert rc == 0, out[-4000:]
    return out


def test_piped_output_has_started_lines_and_no_noise(piped: str) -> None:
    assert "\r" not in piped, "the live progress line must not reach a pipe"
    for stage in STAGES:
        assert re.search(rf"^stage {stage}: started \(\d+ rows pending\)$", piped, re.M), (stage, piped)
    assert re.search(r"^stage ingest: started \(8 rows pending\)$", piped, re.M), piped
    for noise in SILENCED:
        assert noise not in piped, (noise, piped)
    assert "does not support stage-level scheduling" not in piped  # INFO now; the summary note says it
    skip_lines = [line for line in piped.splitlines() if "img_clip" in line]
    assert len(skip_lines) == 1, skip_lines
    assert skip_lines[0].startswith("!! models skipped (weights absent, on_missing: skip")
    assert "stage image_models: img_clip@1" in skip_lines[0] and "--verbose" in skip_lines[0]
    assert "Looked at" not in piped and "How to provide them" not in piped
    assert re.search(r"^image_cpu\s+8\s+8\s", piped, re.M), piped  # the summary is still there


def test_terminal_gets_a_live_line_that_is_erased(on_terminal: str) -> None:
    live = re.findall(r"\r(stage [a-z_]+: [^\r\n]*rows/s[^\r\n]*)", on_terminal)
    assert live, on_terminal[-4000:]
    assert all(re.search(r"~\d+/\d+ rows \(\d+/\d+ tasks\), [\d.]+ rows/s, ETA ", line) for line in live), live[:5]
    assert re.search(r"\r +\r", on_terminal), "the live line is never blanked"
    # What stays on screen of each line is its text after the last "\r": no live line may be left
    # there, neither at a stage's end nor garbled into a log line printed while it was shown.
    screen = [seg.rsplit("\r", 1)[-1] for seg in on_terminal.split("\n")]
    assert not any("elapsed" in line for line in screen), [line for line in screen if "elapsed" in line]
    for stage in STAGES:
        assert f"stage {stage}: started (" in on_terminal


def test_verbose_prints_why_each_model_was_skipped(on_terminal: str) -> None:
    assert "model stage img_clip@1 skipped: weights for model" in on_terminal
    assert "How to provide them:" in on_terminal
    assert sum("!! models skipped" in line for line in on_terminal.splitlines()) == 1
