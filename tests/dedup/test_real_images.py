"""Real near-duplicate images (../shared/data/images): variants cluster, distinct photos do not.

pHashes come from the ``imagehash`` package (DCT pHash, 64 bits) after EXIF transposition, so
this test checks the multi-index + verification + clustering path and the default radius on real
re-encodes, independent of the image engineer's kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_mm.dedup import phash_dedup

imagehash = pytest.importorskip("imagehash")
PIL_Image = pytest.importorskip("PIL.Image")
PIL_ImageOps = pytest.importorskip("PIL.ImageOps")

# Same content, different bytes: encodings, gray, resize, EXIF orientation, an edited pair, and a
# face photo in several resizes / blurred (crops and borders excluded: pHash is not crop-robust).
SAME = {
    "hopper": ["hopper.bmp", "hopper.jpg", "hopper.png", "hopper.webp", "hopper_16bit_qtables.jpg",
               "hopper_gray.jpg", "hopper_orientation_6.jpg", "hopper_resized.gif"],
    "face": ["blur_test_files__original.png", "blur_test_files__blurred.png", "blur_test_files__resize_no.jpg",
             "blur_test_files__resize_keep_ratio.jpg", "blur_test_files__resize_keep_ratio_largest.jpg"],
    "pair": ["dj_img_pair_1.jpg", "dj_img_pair_2.jpg"],
}
DISTINCT = ["dj_blip.jpg", "dj_cat.jpg", "dj_img1.png", "dj_img10.jpg", "dj_img2.jpg", "dj_img3.jpg", "dj_img9.jpg"]


def phash64(path: Path) -> int:
    with PIL_Image.open(path) as im:
        h = imagehash.phash(PIL_ImageOps.exif_transpose(im))
    v = int(str(h), 16)
    return v - (1 << 64) if v >= 1 << 63 else v


@pytest.mark.shared_data
def test_real_variants_cluster_and_distinct_photos_do_not(spark: SparkSession, shared_data: Path) -> None:
    images = shared_data / "images"
    files = {n: images / ("variants" if n.startswith("hopper") else "photos") / n for g in SAME.values() for n in g}
    files.update({n: images / "photos" / n for n in DISTINCT})
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        pytest.skip(f"expected sample images missing: {missing[:3]}")
    rows = [(name, phash64(p)) for name, p in sorted(files.items())]
    df = spark.createDataFrame(rows, "sample_id string, img_phash bigint")
    got = {r["sample_id"]: r for r in phash_dedup(df).signals.collect()}  # default radius
    for group, names in SAME.items():
        clusters = {got[n]["dup_cluster_id"] for n in names}
        assert len(clusters) == 1, f"{group} variants split into {clusters}"
        assert sum(got[n]["dup_keep"] for n in names) == 1
    for n in DISTINCT:
        assert got[n]["dup_cluster_size"] == 1, f"{n} clustered with {got[n]['dup_cluster_id']}"
