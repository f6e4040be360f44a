"""Recipe validation: bad recipes fail fast, naming the key and the accepted values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spark_mm import recipe as recipes
from spark_mm.errors import RecipeError

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
        assert loaded.recipe.stages or loaded.recipe.links, path  # laion_links.yaml: a links-only phase
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
