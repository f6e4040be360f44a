"""txt_edu_score on a tiny random-weight BERT regression head saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from spark_mm.ops.model_edu import TxtEduScore, TxtEduScoreParams, int_score  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cell", "energy", "photosynthesis", "buy", "now", "cheap", "##s", "lesson", "."]


@pytest.fixture(scope="module")
def tiny_edu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("edu")
    (d / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(d / "vocab.txt"), model_max_length=512)
    cfg = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=600, num_labels=1, problem_type="regression", initializer_range=0.5,  # spreads the logits over several int_scores
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg).eval()
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _direct(d: Path, text: str) -> float:
    """FineWeb-Edu's published scoring loop, one text at a time."""
    tok = transformers.AutoTokenizer.from_pretrained(str(d))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(d)).eval()
    inputs = tok(text, return_tensors="pt", padding="longest", truncation=True)
    with torch.no_grad():
        return float(model(**inputs).logits.squeeze(-1).float().cpu().numpy().item())


TEXTS = [
    "photosynthesis cell energy lesson .",
    "buy cheap now now",
    "the cell s energy",
    "lesson",
    " ".join(["energy cell"] * 400),  # 800 words: truncated to 512 tokens
    "cheap cheap buy . the lesson photosynthesis",
]


def test_matches_direct_transformers_call_batched_and_bucketed(tiny_edu_dir: Path) -> None:
    # max_batch_tokens=512 forces several length buckets in one chunk, rows in input order
    op = TxtEduScore(TxtEduScoreParams(weights={"path": str(tiny_edu_dir)}, device="cpu", max_batch_tokens=512))  # type: ignore[arg-type]
    res = op.transform(pa.record_batch({"txt_content": pa.array([*TEXTS, None, ""], pa.string())})).columns
    scores = res.column("txt_edu_score").to_pylist()
    ints = res.column("txt_edu_int_score").to_pylist()
    want = [_direct(tiny_edu_dir, t) for t in TEXTS]
    assert scores[:-2] == pytest.approx(want, abs=1e-4)
    assert ints[:-2] == [int(round(max(0, min(s, 5)))) for s in want]
    assert scores[-2:] == [None, None] and ints[-2:] == [None, None]
    assert len(set(ints[:-2])) >= 2, "the tiny head should spread scores over several int_scores"


def test_input_is_truncated_to_512_tokens(tiny_edu_dir: Path) -> None:
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny_edu_dir))
    long = " ".join(["energy"] * 700)
    ids = tok(long, truncation=True, max_length=512)["input_ids"]
    first = tok.decode(ids[1:-1])
    op = TxtEduScore(TxtEduScoreParams(weights={"path": str(tiny_edu_dir)}, device="cpu"))  # type: ignore[arg-type]
    got = op.transform(pa.record_batch({"txt_content": [long, first]})).columns.column("txt_edu_score").to_pylist()
    assert got[0] == pytest.approx(got[1], abs=1e-5)


def test_int_score_rounds_like_python_round() -> None:
    assert [int_score(s) for s in (2.5, 3.5, 0.5, 4.5, 1.5)] == [2, 4, 0, 4, 2]
    assert [int_score(s) for s in (-0.7, 2.4999, 2.5001, 5.6)] == [0, 2, 3, 5]


def test_missing_model_skips_with_null_columns(tmp_path: Path) -> None:
    op = TxtEduScore(TxtEduScoreParams(weights={"path": str(tmp_path / "none"), "on_missing": "skip", "allow_download": False}))  # type: ignore[arg-type]
    out = op.transform(pa.record_batch({"txt_content": ["lesson"]})).columns
    assert out.column(0).to_pylist() == [None] and out.column(1).to_pylist() == [None]
