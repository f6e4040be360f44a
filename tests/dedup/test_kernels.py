"""Dedup kernels and operators on Arrow data (no Spark): LSH S-curve, estimates, multi-index."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from spark_mm import _native
from spark_mm.ops.dedup_keys import ImgExactKey, ImgExactKeyParams, UrlKey, UrlKeyParams
from spark_mm.ops.dedup_minhash import TxtMinhash, TxtMinhashParams
from spark_mm.ops.registry import operators
from tests.dedup.conftest import mutate, random_doc, shingles


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str, float]]:
    """1,600 document pairs spanning Jaccard 0..1, with their exact 5-gram shingle Jaccard."""
    rng = random.Random(7)
    out = []
    for i in range(1600):
        base = random_doc(rng, 200)
        target = rng.uniform(0.05, 1.0)  # aim at a uniform spread of Jaccard values
        frac = 1 - (2 * target / (1 + target)) ** (1 / 5)
        a, b = " ".join(base), " ".join(mutate(rng, base, frac))
        out.append((a, b, jaccard(shingles(a), shingles(b))))
    return out


def minhash(texts: list[str], bands: int = 14, rows: int = 8, sig: bool = False) -> pa.StructArray:
    return pa.array(_native.txt_minhash(pa.array(texts), ngram=5, bands=bands, rows=rows, seed=1, with_signature=sig))


def test_lsh_candidate_rate_follows_the_s_curve(pairs: list[tuple[str, str, float]]) -> None:
    bands, rows = 14, 8
    a = minhash([p[0] for p in pairs]).field("bands").to_pylist()
    b = minhash([p[1] for p in pairs]).field("bands").to_pylist()
    hit = [bool(set(x) & set(y)) for x, y in zip(a, b)]
    bins: dict[int, list[tuple[bool, float]]] = {}
    for (_, _, s), h in zip(pairs, hit):
        bins.setdefault(int(s * 10), []).append((h, 1 - (1 - s**rows) ** bands))
    checked = 0
    for k, v in sorted(bins.items()):
        if len(v) < 60:
            continue
        empirical = sum(h for h, _ in v) / len(v)
        theory = sum(t for _, t in v) / len(v)
        assert abs(empirical - theory) < 0.08, f"Jaccard bin {k / 10:.1f}: {empirical:.3f} vs theory {theory:.3f}"
        checked += 1
    assert checked >= 4
    # Recall / precision against exact Jaccard around FineWeb's ~0.75 threshold.
    high = [h for (_, _, s), h in zip(pairs, hit) if s >= 0.9]
    low = [h for (_, _, s), h in zip(pairs, hit) if s <= 0.4]
    assert len(high) > 50 and len(low) > 50
    assert sum(high) / len(high) >= 0.97
    assert sum(low) / len(low) <= 0.02


def test_signature_estimates_jaccard(pairs: list[tuple[str, str, float]]) -> None:
    import numpy as np

    sub = pairs[:400]
    sa = minhash([p[0] for p in sub], bands=16, rows=8, sig=True).field("signature").to_pylist()
    sb = minhash([p[1] for p in sub], bands=16, rows=8, sig=True).field("signature").to_pylist()
    err = [
        abs(float(np.mean(np.frombuffer(x, "<u4") == np.frombuffer(y, "<u4"))) - s) for x, y, (_, _, s) in zip(sa, sb, sub)
    ]
    assert float(np.mean(err)) < 0.04
    assert max(err) < 0.2


def test_multi_index_recall_is_exactly_one_within_radius() -> None:
    rng = random.Random(3)
    for radius in (1, 3, 4, 6, 10):
        a, b = [], []
        for _ in range(3000):
            h = rng.getrandbits(64)
            g = h
            for bit in rng.sample(range(64), rng.randint(0, radius)):
                g ^= 1 << bit
            a.append(h - (1 << 64) if h >= 1 << 63 else h)
            b.append(g - (1 << 64) if g >= 1 << 63 else g)
        ka = pa.array(_native.phash_band_keys(pa.array(a, pa.int64()), radius=radius)).to_pylist()
        kb = pa.array(_native.phash_band_keys(pa.array(b, pa.int64()), radius=radius)).to_pylist()
        assert all(len(x) == radius + 1 for x in ka)
        assert all(set(x) & set(y) for x, y in zip(ka, kb)), f"radius {radius}: a pair within radius shares no band"


def test_multi_index_is_selective_beyond_radius() -> None:
    rng = random.Random(5)
    hs = [rng.getrandbits(63) for _ in range(2000)]
    keys = pa.array(_native.phash_band_keys(pa.array(hs, pa.int64()), radius=4)).to_pylist()
    shared = sum(bool(set(keys[i]) & set(keys[i + 1])) for i in range(0, 2000, 2))
    assert shared <= 5  # random 64-bit hashes: ~5 * 2^-13 per pair


def test_minhash_operator_schema_and_nulls() -> None:
    assert TxtMinhashParams().with_signature  # dedup history stores signatures
    op = TxtMinhash(TxtMinhashParams(text_column="txt_content"))
    batch = pa.record_batch({"txt_content": ["The cat sat on the mat today.", None, "!!!", "the CAT sat on the mat, today"]})
    res = op.apply(batch)
    cols = res.columns.to_pydict()
    assert len(cols["txt_minhash_bands"][0]) == 14
    assert cols["txt_minhash_bands"][1] is None and cols["txt_minhash_bands"][2] is None
    assert cols["txt_minhash_bands"][0] == cols["txt_minhash_bands"][3]
    assert cols["txt_exact_key"][0] == cols["txt_exact_key"][3] and len(cols["txt_exact_key"][0]) == 16
    assert len(cols["txt_minhash_sig"][0]) == 112 * 4
    assert TxtMinhashParams().key_type == "txt_minhash_5g_14x8_s1"


def test_key_operators() -> None:
    img = ImgExactKey(ImgExactKeyParams()).apply(pa.record_batch({"image": pa.array([b"abc", b"abc", b"abd", None], pa.binary())}))
    k = img.columns.column(0).to_pylist()
    assert k[0] == k[1] != k[2] and k[3] is None
    url = UrlKey(UrlKeyParams()).apply(pa.record_batch({"url": ["http://A.org/x#1", "https://a.org/x", "https://a.org/y"]}))
    u = url.columns.column(0).to_pylist()
    assert u[0] == u[1] != u[2]
    assert {"txt_minhash", "img_exact_key", "url_key"} <= set(operators())
    # One writer per column: txt_minhash writes txt_exact_key, pHash bands are cut by the phash step.
    assert not {"txt_exact_key", "img_phash_bands"} & set(operators())


def test_normalisation_matches_the_documented_steps() -> None:
    out = pa.array(_native.txt_dedup_normalize(pa.array(["  Héllo,\tWORLD!! 1999 — ok ", None]))).to_pylist()
    assert out == ["hello world 0 ok", None]
    with pytest.raises(_native.NativeError):
        _native.txt_minhash(pa.array(["x"]), ngram=0, bands=1, rows=1, seed=1, with_signature=False)
