"""Dedup steps without Spark: recipe validation against the txt_minhash op, registry, greedy keep."""

from __future__ import annotations

import typing

import pytest

from spark_mm import recipe as recipes
from spark_mm.dedup import METHODS, HammingWithin, JaccardAtLeast, greedy_keep, method_of
from spark_mm.dedup.steps import DedupStep, MinhashDedupStep
from spark_mm.errors import RecipeError


def text_recipe(op: dict, step: dict) -> dict:  # type: ignore[type-arg]
    return {
        "job": "refinedweb",
        "namespace": "t",
        "source": {"type": "jsonl", "path": "/tmp/x.jsonl"},
        "stages": [{"name": "text", "ops": [{"op": "txt_minhash", **op}]}],
        "dedup": [{"name": "near", "method": "minhash", **step}],
    }


def test_key_type_disagreeing_with_its_operator_fails_at_validation() -> None:
    with pytest.raises(RecipeError) as err:
        recipes.from_mapping(text_recipe({"bands": 20, "rows": 4}, {"key_type": "txt_minhash_5g_14x8_s1"}))
    msg = str(err.value)
    assert "dedup[0].key_type" in msg and "expected 'txt_minhash_5g_20x4_s1'" in msg and "stages[0].ops[0]" in msg
    ok = recipes.from_mapping(text_recipe({"bands": 20, "rows": 4}, {"key_type": "txt_minhash_5g_20x4_s1"}))
    assert ok.recipe.dedup[0].scheme.key_type == "txt_minhash_5g_20x4_s1"


def test_scheme_is_derived_from_the_operator_when_key_type_is_left_out() -> None:
    step = recipes.from_mapping(text_recipe({"ngram": 3, "bands": 9, "rows": 5, "seed": 7}, {})).recipe.dedup[0]
    assert (step.scheme.ngram, step.scheme.bands, step.scheme.rows, step.scheme.seed) == (3, 9, 5, 7)
    assert step.scheme.signature_key_type == "txt_minhash_sig:3:7"
    assert step.reads == ("txt_minhash_bands", "txt_minhash_sig")
    with pytest.raises(RecipeError, match="validate the recipe"):
        MinhashDedupStep(name="x", method="minhash").scheme


def test_minhash_step_needs_the_signature_and_a_txt_minhash_column() -> None:
    with pytest.raises(RecipeError, match=r"stages\[0\].ops\[0\].with_signature: true"):
        recipes.from_mapping(text_recipe({"with_signature": False}, {}))
    raw = text_recipe({}, {"column": "url_key"})
    raw["stages"][0]["ops"].insert(0, {"op": "url_key", "url_column": "url"})
    with pytest.raises(RecipeError, match=r"dedup\[0\].column: 'url_key' is written by stages\[0\].ops\[0\] \(url_key\), not txt_minhash"):
        recipes.from_mapping(raw)


def test_registry_covers_every_step_method_with_a_real_version() -> None:
    union = typing.get_args(typing.get_args(DedupStep)[0])
    literals = {typing.get_args(cls.model_fields["method"].annotation)[0] for cls in union}
    assert literals == set(METHODS)
    step = recipes.load("conf/z_image.yaml").recipe.dedup[0]
    assert method_of(step).lineage == "phash@2" and not method_of(step).lineage.endswith("@1")


def test_greedy_keep_removes_only_what_duplicates_a_kept_member() -> None:
    # a~b (1 bit), b~c (2 bits), a-c 3 bits apart: radius 2 keeps a and c, removes b.
    got = greedy_keep(["a", "b", "c"], [0b000, 0b001, 0b111], [False] * 3, HammingWithin(2))
    assert got == [(True, None), (False, "in_run"), (True, None)]
    # A history hit is removed and never kept, so it removes nothing else.
    got = greedy_keep(["a", "b"], [0, 0], [True, False], HammingWithin(0))
    assert got == [(False, "history"), (True, None)]
    # max_signal order: the best score is kept first; nulls come last.
    sig = [bytes(range(8)), bytes(range(8)), bytes(8)]
    got = greedy_keep(["a", "b", "c"], sig, [False] * 3, JaccardAtLeast(0.9), scores=[0.1, 0.9, None])
    assert got == [(False, "in_run"), (True, None), (True, None)]
