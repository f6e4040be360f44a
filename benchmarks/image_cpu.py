"""Image CPU stage benchmark: bare PIL decode vs a Python reference vs the Rust kernels, single core.

Runs in one process on the same real photos (``../shared/data/images/photos`` when present, plus
the photos shipped in scikit-image, encoded as JPEG q90 and PNG):

(a) bare PIL decode (``Image.open(...).load()``);
(b) a Python reference stage: PIL decode + EXIF transpose, numpy for the technical signals and
    ``imagehash`` for pHash/dHash/aHash/wHash — the same signals the kernel computes;
(c) the Rust kernel ``img_signals`` called directly, ``mode="fast"`` and ``mode="exact"``;
(s) signal math alone on already-decoded pixels: ``img_signals_pixels`` vs the numpy/imagehash
    part of (b) on the same decoded arrays;
(d) the Spark stage end to end on ``local[1]``: per-image (marginal) cost from two source sizes,
    and the stage's fixed cost, see ``bench_spark_stage``.

Usage: ``python benchmarks/image_cpu.py [--repeat 3] [--cores 1]``. Prints a table of images/s,
MP/s and ratios; numbers recorded in docs/image_signals.md.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
import pyarrow as pa
from PIL import Image, ImageOps

from spark_mm import _native

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPARK_MM_SHARED_DATA", REPO.parent / "shared" / "data"))
SKIMAGE_PHOTOS = ("astronaut", "camera", "cat", "chelsea", "coffee", "coins", "hubble_deep_field",
                  "immunohistochemistry", "moon", "retina", "rocket", "brick", "clock", "grass", "gravel")
WORKING_SIDE = 256


def load_photos() -> list[bytes]:
    """Real photos: shared/data photos (as stored) + skimage photos as JPEG q90."""
    out: list[bytes] = []
    photos = SHARED / "images" / "photos"
    if photos.is_dir():
        out += [p.read_bytes() for p in sorted(photos.iterdir())]
    import skimage.data

    for name in SKIMAGE_PHOTOS:
        try:
            a = getattr(skimage.data, name)()
        except Exception:
            continue
        buf = io.BytesIO()
        Image.fromarray(a).convert("RGB" if a.ndim == 3 else "L").save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


# ---------------------------------------------------------------- (b) Python reference stage
_STD_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                      14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                      92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])


def ref_jpeg_quality(im: Image.Image) -> int | None:
    q = getattr(im, "quantization", None)
    if not q or 0 not in q:
        return None
    t = np.asarray(q[0])
    best = (1e18, 0)
    for quality in range(1, 101):
        s = 5000 // quality if quality < 50 else 200 - 2 * quality
        ref = np.clip((_STD_LUMA * s + 50) // 100, 1, 255)
        err = np.abs(np.sort(ref) - np.sort(t)).sum()
        if err <= best[0]:
            best = (err, quality)
    return best[1]


def ref_signals_from_image(im: Image.Image, jpeg_q: int | None) -> dict[str, object]:
    """Same signals as the kernel, computed with PIL + numpy + imagehash."""
    rgb = im.convert("RGB")
    luma_full = np.asarray(rgb.convert("L"), dtype=np.int16)
    # blocking on the 8x8 grid
    dh = np.abs(np.diff(luma_full, axis=1))
    dv = np.abs(np.diff(luma_full, axis=0))
    bh = dh[:, 7::8]
    bv = dv[7::8, :]
    b_mean = (bh.sum() + bv.sum()) / max(bh.size + bv.size, 1) + 0.5
    i_mean = (dh.sum() - bh.sum() + dv.sum() - bv.sum()) / max(dh.size - bh.size + dv.size - bv.size, 1) + 0.5
    blocking = b_mean / i_mean - 1
    w, h = rgb.size
    f = WORKING_SIDE / min(w, h)
    work = rgb.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BILINEAR) if f < 1 else rgb
    a = np.asarray(work, dtype=np.float64)
    lum = np.asarray(work.convert("L"), dtype=np.float64)
    hist = np.bincount(lum.astype(np.uint8).ravel(), minlength=256) / lum.size
    nz = hist[hist > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    lap = lum[:-2, 1:-1] + lum[2:, 1:-1] + lum[1:-1, :-2] + lum[1:-1, 2:] - 4 * lum[1:-1, 1:-1]
    n = (lum[:-2, :-2] - 2 * lum[:-2, 1:-1] + lum[:-2, 2:] - 2 * lum[1:-1, :-2] + 4 * lum[1:-1, 1:-1]
         - 2 * lum[1:-1, 2:] + lum[2:, :-2] - 2 * lum[2:, 1:-1] + lum[2:, 2:])
    noise = np.sqrt(np.pi / 2) * np.abs(n).sum() / (6 * n.size)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg, yb = r - g, (r + g) / 2 - b
    colorful = np.sqrt(rg.var() + yb.var()) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    upright = ImageOps.exif_transpose(im)
    return {
        "jpeg_quality": jpeg_q, "entropy": entropy, "blocking": blocking, "blur": lap.var(), "noise": noise,
        "colorfulness": colorful, "cast": np.hypot(cb.mean(), cr.mean()), "mono": np.sqrt(cb.var() + cr.var()) < 4,
        "over": (lum >= 250).mean(), "under": (lum <= 5).mean(),
        "phash": imagehash.phash(upright), "dhash": imagehash.dhash(upright),
        "ahash": imagehash.average_hash(upright), "whash": imagehash.whash(upright),
    }


def ref_stage(payloads: list[bytes]) -> None:
    for p in payloads:
        im = Image.open(io.BytesIO(p))
        im.load()
        ref_signals_from_image(im, ref_jpeg_quality(im))


def pil_decode(payloads: list[bytes]) -> None:
    for p in payloads:
        Image.open(io.BytesIO(p)).load()


# ---------------------------------------------------------------- (d) Spark stage
def bench_spark_stage(payloads: list[bytes], copies: tuple[int, ...] = (2, 10, 40)) -> dict[str, float]:
    """(d) The Spark CPU stage end to end on ``local[1]`` (the whole process is pinned to the
    benchmark's cores, so the JVM and its Python worker share them).

    The photos are repeated into Parquet sources (``copies`` times each) and the stage runs on
    each: the stage's wall time includes reading the bronze table, the fused mapInArrow pass, the
    Iceberg write, audit and publish. The first run only warms the JVM and the Python worker;
    the difference between the last two runs divided by the difference in images is the
    per-image (marginal) cost, free of the stage's fixed costs (Spark jobs for count, write,
    audit, commit), which are reported separately.
    """
    import shutil
    import tempfile

    import pyarrow.parquet as pq

    from spark_mm import recipe as recipes
    from spark_mm.engine.runner import Runner

    tmp = Path(tempfile.mkdtemp(prefix="spark-mm-bench-"))
    os.environ["SPARK_MM_HOME"] = str(tmp / "home")
    runs = []
    for c in copies:
        images = [p for _ in range(c) for p in payloads]
        path = tmp / f"images_{c}.parquet"
        keys = [str(i) for i in range(len(images))]
        # 256-row groups, like image shards written by datasets/img2dataset (not one huge group)
        pq.write_table(pa.table({"key": keys, "image": pa.array(images, pa.binary())}), path, row_group_size=256)
        loaded = recipes.from_mapping(
            {
                "job": "z_image",
                "namespace": f"bench_{c}",
                "source": {"type": "parquet", "path": str(path), "image_column": "image", "id_column": "key"},
                "stages": [{"name": "image_cpu", "ops": [{"op": "img_meta"}, {"op": "img_signals", "mode": "fast"}, {"op": "img_quality_filter"}]}],
                "spark": {"master": "local[1]", "conf": {"spark.driver.memory": "4g"}},
                "lake": {"buckets": 4},
                "tracking": {"enabled": False},
            }
        )
        stage = Runner(loaded, run_id=f"bench{c}").run().stages[1]
        runs.append((stage.rows_out, stage.seconds, sum(stage.op_seconds.values())))
    shutil.rmtree(tmp, ignore_errors=True)  # ~0.5 GB of sources and tables per run
    (n1, t1, _), (n2, t2, ops2) = runs[-2:]
    per_img = (t2 - t1) / (n2 - n1)
    return {"images": n2, "seconds": t2, "per_image": per_img, "fixed": t2 - n2 * per_img, "op_per_image": ops2 / n2}


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cores", type=int, default=1, help="CPU cores to pin this process to")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    payloads = load_photos()
    sizes = []
    decoded = []
    for p in payloads:
        im = Image.open(io.BytesIO(p))
        im.load()
        sizes.append(im.size[0] * im.size[1])
        decoded.append(im)
    mp = sum(sizes) / 1e6
    arr = pa.array(payloads, pa.binary())
    rgb = [np.ascontiguousarray(np.asarray(im.convert("RGB"))) for im in decoded]
    pix = pa.array([a.tobytes() for a in rgb], pa.binary())
    ws = pa.array([a.shape[1] for a in rgb], pa.int32())
    hs = pa.array([a.shape[0] for a in rgb], pa.int32())
    cs = pa.array([3] * len(rgb), pa.int32())
    qs = [ref_jpeg_quality(im) for im in decoded]

    rows: list[tuple[str, float]] = []
    rows.append(("(a) bare PIL decode", best_of(lambda: pil_decode(payloads), args.repeat)))
    rows.append(("(b) Python reference stage", best_of(lambda: ref_stage(payloads), args.repeat)))
    for mode in ("fast", "exact"):
        rows.append((f"(c) Rust img_signals {mode}", best_of(lambda m=mode: _native.img_signals(arr, mode=m), args.repeat)))
    rows.append(("(c) Rust header only (meta)", best_of(
        lambda: _native.img_signals(arr, quality=False, degradations=False, hashes=False), args.repeat)))
    t_ref_math = best_of(lambda: [ref_signals_from_image(im, q) for im, q in zip(decoded, qs)], args.repeat)
    rows.append(("(s) signal math: numpy+imagehash", t_ref_math))
    t_math = {}
    for mode in ("fast", "exact"):
        t_math[mode] = best_of(lambda m=mode: _native.img_signals_pixels(pix, ws, hs, cs, mode=m), args.repeat)
        rows.append((f"(s) signal math: Rust on pixels, {mode}", t_math[mode]))
    t_spark = bench_spark_stage(payloads)
    n = len(payloads)
    base = dict(rows)
    print(f"{n} photos, {mp:.1f} MP, {args.cores} core(s), best of {args.repeat}")
    print(f"{'path':38s} {'img/s':>8s} {'MP/s':>8s} {'vs (a)':>7s} {'vs (b)':>7s}")
    for name, t in rows:
        print(f"{name:38s} {n / t:8.1f} {mp / t:8.1f} {base['(a) bare PIL decode'] / t:7.2f} "
              f"{base['(b) Python reference stage'] / t:7.2f}")
    for mode, t in t_math.items():
        print(f"signal math speed-up, {mode} (Rust on pixels vs numpy+imagehash): {t_ref_math / t:.1f}x")
    a_per_img, b_per_img = base["(a) bare PIL decode"] / n, base["(b) Python reference stage"] / n
    per_img = t_spark["per_image"]
    print(
        f"(d) Spark stage, local[1], per image beyond fixed costs: {1 / per_img:.1f} img/s, {mp / n / per_img:.1f} MP/s, "
        f"{a_per_img / per_img:.2f}x (a), {b_per_img / per_img:.2f}x (b)"
    )
    print(
        f"(d) whole stage on {t_spark['images']:.0f} images: {t_spark['seconds']:.1f} s = {t_spark['fixed']:.1f} s fixed "
        f"(Spark jobs for count, write, audit, commit) + per image; operators inside the worker "
        f"{t_spark['op_per_image'] * 1e3:.2f} ms/image"
    )


if __name__ == "__main__":
    main()
