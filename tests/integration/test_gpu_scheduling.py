"""GPU stages under stage-level scheduling on local-cluster, with a fake GPU discovery script.

No GPU is needed: the worker "discovers" two GPUs (addresses 0 and 1) from a script, the GPU
stage asks for one GPU per task through its ResourceProfile, and each task must see exactly one
assigned address. Each task then runs on the GPU it was assigned where its process sees CUDA,
and on the CPU (saying so) where it does not, so the test holds on machines with and without one.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.cluster
def test_gpu_stage_runs_under_its_profile_with_assigned_addresses(tmp_path: Path) -> None:
    script = tmp_path / "gpus.sh"
    script.write_text('#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0", "1"]}\'\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    raw = yaml.safe_load((REPO / "conf" / "z_image.yaml").read_text())
    raw["stages"] = [
        {"name": "image_models", "resources": {"gpus_per_task": 1.0}, "ops": [{"op": "img_nsfw", "batch_size": 16, "onnx_threads": 1}]}
    ]
    raw["dedup"] = []
    recipe = tmp_path / "gpu.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    conf = {
        "spark.worker.resource.gpu.amount": "2",
        "spark.worker.resource.gpu.discoveryScript": str(script),
        "spark.executor.resource.gpu.amount": "2",
        "spark.executor.resource.gpu.discoveryScript": str(script),
        "spark.executor.memory": "1g",
        "spark.ui.enabled": "false",
    }
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local-cluster[1,2,2048]"]
    for k, v in conf.items():
        cmd += ["--conf", f"{k}={v}"]
    cmd += [str(REPO / "tests" / "integration" / "gpu_probe_job.py"), str(recipe), "gpu_probe"]
    env = dict(os.environ, SPARK_MM_HOME=str(tmp_path / "home"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("PROBE "))
    probe = json.loads(line.removeprefix("PROBE "))
    assert probe["profile"] is True
    tasks = probe["tasks"]
    assert {t["partition"] for t in tasks} == {0, 1, 2, 3}
    assert all(t["addresses"] in ("0", "1") for t in tasks), tasks  # exactly one GPU per task
    assert {t["addresses"] for t in tasks} <= {"0", "1"}
    for t in tasks:  # the assigned GPU where the task sees CUDA, else the logged CPU fallback
        assert t["device"] == (f"cuda:{t['addresses']}" if t["cuda"] else "cpu"), t
    assert probe["stage_note"] == "GPU profile"
    assert probe["stage_rows"][0] == probe["stage_rows"][1] > 100
