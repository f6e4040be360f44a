"""txt_fasttext_quality against the fastText model's own predictions.

The test writes a real supervised model file in fastText's binary format (version 12: args,
dictionary, input and output matrices; softmax loss, unigrams, no subwords) and loads it with the
installed ``fasttext`` module, the loader the operator uses: fasttext-predict in the default
install, fasttext-numpy2's files with the ``train`` extra (docs/web_text.md); so it needs no trainer.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

fasttext = pytest.importorskip("fasttext")

from spark_mm.errors import WeightsNotFound  # noqa: E402
from spark_mm.ops.model_fasttext import TxtFasttextQuality, TxtFasttextQualityParams, dclm_text  # noqa: E402

WORDS = ["</s>", "theorem", "proof", "lemma", "click", "buy", "now", "the"]
LABELS = ["__label__hq", "__label__cc"]
DIM = 4


def write_fasttext_model(path: Path, seed: int = 0) -> None:
    """A supervised fastText .bin (format version 12) with random input/output matrices."""
    rng = np.random.default_rng(seed)
    out = bytearray(struct.pack("<ii", 793712314, 12))
    # dim ws epoch minCount neg wordNgrams loss(softmax=3) model(sup=3) bucket minn maxn lrUpdateRate, t
    out += struct.pack("<12i", DIM, 5, 5, 1, 5, 1, 3, 3, 0, 0, 0, 100) + struct.pack("<d", 1e-4)
    entries = [(w, 10, 0) for w in WORDS] + [(lab, 10, 1) for lab in LABELS]
    out += struct.pack("<iiiqq", len(entries), len(WORDS), len(LABELS), 10 * len(entries), -1)
    for word, count, kind in entries:
        out += word.encode() + b"\0" + struct.pack("<qb", count, kind)
    inp = rng.normal(0, 2, (len(WORDS), DIM)).astype("<f4")
    outm = rng.normal(0, 2, (len(LABELS), DIM)).astype("<f4")
    for mat in (inp, outm):
        out += struct.pack("<?qq", False, *mat.shape) + mat.tobytes()
    path.write_bytes(bytes(out))


@pytest.fixture
def ft_model(tmp_path: Path) -> Path:
    path = tmp_path / "quality.bin"
    write_fasttext_model(path)
    return path


def _score(path: Path, texts: list[str | None], **kw: object) -> list[float | None]:
    op = TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": str(path)}, **kw))  # type: ignore[arg-type]
    res = op.transform(pa.record_batch({"txt_content": pa.array(texts, pa.string())}))
    return res.columns.column(op.params.score_column).to_pylist()


TEXTS = ["theorem proof lemma", "click buy now", "the proof\nclick now", "  buy\r\nthe  lemma \n", "theorem"]


def test_scores_match_the_models_own_predict(ft_model: Path) -> None:
    model = fasttext.load_model(str(ft_model))
    got = _score(ft_model, TEXTS)
    tops = set()
    for text, score in zip(TEXTS, got):
        (label,), (prob,) = model.predict(" ".join(text.strip().splitlines()), k=1)
        tops.add(label)
        want = min(prob, 1.0) if label == "__label__hq" else 1.0 - min(prob, 1.0)
        assert score == pytest.approx(want, abs=1e-6), text
    assert tops == set(LABELS), "hand-picked texts should reach both labels, else the 1 - p branch is untested"
    # the other label as positive is the complement, row by row
    other = _score(ft_model, TEXTS, positive_label="__label__cc", score_column="cc")
    assert [a + b for a, b in zip(got, other)] == pytest.approx([1.0] * len(TEXTS), abs=1e-6)


def test_lines_are_joined_with_spaces(ft_model: Path) -> None:
    assert dclm_text("  a\nb\r\nc\u2028d \n") == "a b c d"
    model = fasttext.load_model(str(ft_model))
    multi = "the proof\nclick now"
    (label,), (prob,) = model.predict("the proof click now", k=1)
    (s,) = _score(ft_model, [multi])
    assert s == pytest.approx(prob if label == "__label__hq" else 1 - prob, abs=1e-6)


def test_null_and_blank_texts_give_null_scores(ft_model: Path) -> None:
    assert _score(ft_model, [None, "  \n ", "proof"])[:2] == [None, None]


def test_missing_weights_follow_on_missing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.bin")
    with pytest.raises(WeightsNotFound, match="nope.bin"):
        TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": missing})).preflight()  # type: ignore[arg-type]
    op = TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": missing, "on_missing": "skip"}))  # type: ignore[arg-type]
    assert op.skipped and "weights=missing" in op.fingerprint()
    assert op.transform(pa.record_batch({"txt_content": ["proof"]})).columns.column(0).to_pylist() == [None]


def test_fingerprint_carries_the_weights_digest(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    write_fasttext_model(a, seed=0)
    write_fasttext_model(b, seed=1)
    fp = [TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": str(p)})).fingerprint() for p in (a, b)]  # type: ignore[arg-type]
    assert fp[0] != fp[1]


def test_two_classifiers_in_one_stage(tmp_path: Path) -> None:
    from spark_mm.engine.plan import StagePlan, apply_ops
    from spark_mm.ops.base import Resource

    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    write_fasttext_model(a, seed=0)
    write_fasttext_model(b, seed=1)
    plan = StagePlan("text", (
        TxtFasttextQualityParams(weights={"path": str(a)}, score_column="q_a"),  # type: ignore[arg-type]
        TxtFasttextQualityParams(weights={"path": str(b)}, score_column="q_b"),  # type: ignore[arg-type]
    ), Resource.CPU)  # fmt: skip
    batch = pa.record_batch({"sample_id": ["s1", "s2"], "txt_content": ["theorem proof", "click buy now"]})
    out = apply_ops("text", plan.operators(), batch, plan.output_schema(), "r1").to_pylist()
    assert [r["q_a"] for r in out] == pytest.approx(_score(a, ["theorem proof", "click buy now"]))
    assert [r["q_b"] for r in out] == pytest.approx(_score(b, ["theorem proof", "click buy now"]))
    assert [r["q_a"] for r in out] != pytest.approx([r["q_b"] for r in out])


def test_operator_pickles_without_its_model(ft_model: Path) -> None:
    import pickle

    op = TxtFasttextQuality(TxtFasttextQualityParams(weights={"path": str(ft_model)}))  # type: ignore[arg-type]
    want = _score(ft_model, ["theorem proof"])
    op.setup()
    clone = pickle.loads(pickle.dumps(op))  # what Spark ships to a worker
    assert clone._model is None
    got = clone.transform(pa.record_batch({"txt_content": ["theorem proof"]})).columns.column(0).to_pylist()
    assert got == pytest.approx(want)
