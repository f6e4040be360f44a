"""DataComp's image-based filter on planted embeddings whose nearest centroid is known."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import SparkSession

from spark_mm import recipe as recipes
from spark_mm.dedup import METHODS
from spark_mm.dedup.image_based import build_centroids, load_centroids, nearest, target_clusters
from spark_mm.errors import ConfigError, RecipeError
from tests.dedup.conftest import sid

DIM = 8
NS = "imgf"


def centroid_rows() -> list[tuple[int, list[float], bool]]:
    """Six centroids on axes 0-4 and a diagonal; id order differs from row order; targets 10 and 30."""
    eye = np.eye(DIM)
    rows = [(30, eye[3] * 0.9, True), (10, eye[1], True), (0, eye[0] * 0.2, False), (20, eye[2] * 1.1, False), (40, eye[4], False)]
    rows.append((50, (eye[0] + eye[5]) / np.sqrt(2), False))
    return [(i, [float(x) for x in v], t) for i, v, t in rows]


def planted(rng: np.random.Generator) -> tuple[list[tuple[str, list[float] | None]], dict[str, int]]:
    """Samples near one axis (random scale, small noise): the answer is that axis' centroid."""
    axis_to_id = {1: 10, 2: 20, 3: 30, 4: 40}
    rows: list[tuple[str, list[float] | None]] = []
    want: dict[str, int] = {}
    for k in range(80):
        axis = 1 + k % 4
        v = np.zeros(DIM)
        v[axis] = 1.0
        v = (v + 0.05 * rng.normal(size=DIM)) * rng.uniform(0.3, 5.0)
        rows.append((sid(k), [float(x) for x in v]))
        want[sid(k)] = axis_to_id[axis]
    # along axis 0: by cosine centroid 0 (0.2 * e0) is nearest, by DataComp's raw inner product 50 is
    rows.append((sid(900), [3.0] + [0.0] * (DIM - 1)))
    want[sid(900)] = 50
    return rows, want


@pytest.fixture(scope="module")
def tables(spark: SparkSession) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    spark.createDataFrame(centroid_rows(), "centroid_id int, embedding array<float>, is_target boolean").writeTo(
        f"lake.{NS}.centroids"
    ).createOrReplace()
    spark.createDataFrame([(10,), (30,)], "centroid_id long").writeTo(f"lake.{NS}.targets").createOrReplace()


def step_recipe(step: dict) -> dict:  # type: ignore[type-arg]
    return {
        "job": "x",
        "namespace": "t",
        "source": {"type": "jsonl", "path": "/tmp/x.jsonl"},
        "stages": [{"name": "text", "ops": [{"op": "txt_minhash"}]}],
        "dedup": [{"name": "in1k", "method": "image_based", "column": "txt_minhash_bands", "centroids_table": f"{NS}.centroids", **step}],
    }


def test_nearest_centroid_and_target_flag_on_planted_embeddings(spark: SparkSession, tables: None) -> None:
    rows, want = planted(np.random.default_rng(3))
    rows += [(sid(990), None), (sid(991), [0.0] * DIM), (sid(992), []), (sid(993), [float("nan")] * DIM)]
    df = spark.createDataFrame(rows, "sample_id string, img_clip_emb array<float>").repartition(3)
    # parsed and validated as a recipe step (its column must come from an operator), then pointed at the test column
    step = recipes.from_mapping(step_recipe({"target_table": f"{NS}.targets"})).recipe.dedup[0].model_copy(update={"column": "img_clip_emb"})
    assert METHODS["image_based"].lineage == "image_based@1"
    res = METHODS["image_based"].run(step, df, None, None)
    got = {r["sample_id"]: r.asDict() for r in res.signals.collect()}
    assert len(got) == len(rows)  # rows in = rows out
    for s, c in want.items():
        assert got[s]["nearest_centroid"] == c, s
        assert got[s]["in_target"] == (c in (10, 30)) and got[s]["dup_keep"] == (c in (10, 30))
        assert got[s]["dup_reason"] == (None if c in (10, 30) else "not_in_target")
        assert got[s]["dup_cluster_id"] == s and got[s]["dup_cluster_size"] == 1
    for s in (sid(990), sid(991), sid(992), sid(993)):
        assert got[s]["nearest_centroid"] is None and got[s]["in_target"] is None
        assert got[s]["dup_keep"] is False and got[s]["dup_reason"] == "missing_input"
    assert sum(r["dup_keep"] for r in got.values()) == 40 and res.keys.count() == 0
    # the flag column gives the same targets; normalised centroids turn the axis-0 sample to centroid 0
    flagged = load_centroids(spark, f"{NS}.centroids", target_flag_column="is_target")
    listed = load_centroids(spark, f"{NS}.centroids", target_table=f"{NS}.targets")
    assert flagged.targets.tolist() == listed.targets.tolist() == [10, 30] and flagged.ids.tolist() == [0, 10, 20, 30, 40, 50]
    unit = load_centroids(spark, f"{NS}.centroids", target_flag_column="is_target", normalize=True)
    x = np.array([[3.0] + [0.0] * (DIM - 1)], dtype=np.float32)
    assert nearest(x, listed).tolist() == [50] and nearest(x, unit).tolist() == [0]
    # DataComp's target set: the distinct nearest centroids of reference embeddings (its ImageNet-1k)
    ref = spark.createDataFrame([([0.0, 1.0] + [0.0] * 6,), ([0.0, 0.0, 0.0, 2.0] + [0.0] * 4,), ([0.0, 0.9] + [0.0] * 6,)], "e array<float>")
    assert sorted(r[0] for r in target_clusters(ref, listed, embedding_col="e").collect()) == [10, 30]
    wrong = spark.createDataFrame([(sid(1), [1.0, 2.0])], "sample_id string, img_clip_emb array<float>")
    with pytest.raises(Exception, match="do not match the centroids' size 8"):
        METHODS["image_based"].run(step, wrong, None, None).signals.collect()


def test_step_validation_and_bad_centroids() -> None:
    with pytest.raises(RecipeError, match="exactly one"):
        recipes.from_mapping(step_recipe({}))
    with pytest.raises(RecipeError, match="exactly one"):
        recipes.from_mapping(step_recipe({"target_table": "a.b", "target_flag_column": "is_target"}))
    with pytest.raises(ConfigError, match="not in the centroids table"):
        build_centroids([1, 2], [[1.0], [2.0]], {3})
    with pytest.raises(ConfigError, match="not unique"):
        build_centroids([1, 1], [[1.0], [2.0]], set())
    with pytest.raises(ConfigError, match="one non-zero length"):
        build_centroids([1, 2], [[1.0], [2.0, 0.0]], set())
    # ties go to the smallest centroid id
    c = build_centroids([7, 3], [[1.0, 0.0], [1.0, 0.0]], set())
    assert nearest(np.array([[1.0, 0.0]], dtype=np.float32), c).tolist() == [3]
