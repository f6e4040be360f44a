"""txt_perplexity against hand-computed KenLM scores and CCNet's normalisation rules.

The test writes KenLM ARPA files by hand (unigrams and bigrams with chosen log10 probabilities and
backoffs) and trains SentencePiece models in the test: a ``word`` model, whose pieces are the
words themselves so every expected perplexity is computed by hand below, and a ``unigram`` model
(CCNet's kind), checked against an independent bigram backoff scorer written here.
"""

from __future__ import annotations

import io
import pickle
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

kenlm = pytest.importorskip("kenlm")
spm = pytest.importorskip("sentencepiece")

from spark_mm.engine.model_cache import MODEL_CACHE  # noqa: E402
from spark_mm.errors import RecipeError, WeightsNotFound  # noqa: E402
from spark_mm.models import ccnet  # noqa: E402
from spark_mm.ops.model_perplexity import TxtPerplexity, TxtPerplexityParams  # noqa: E402

# log10 p and backoff of each unigram; log10 p of each bigram (pieces of the word model).
UNIGRAMS = {
    "<unk>": (-1.0, 0.0), "<s>": (-99.0, -0.5), "</s>": (-0.7, 0.0),
    "▁the": (-0.6, -0.25), "▁cat": (-0.8, -0.3), "▁sat": (-0.9, -0.2), "▁dog": (-1.1, -0.1),
}  # fmt: skip
BIGRAMS = {("<s>", "▁the"): -0.3, ("▁the", "▁cat"): -0.4, ("▁cat", "▁sat"): -0.2, ("▁sat", "</s>"): -0.15}


