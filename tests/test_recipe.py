"""Recipe validation: bad recipes fail fast, naming the key and the accepted values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spark_mm import recipe as recipes
from spark_mm.errors import ConfigError, RecipeError
from spark_mm.lake.settings import LakeSettings, SparkSettings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def base() -> dict[str, Any]:
    return {
        "job": "z_image",
        "namespace": "t",
        "source": {"type": "parquet", "path": "/data/x.parquet", "image_column": "image"},
        "stages": [{"name": "cpu", "ops": [{"op": "img_meta", "max_pixels": 1000}]}],
    }


def test_shipped_recipes_validate() -> None:
    for path in sorted((REPO / "conf").glob("*.yaml")):
        loaded = recipes.load(path)
        # laion_links.yaml: a links-only phase; download.yaml: the download alone (source image_links)
        assert loaded.recipe.stages or loaded.recipe.links or loaded.recipe.source.type == "image_links", path
        assert len(loaded.sha256) == 64


def test_valid_recipe_parses_to_typed_params() -> None:
    r = recipes.validate(base())
    op = r.stages[0].ops[0]
    assert op.op == "img_meta" and op.max_pixels == 1000 and op.max_bytes == 64 * 1024 * 1024
    assert r.lake.catalog == "lake" and r.spark.master == "local[*]"


def test_unknown_operator_names_key_and_accepted_ops() -> None:
    raw = base()
    raw["stages"][0]["ops"][0] = {"op": "img_metta"}
    with pytest.raises(RecipeError) as err:
        recipes.validate(raw)
    assert "stages[0].ops[0]" in str(err.value)
    assert "'img_metta'" in str(err.value) and "img_meta" in str(err.value)


def test_unknown_parameter_names_key_and_accepted_keys() -> None:
    raw = base()
    raw["stages"][0]["ops"][0]["max_pixel"] = 5
    with pytest.raises(RecipeError, match=r"stages\[0\]\.ops\[0\]\.max_pixel: unknown key; accepted keys here: .*max_pixels"):
        recipes.validate(raw)


def test_mistyped_parameter() -> None:
    raw = base()
    raw["stages"][0]["ops"][0]["max_pixels"] = "lots"
    with pytest.raises(RecipeError, match=r"stages\[0\]\.ops\[0\]\.max_pixels: .*'lots'"):
        recipes.validate(raw)
    raw["stages"][0]["ops"][0]["max_pixels"] = -1
    with pytest.raises(RecipeError, match=r"max_pixels: Input should be greater than 0"):
        recipes.validate(raw)


def test_missing_required_keys() -> None:
    raw = base()
    del raw["namespace"]
    with pytest.raises(RecipeError, match=r"namespace: required key is missing"):
        recipes.validate(raw)
    raw = base()
    del raw["source"]["path"]
    with pytest.raises(RecipeError, match=r"source\.path: required key is missing"):
        recipes.validate(raw)


def test_unknown_source_type_lists_accepted() -> None:
    raw = base()
    raw["source"] = {"type": "csv", "path": "x"}
    with pytest.raises(RecipeError, match=r"source: unknown .*'csv'.*parquet"):
        recipes.validate(raw)


def test_unknown_top_level_key() -> None:
    raw = base()
    raw["stagess"] = []
    with pytest.raises(RecipeError, match=r"stagess: unknown key; accepted keys here: .*stages"):
        recipes.validate(raw)


def test_duplicate_stage_names_rejected() -> None:
    raw = base()
    raw["stages"].append(raw["stages"][0])
    with pytest.raises(RecipeError, match="stage names must be unique"):
        recipes.validate(raw)


def test_operator_input_must_exist() -> None:
    raw = base()
    raw["stages"][0]["ops"][0]["image_column"] = "picture"
    with pytest.raises(RecipeError, match=r"stages\[0\]\.ops\[0\] \(img_meta\) reads \['picture'\]"):
        recipes.validate(raw)


def test_overrides_apply_typed_values() -> None:
    out = recipes.apply_overrides(base(), ["namespace=other", "stages.0.ops.0.max_pixels=42", "lake.buckets=8", "spark.conf.spark.x=1"])
    assert out["namespace"] == "other"
    assert out["stages"][0]["ops"][0]["max_pixels"] == 42
    assert out["lake"] == {"buckets": 8}
    assert out["spark"]["conf"] == {"spark.x": "1"}
    r = recipes.validate(out)
    assert r.lake.buckets == 8


def test_bad_overrides_fail_clearly() -> None:
    with pytest.raises(RecipeError, match="expected key=value"):
        recipes.apply_overrides(base(), ["namespace"])
    with pytest.raises(RecipeError, match="index 3 out of range"):
        recipes.apply_overrides(base(), ["stages.3.name=x"])


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="recipe file not found"):
        recipes.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("job: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        recipes.load(bad)


def test_bad_words_list_missing_fails_at_recipe_validation(tmp_path) -> None:
    raw = base()
    raw["stages"][0]["ops"][0] = {"op": "txt_c4_badwords", "bad_words_files": {"en": str(tmp_path / "nope")}}
    with pytest.raises(RecipeError, match=r"stages\[0\]\.ops\[0\].*bad_words_files\.en: .* is not a file.*bad_words_files: \{en:"):
        recipes.validate(raw)


def test_set_file_entries_apply_like_set(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text("# from spark-mm suggest\nstages.0.ops.0.max_pixels: 500\nspark.conf.spark.sql.shuffle.partitions: 8\n")
    overrides = recipes.read_set_file(f)
    assert overrides == ["stages.0.ops.0.max_pixels=500", "spark.conf.spark.sql.shuffle.partitions=8"]
    r = recipes.validate(recipes.apply_overrides(base(), overrides))
    assert r.stages[0].ops[0].max_pixels == 500 and r.spark.conf["spark.sql.shuffle.partitions"] == "8"


@pytest.mark.parametrize("text, message", [("- a\n- b\n", "expected a mapping"), ("a: [1\n", "not valid YAML"), ("1: 2\n", "not a dotted key")])
def test_bad_set_file_fails_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(RecipeError, match=message):
        recipes.read_set_file(f)
    with pytest.raises(RecipeError, match="file not found"):
        recipes.read_set_file(tmp_path / "missing.yaml")


def _stage_fingerprints(loaded: recipes.LoadedRecipe) -> list[str]:
    from spark_mm.engine.fingerprint import stage_fingerprint
    from spark_mm.ops import registry

    return [stage_fingerprint([registry.build(p).fingerprint() for p in s.ops], {}).digest for s in loaded.recipe.stages]


def test_load_keeps_the_file_text_and_overrides_without_changing_digests(tmp_path: Path) -> None:
    import hashlib

    import yaml

    text = "# tuned by hand: ünïcode – and a comment\n" + yaml.safe_dump(base(), sort_keys=False)
    f = tmp_path / "r.yaml"
    f.write_text(text)
    plain = recipes.load(f)
    assert plain.source_text == plain.text == text and plain.overrides == ()
    assert plain.sha256 == hashlib.sha256(text.encode()).hexdigest()  # the file's bytes, as before
    overrides = ["stages.0.ops.0.max_pixels=42", "namespace=other"]
    tuned = recipes.load(f, overrides)
    assert tuned.source_text == text and tuned.overrides == tuple(overrides) and tuned.source_path == str(f)
    # The digest and the stage fingerprints are those of the overridden recipe, exactly as before
    # the file text was kept: the dump of the overridden mapping, and the same as from_mapping's.
    dumped = yaml.safe_dump(recipes.apply_overrides(yaml.safe_load(text), overrides), sort_keys=False)
    assert tuned.text == dumped and tuned.sha256 == hashlib.sha256(dumped.encode()).hexdigest()
    in_code = recipes.from_mapping(yaml.safe_load(text), overrides)
    assert in_code.sha256 == tuned.sha256 and in_code.overrides == tuple(overrides) and in_code.source_text is None
    assert _stage_fingerprints(tuned) == _stage_fingerprints(in_code) != _stage_fingerprints(plain)
    assert tuned.recipe.stages[0].ops[0].max_pixels == 42


@pytest.mark.parametrize("key", ["s3.secret-access-key", "s3.access-key-id", "credential", "token", "jdbc.password"])
def test_credentials_are_refused_in_recipes_without_echoing_them(key: str) -> None:
    """Recipes and --set are hashed into lineage and printed in reports: secrets come from the
    environment or spark-submit --conf, and the error never repeats the value."""
    with pytest.raises(RecipeError) as err:
        recipes.load(REPO / "conf" / "z_image.yaml", [f"lake.properties.{key}=hunter2-value"])
    assert "is a credential" in str(err.value) and "AWS_SECRET_ACCESS_KEY" in str(err.value)
    assert "hunter2-value" not in str(err.value)
    with pytest.raises(ConfigError) as err2:
        parse_settings(LakeSettings, {"properties": {key: "hunter2-value"}}, "lake")
    assert "is a credential" in str(err2.value) and "hunter2-value" not in str(err2.value)


@pytest.mark.parametrize("key", ["spark.sql.catalog.lake.s3.secret-access-key", "spark.hadoop.fs.s3a.access.key", "spark.sql.catalog.lake.credential", "spark.sql.catalog.lake.token"])
def test_credentials_are_refused_in_spark_conf_without_echoing_them(key: str) -> None:
    """The same rule for ``spark.conf``: it is part of the recipe, so it is hashed and shown too."""
    with pytest.raises(RecipeError) as err:
        recipes.load(REPO / "conf" / "z_image.yaml", [f"spark.conf.{key}=hunter2-value"])
    assert "is a credential" in str(err.value) and "spark-submit --conf" in str(err.value)
    assert "hunter2-value" not in str(err.value)
    with pytest.raises(ConfigError) as err2:
        parse_settings(SparkSettings, {"conf": {key: "hunter2-value"}}, "spark")
    assert "is a credential" in str(err2.value) and "hunter2-value" not in str(err2.value)


def test_cluster_recipe_is_z_image_on_a_cluster_without_credentials() -> None:
    """conf/cluster.yaml: the z_image stages on a REST catalog, an s3:// warehouse and a tracking
    server; nothing in it (key or value) is a credential."""
    import re

    import yaml

    from spark_mm.report.mlflow_log import flatten

    cluster, z_image = recipes.load(REPO / "conf" / "cluster.yaml").recipe, recipes.load(REPO / "conf" / "z_image.yaml").recipe
    assert cluster.stages == z_image.stages and cluster.dedup == z_image.dedup and cluster.job == "z_image"
    assert cluster.lake.type.value == "rest" and cluster.lake.uri.startswith("http") and cluster.lake.warehouse.startswith("s3://")
    assert cluster.lake.uses_s3() and cluster.spark.master.startswith("spark://") and cluster.spark.conf["spark.executor.cores"]
    assert cluster.tracking.enabled and cluster.tracking.mlflow_uri.startswith("http://")
    text = (REPO / "conf" / "cluster.yaml").read_text()
    secret = re.compile(r"secret|password|token|credential|access[-._]?key", re.IGNORECASE)
    for key, value in flatten(yaml.safe_load(text)):
        assert not secret.search(key) and not secret.search(value), key
    assert not re.search(r"AKIA[0-9A-Z]{12,}|://[^/\s:]+:[^@/\s]+@", text)  # no AWS key ids, no user:password@ in URLs
