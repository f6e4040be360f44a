"""Throughput of a CLIP model stage: images/s and the fraction of wall time the model was busy.

Runs the real ``img_clip`` operator (decode + preprocess on the prefetch thread, micro-batched
forward pass on the device) over JPEG-encoded scikit-image photos cut into Arrow batches of 64
rows (what Spark hands a stage for ~1 MiB images). Weights are random (speed does not depend on
them) and written to a temporary safetensors file so the operator's normal loading path runs.

Busy fraction = time inside the model call (forward + copy back, which synchronises the GPU)
divided by the stage's wall time; 1.0 means the device never waited for the CPU.

    python benchmarks/gpu_stage.py                  # ViT-L-14 fp16 on a GPU, else ViT-B-32 on CPU
    python benchmarks/gpu_stage.py --model ViT-L-14 --images 4096 --batch-size 256
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image


def photos_jpeg(n: int, side_px: int) -> list[bytes]:
    import skimage.data as data

    names = ["astronaut", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field", "immunohistochemistry"]
    base = []
    for name in names:
        img = Image.fromarray(getattr(data, name)()).convert("RGB")
        img = img.resize((side_px, int(side_px * img.height / img.width)), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        base.append(buf.getvalue())
    return [base[i % len(base)] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    import open_clip
    import torch
    from safetensors.torch import save_file

    from spark_mm.ops.model_clip import ImgClip, ImgClipParams

    cuda = torch.cuda.is_available()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ViT-L-14" if cuda else "ViT-B-32")
    ap.add_argument("--images", type=int, default=4096 if cuda else 192)
    ap.add_argument("--batch-size", type=int, default=256 if cuda else 32)
    ap.add_argument("--arrow-batch-rows", type=int, default=64)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    ap.add_argument("--decode-threads", type=int, default=8 if cuda else 2)
    ap.add_argument("--prefetch-batches", type=int, default=3)
    ap.add_argument("--side-px", type=int, default=512, help="width of the encoded test images")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        net = open_clip.create_model(args.model)
        weights = Path(tmp) / f"{args.model}.safetensors"
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
        del net
        op = ImgClip(
            ImgClipParams(
                model=args.model,
                pretrained="openai",
                weights={"path": str(weights)},
                caption_column=None,
                batch_size=args.batch_size,
                precision=args.precision,
                decode_threads=args.decode_threads,
                prefetch_batches=args.prefetch_batches,
            )
        )
        t0 = time.perf_counter()
        op.setup()
        load_s = time.perf_counter() - t0

        images = photos_jpeg(args.images, args.side_px)
        table = pa.table({"image": pa.array(images, pa.binary())})
        batches = table.to_batches(max_chunksize=args.arrow_batch_rows)
        list(op.transform_stream(batches[:2]))  # warm-up: kernels, allocator, thread pools

        rows = 0
        t1 = time.perf_counter()
        for result in op.transform_stream(batches):
            rows += result.columns.num_rows
        wall = time.perf_counter() - t1
        stats = op.last_stats
        assert stats is not None and rows == args.images

    device = op.device.device if op.device else "cpu"
    report = {
        "benchmark": "gpu_stage",
        "model": args.model,
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
        "dtype": "float16" if device.startswith("cuda") and args.precision in ("auto", "fp16") else ("bfloat16" if device.startswith("cuda") and args.precision == "bf16" else "float32"),
        "images": rows,
        "batch_size": args.batch_size,
        "arrow_batch_rows": args.arrow_batch_rows,
        "decode_threads": args.decode_threads,
        "load_s": round(load_s, 2),
        "wall_s": round(wall, 3),
        "images_per_s": round(rows / wall, 1),
        "model_busy_s": round(stats.infer_s, 3),
        "busy_fraction": round(stats.infer_s / wall, 3),
        "model_wait_for_input_s": round(stats.wait_s, 3),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "note": "random weights; busy = time inside the model call / wall time",
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