def write_arpa(path: Path, unigrams: dict[str, tuple[float, float]], bigrams: dict[tuple[str, str], float]) -> Path:
    lines = ["", "\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    lines += [f"{p}\t{w}\t{bo}" for w, (p, bo) in unigrams.items()]
    lines += ["", "\\2-grams:"] + [f"{p}\t{a} {b}" for (a, b), p in bigrams.items()] + ["", "\\end\\", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def train_sp(path: Path, sentences: list[str], **kw: object) -> Path:
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=buf, minloglevel=2, **kw)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    MODEL_CACHE.clear()
    yield
    MODEL_CACHE.clear()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """CCNet's layout: ``en.arpa.bin`` (here ARPA text; KenLM reads either) and ``en.sp.model``."""
    write_arpa(tmp_path / "en.arpa.bin", UNIGRAMS, BIGRAMS)
    train_sp(tmp_path / "en.sp.model", ["the cat sat", "a cat ran", "the dog sat", "a dog ran fast"] * 20,
             model_type="word", vocab_size=10, use_all_vocab=True)  # fmt: skip
    return tmp_path


def _op(model_dir: Path, **kw: object) -> TxtPerplexity:
    params = {"languages": ("en",), "weights": {"path": str(model_dir)}, **kw}
    return TxtPerplexity(TxtPerplexityParams(**params))  # type: ignore[arg-type]


def _run(op: TxtPerplexity, texts: list[str | None], langs: list[str | None]) -> list[dict[str, object]]:
    batch = pa.record_batch({"txt_content": pa.array(texts, pa.string()), "txt_lang": pa.array(langs, pa.string())})
    res = op.apply(batch)
    rows = res.columns.to_pylist()
    errors = res.errors.to_pylist() if res.errors is not None else [None] * len(rows)
    return [{**r, "error": e} for r, e in zip(rows, errors)]


# Hand-computed: log10 p(sentence) with <s> ... </s>, backing off to bo(context) + p(word).
#   "the cat sat":  -0.3 (<s> the) - 0.4 (the cat) - 0.2 (cat sat) - 0.15 (sat </s>)            = -1.05, 4 tokens
#   "the dog sat":  -0.3 + (-0.25 - 1.1) (bo the + dog) + (-0.1 - 0.9) (bo dog + sat) - 0.15    = -2.80, 4 tokens
#   "the catsat":   -0.3 + (-0.25 - 1.0) (bo the + <unk>) + (0.0 - 0.7) (bo <unk> + </s>)        = -2.25, 3 tokens
HAND = {"the cat sat": (-1.05, 4, 1.8), "the dog sat": (-2.80, 4, 5.0), "the catsat": (-2.25, 3, 5.6)}


def test_kenlm_reads_the_hand_written_arpa_as_computed(model_dir: Path) -> None:
    lm = kenlm.Model(str(model_dir / "en.arpa.bin"))
    for text, (log10, _, _) in HAND.items():
        pieces = " ".join("▁" + w for w in text.split())
        assert lm.score(pieces) == pytest.approx(log10, abs=1e-6), text


def test_perplexity_pinned_against_hand_values(model_dir: Path) -> None:
    texts = ["The cat sat", "  the DOG sat \n", "Thé cät sát", "The cat\nsat"]
    rows = _run(_op(model_dir), texts, ["en"] * 4)
    want = [HAND["the cat sat"], HAND["the dog sat"], HAND["the cat sat"], HAND["the catsat"]]
    for row, (log10, tokens, pp) in zip(rows, want):
        assert row["txt_perplexity_log10"] == pytest.approx(log10, abs=1e-6)
        assert row["txt_perplexity_tokens"] == tokens
        assert row["txt_perplexity"] == pp == round(10 ** (-log10 / tokens), 1)
        assert row["txt_perplexity_reason"] is None and row["error"] is None
    # 10 ** (1.05 / 4) = 1.8302, 10 ** 0.7 = 5.0119, 10 ** 0.75 = 5.6234: one decimal, as CCNet stores it
    assert [r["txt_perplexity"] for r in rows] == [1.8, 5.0, 1.8, 5.6]


def test_newlines_are_removed_before_scoring_as_ccnet_does(model_dir: Path) -> None:
    """CCNet normalises the whole document before SentencePiece; ``\\n`` is a non-printing char, so lines
    are glued (``cat`` + ``sat`` = one unknown piece) and the document is scored as one line."""
    assert ccnet.normalize("The cat\nsat") == "the catsat"
    (row,) = _run(_op(model_dir), ["The cat\nsat"], ["en"])
    assert row["txt_perplexity_tokens"] == 3 and row["txt_perplexity"] == 5.6


def test_document_formula_sums_lines() -> None:
    # DocLM over several tokenised lines: sum of scores over sum of (pieces + 1)
    assert ccnet.document_perplexity([-1.05, -2.80], [4, 4]) == round(10 ** (3.85 / 8), 1) == 3.0
    assert [ccnet.line_length(x) for x in ("▁a ▁b", "▁a", "")] == [3, 2, 1]


def test_null_reasons(model_dir: Path) -> None:
    texts = [None, "the cat sat", "the cat sat", "the cat sat", "  \x00\x07 \n", "the cat sat"]
    langs = ["en", None, "", "de", "en", "en"]
    rows = _run(_op(model_dir), texts, langs)
    assert [r["txt_perplexity_reason"] for r in rows] == ["missing_input", "no_language", "no_language", "no_model", "empty_text", None]
    assert [r["txt_perplexity"] for r in rows] == [None] * 5 + [1.8]
    assert all(r["error"] is None for r in rows)


def test_missing_language_model_under_skip_scores_the_others(model_dir: Path, tmp_path: Path) -> None:
    op = _op(model_dir, languages=("en", "fr"), weights={"path": str(model_dir), "on_missing": "skip"})
    assert op.available_languages == ("en",) and not op.skipped
    rows = _run(op, ["the cat sat", "le chat"], ["en", "fr"])
    assert [r["txt_perplexity"] for r in rows] == [1.8, None]
    assert [r["txt_perplexity_reason"] for r in rows] == [None, "model_missing"]


def test_missing_language_model_under_fail_raises(model_dir: Path) -> None:
    with pytest.raises(WeightsNotFound, match="fr.arpa.bin"):
        _op(model_dir, languages=("en", "fr")).preflight()


def test_no_model_at_all_under_skip(tmp_path: Path) -> None:
    op = _op(tmp_path / "nowhere", weights={"path": str(tmp_path / "nowhere"), "on_missing": "skip"})
    assert op.skipped and "weights=missing" in op.fingerprint()
    rows = _run(op, ["the cat sat", "x", None], ["en", "de", "en"])
    assert [r["txt_perplexity"] for r in rows] == [None, None, None]
    assert [r["txt_perplexity_reason"] for r in rows] == ["model_missing", "no_model", "missing_input"]


def test_explicit_files_per_language(model_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write_arpa(other / "xx.arpa", UNIGRAMS, {**BIGRAMS, ("▁the", "▁dog"): -0.5})
    files = {"xx": {"lm": str(other / "xx.arpa"), "sp": str(model_dir / "en.sp.model")}}
    op = TxtPerplexity(TxtPerplexityParams(models=files))  # type: ignore[arg-type]
    rows = _run(op, ["the dog sat", "the dog sat"], ["xx", "en"])
    # -0.3 - 0.5 (the dog, now a bigram) - 1.0 (bo dog + sat) - 0.15 = -1.95 over 4 tokens
    assert rows[0]["txt_perplexity"] == round(10 ** (1.95 / 4), 1) == 3.1
    assert rows[1]["txt_perplexity_reason"] == "no_model"


def test_fingerprint_carries_every_languages_digest(model_dir: Path, tmp_path: Path) -> None:
    a = _op(model_dir).fingerprint()
    assert _op(model_dir).fingerprint() == a
    write_arpa(model_dir / "en.arpa.bin", UNIGRAMS, {**BIGRAMS, ("▁the", "▁dog"): -0.5})
    MODEL_CACHE.clear()
    from spark_mm.models import weights

    weights._digest_memo.clear()
    assert _op(model_dir).fingerprint() != a
    # where the files are is not what they compute: the same files elsewhere keep the fingerprint
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in ("en.arpa.bin", "en.sp.model"):
        (moved / f).write_bytes((model_dir / f).read_bytes())
    assert _op(moved).fingerprint() == _op(model_dir).fingerprint()


def test_config_errors_name_the_fix() -> None:
    from spark_mm import recipe

    raw = {"job": "j", "namespace": "n", "source": {"type": "jsonl", "path": "/x"}, "tracking": {"enabled": False},
           "stages": [{"name": "t", "ops": [{"op": "txt_lang"}, {"op": "txt_perplexity"}]}]}  # fmt: skip
    with pytest.raises(RecipeError, match="needs `languages`"):
        recipe.validate(raw)
    raw["stages"][0]["ops"][1] = {"op": "txt_perplexity", "languages": ["en"]}  # type: ignore[index]
    with pytest.raises(RecipeError, match="set weights.path"):
        recipe.validate(raw)


def test_model_loads_once_per_worker_and_pickles_without_it(model_dir: Path) -> None:
    op = _op(model_dir)
    _run(op, ["the cat sat"], ["en"])
    clone = pickle.loads(pickle.dumps(op))
    assert clone._model is None
    assert _run(clone, ["the dog sat"], ["en"])[0]["txt_perplexity"] == 5.0
    assert MODEL_CACHE.loads == 1 and MODEL_CACHE.hits == 1


# -- CCNet's kind of tokenizer: a unigram SentencePiece model -------------------------------------

WORDS = "the a cat dog sat ran fast on mat big small red".split()


def ref_score(pieces: list[str], uni: dict[str, tuple[float, float]], bi: dict[tuple[str, str], float]) -> float:
    """Bigram backoff (Katz, as ARPA defines it) with <s> ... </s>; unknown pieces are <unk>."""
    total, ctx = 0.0, "<s>"
    for piece in pieces + ["</s>"]:
        w = piece if piece in uni else "<unk>"
        total += bi[(ctx, w)] if (ctx, w) in bi else uni[ctx][1] + uni[w][0]
        ctx = w
    return total


def test_unigram_sentencepiece_matches_a_reference_backoff_scorer(tmp_path: Path) -> None:
    rng = random.Random(0)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))) for _ in range(300)]
    sp_path = train_sp(tmp_path / "en.sp.model", corpus, model_type="unigram", vocab_size=30, hard_vocab_limit=False)
    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.id_to_piece(i) not in ("<unk>", "<s>", "</s>")]
    uni = {"<unk>": (-2.0, -0.1), "<s>": (-99.0, -0.4), "</s>": (-1.0, 0.0)}
    uni.update({p: (round(-0.5 - rng.random(), 4), round(-rng.random() / 2, 4)) for p in pieces})
    bi = {(a, b): round(-rng.random() / 3, 4) for a in ["<s>", *pieces] for b in [*pieces, "</s>"] if rng.random() < 0.3}
    write_arpa(tmp_path / "en.arpa.bin", uni, bi)
    texts = [" ".join(rng.choice(WORDS + ["Zebra", "naïve", "42"]) for _ in range(rng.randint(1, 30))) for _ in range(40)]
    texts += ["Red CAT\non the mat.", "“Big” dog — ran…"]
    rows = _run(_op(tmp_path), texts, ["en"] * len(texts))
    for text, row in zip(texts, rows):
        toks = sp.encode_as_pieces(ccnet.normalize(text))
        want = ref_score(toks, uni, bi)
        assert row["txt_perplexity_log10"] == pytest.approx(want, abs=1e-4), text
        assert row["txt_perplexity_tokens"] == len(toks) + 1
        assert row["txt_perplexity"] == pytest.approx(round(10 ** (-want / (len(toks) + 1)), 1), abs=0.1 + 1e-9)


