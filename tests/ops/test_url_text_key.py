"""``url_text_key``: one key per (canonical image URL, normalised alt text); its dedup step in a recipe."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spark_mm import recipe as recipes
from spark_mm.errors import RecipeError
from spark_mm.ops.dedup_keys import UrlKey, UrlKeyParams, UrlTextKey, UrlTextKeyParams, normalize_pair_text


def keys(urls: list[str | None], texts: list[str | None]) -> list[bytes | None]:
    batch = pa.RecordBatch.from_pydict({"url": pa.array(urls, pa.string()), "caption": pa.array(texts, pa.string())})
    return UrlTextKey(UrlTextKeyParams()).transform(batch).columns.column("url_text_key").to_pylist()


def test_equal_pairs_share_a_key_and_others_do_not() -> None:
    k = keys(
        ["https://A.example/x.jpg", "http://a.example:80/x.jpg#top", "https://a.example/x.jpg", "https://a.example/x.jpg", "https://a.example/y.jpg"],
        ["a red  fox", " a red fox\n", "A red fox", "a red fox!", "a red fox"],
    )
    assert all(isinstance(v, bytes) and len(v) == 16 for v in k)
    assert k[0] == k[1]  # scheme, host case, default port, fragment, whitespace: the same pair
    assert len({k[0], k[2], k[3], k[4]}) == 4  # case, punctuation and another URL differ


def test_unicode_forms_are_one_pair() -> None:
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    assert normalize_pair_text(decomposed) == composed
    a, b = keys(["https://a.example/c.jpg"] * 2, [composed, decomposed])
    assert a == b


def test_halves_cannot_run_into_each_other() -> None:
    # the URL half is a fixed 16-byte key, so moving characters between URL and text changes the key
    a, b = keys(["https://a.example/ab", "https://a.example/a"], ["c", "bc"])
    assert a != b


def test_missing_halves_give_null_keys() -> None:
    assert keys([None, "https://a.example/x.jpg", "/relative/only.jpg"], ["a cat", None, "a cat"]) == [None, None, None]


def test_not_the_url_key() -> None:
    batch = pa.RecordBatch.from_pydict({"url": ["https://a.example/x.jpg"], "caption": ["a cat"]})
    url_only = UrlKey(UrlKeyParams()).transform(batch).columns.column(0).to_pylist()
    assert keys(["https://a.example/x.jpg"], ["a cat"]) != url_only


def test_dedup_step_needs_the_operator() -> None:
    raw = {
        "job": "t", "namespace": "t", "source": {"type": "parquet", "path": "/data/x.parquet", "image_column": "image"},
        "stages": [{"name": "cpu", "ops": [{"op": "url_text_key"}]}],
        "dedup": [{"name": "pairs", "method": "url_text"}],
    }
    step = recipes.validate(raw).dedup[0]
    assert (step.method, step.column) == ("url_text", "url_text_key")
    raw["stages"][0]["ops"] = [{"op": "url_key"}]
    with pytest.raises(RecipeError, match=r"dedup\[0\] \(url_text\) reads \['url_text_key'\].*url_text_key"):
        recipes.validate(raw)