# -- normalisation, pinned against CCNet's text_normalizer rules --------------------------------

@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("  Hello World  ", "hello world"),  # strip + lower case
        ("Crème Brûlée à la carte", "creme brulee a la carte"),  # accents: NFD without Mn
        ("０２３４５６７８９ | 0123456789", "000000000 | 0000000000"),  # CCNet's test_numbers
        ("٣ apples, ½ cup", "0 apples, ½ cup"),  # \d is Unicode Nd (Arabic-Indic 3), not No (½)
        ("，。、„”“«»」「《》´∶：？！（）；–—．～’…━〈〉【】％►", ',.,' + '"' * 9 + "'::?!();- - . ~'...-<>[]%-"),  # CCNet's table, less １ (a digit first)
        ("tab\there\nnew\x85line\x7f", "tabherenewline"),  # C0, DEL and C1 controls removed, \t and \n included
        ("İstanbul", "istanbul"),  # lower() gives i + U+0307, a Mn mark, then dropped
        ("ﬁne ｆｕｌｌ", "ﬁne ｆｕｌｌ"),  # no NFKC: ligatures and fullwidth letters stay
        ("\n\t  \n", ""),
    ],
)
def test_normalize_follows_ccnet(raw: str, want: str) -> None:
    assert ccnet.normalize(raw) == want


def test_unicode_punct_table_is_ccnets() -> None:
    # CCNet's tests/test_normalizer.py::test_unicode_punct, same strings
    weird = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％"
    assert ccnet.replace_unicode_punct(weird) == ',.,' + '"' * 10 + "'::?!();- - . ~'...-<>[]%"
    assert set(ccnet.UNICODE_PUNCT) == set(weird) | {"►"}  # the test string covers all but ►


def test_hangul_stays_decomposed() -> None:
    """CCNet's strip_accents never recomposes NFD: Hangul syllables become conjoining jamo."""
    out = ccnet.normalize("한국어")
    assert out == unicodedata.normalize("NFD", "한국어") and len(out) == 8
