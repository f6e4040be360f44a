"""Text filters pinned on constructed documents: every reason code and threshold boundaries."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from spark_mm import _native
from spark_mm.ops.registry import build, operators
from spark_mm.ops.text_rules import (
    C4BadWordsReason,
    C4Reason,
    FinewebReason,
    GopherQualityReason,
    GopherRepetitionReason,
    LengthReason,
    LineCorrectionsReason,
    TxtC4BadWordsParams,
    TxtC4Params,
    TxtFinewebParams,
    TxtGopherQualityParams,
    TxtGopherRepetitionParams,
    TxtLengthParams,
    TxtLineCorrectionsParams,
    TxtPiiParams,
)


def decide(params, texts: list[str | None]) -> list[tuple[bool | None, str | None]]:
    op = build(params)
    out = op.apply(pa.RecordBatch.from_arrays([pa.array(texts, pa.string())], names=["txt_content"]))
    return list(zip(out.columns.column(f"{op.name}_ok").to_pylist(), out.columns.column(f"{op.name}_reason").to_pylist()))


def one(params, text: str) -> str | None:
    ((ok, reason),) = decide(params, [text])
    assert ok == (reason is None)
    return reason


def words_doc(n: int, word: str = "house", stops: str = "the with") -> str:
    """``n`` non-symbol words: the stop words plus fillers, one sentence per 10 words."""
    ws = stops.split() + [word] * (n - len(stops.split()))
    return " ".join(w + ("." if i % 10 == 9 else "") for i, w in enumerate(ws))


GQ = TxtGopherQualityParams()


class TestGopherQuality:
    def test_word_count_boundaries(self) -> None:
        assert one(GQ, words_doc(50)) is None
        assert one(GQ, words_doc(49)) == GopherQualityReason.SHORT_DOC
        small = TxtGopherQualityParams(max_doc_words=60)
        assert one(small, words_doc(60)) is None
        assert one(small, words_doc(61)) == GopherQualityReason.LONG_DOC

    def test_mean_word_length_boundaries(self) -> None:
        # stop words "the"(3) "with"(4); fillers chosen so the mean lands on the threshold
        assert one(GQ, words_doc(60, word="abc", stops="the and")) is None  # mean exactly 3
        assert one(GQ, words_doc(60, word="ab", stops="the and")) == GopherQualityReason.BELOW_AVG
        exact10 = " ".join(["the", "and"] + ["abcdefghijklmnop"] * 1 + ["abcdefghij"] * 57)
        # (3+3+16+570)/60 = 9.87 passes; longer fillers push it over 10
        assert one(GQ, exact10 + ".") is None
        assert one(GQ, " ".join(["the", "and"] + ["abcdefghijk"] * 58)) == GopherQualityReason.ABOVE_AVG

    def test_symbol_ratios(self) -> None:
        base = words_doc(90)  # 90 words + 9 periods = 99 tokens
        # "#" is its own token: 10 hashes / 109 tokens passes, 12 / 111 fails (> 0.1)
        assert one(GQ, base + " #" * 10) is None
        assert one(GQ, base + " #" * 12) == GopherQualityReason.TOO_MANY_HASHES
        assert one(GQ, base + " ..." * 12) == GopherQualityReason.TOO_MANY_ELLIPSIS

    def test_line_ratios(self) -> None:
        line = "the houses with gardens and doors"
        nine_of_ten = "\n".join([f"- {line}"] * 9 + [line]) + "\n" + words_doc(50)
        assert one(GQ, nine_of_ten) is None  # 9 of 11 lines
        all_bullets = "\n".join(f"• {line} {i}" for i in range(12))
        assert one(GQ, all_bullets) == GopherQualityReason.TOO_MANY_BULLETS
        three_of_ten = "\n".join([f"{line}..."] * 3 + [line] * 7)
        assert one(TxtGopherQualityParams(max_symbol_word_ratio=None), three_of_ten) is None
        four_of_ten = "\n".join([f"{line}..."] * 4 + [line] * 6)
        assert one(TxtGopherQualityParams(max_symbol_word_ratio=None), four_of_ten) == GopherQualityReason.TOO_MANY_END_ELLIPSIS

    def test_alpha_and_stop_words(self) -> None:
        # 80 words with letters of 100 tokens passes; 79 fails
        alpha = " ".join(["the", "with"] + ["house"] * 78 + ["1234"] * 20)
        assert one(GQ, alpha) is None
        assert one(GQ, " ".join(["the", "with"] + ["house"] * 77 + ["1234"] * 21)) == GopherQualityReason.BELOW_ALPHA
        assert one(GQ, words_doc(60, stops="the")) == GopherQualityReason.NOT_ENOUGH_STOP_WORDS
        # case-sensitive, as in the reference: "The" is not "the"
        assert one(GQ, words_doc(60, stops="The With")) == GopherQualityReason.NOT_ENOUGH_STOP_WORDS

    def test_signals_and_null_rows(self) -> None:
        op = build(GQ)
        out = op.apply(pa.RecordBatch.from_arrays([pa.array([words_doc(50, word="abcde"), None])], names=["txt_content"]))
        assert out.columns.column("txt_gopher_quality_n_words").to_pylist() == [50, None]
        assert out.columns.column("txt_gopher_quality_mean_word_len").to_pylist()[0] == pytest.approx((3 + 4 + 48 * 5) / 50)
        assert out.columns.column("txt_gopher_quality_ok").to_pylist() == [True, False]
        assert out.columns.column("txt_gopher_quality_reason").to_pylist() == [None, GopherQualityReason.MISSING_INPUT]
        assert out.errors is None  # a null text is txt_extract's reason, not an error of every rule


GR = TxtGopherRepetitionParams()


def varied(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}x" for i in range(n))


class TestGopherRepetition:
    def test_every_reason(self) -> None:
        assert one(GR, "") == GopherRepetitionReason.EMPTY
        assert one(GR, varied(150)) is None
        paras = [varied(30, t) for t in "abcdefghij"]
        # 3 duplicates of 10 paragraphs = 0.3 passes on count; their characters trip the char rule
        dup3 = "\n\n".join(paras[:7] + paras[:3])
        assert one(TxtGopherRepetitionParams(dup_para_char_frac=None, dup_line_char_frac=None, dup_n_grams=()), dup3) is None
        dup4 = "\n\n".join(paras[:6] + paras[:4])
        assert one(GR, dup4) == GopherRepetitionReason.DUP_PARA_FRAC
        assert one(GR, dup3) == GopherRepetitionReason.DUP_PARA_CHAR_FRAC
        lines4 = "\n".join(paras[:6] + paras[:4])
        assert one(GR, lines4) == GopherRepetitionReason.DUP_LINE_FRAC
        lines3 = "\n".join(paras[:7] + paras[:3])
        assert one(GR, lines3) == GopherRepetitionReason.DUP_LINE_CHAR_FRAC
        assert one(GR, varied(100) + " " + "ab cd " * 60) == GopherRepetitionReason.TOP_2_GRAM
        top3 = TxtGopherRepetitionParams(top_n_grams=((3, 0.18),))
        assert one(top3, varied(100) + " " + "ab cd ef " * 40) == GopherRepetitionReason.TOP_3_GRAM
        top4 = TxtGopherRepetitionParams(top_n_grams=((4, 0.16),))
        assert one(top4, varied(100) + " " + "ab cd ef gh " * 30) == GopherRepetitionReason.TOP_4_GRAM
        for n in range(5, 11):
            p = TxtGopherRepetitionParams(top_n_grams=(), dup_n_grams=((n, 0.1),))
            block = " ".join(f"r{j}" for j in range(n))
            assert one(p, varied(100) + " " + " ".join([block] * 30)) == f"duplicated_{n}_n_grams"

    def test_rejects_n_without_reason_code(self) -> None:
        with pytest.raises(ValueError):
            TxtGopherRepetitionParams(top_n_grams=((5, 0.1),))


SENT = "This is a complete sentence here."


class TestC4:
    def test_sentence_boundaries_by_variant(self) -> None:
        tfds, dt = TxtC4Params(), TxtC4Params(variant="datatrove")
        assert one(tfds, "\n".join([SENT] * 3)) is None
        assert one(tfds, "\n".join([SENT] * 2)) == C4Reason.TOO_FEW_SENTENCES
        assert one(dt, "\n".join([SENT] * 5)) is None
        assert one(dt, "\n".join([SENT] * 4)) == C4Reason.TOO_FEW_SENTENCES

    def test_words_per_line_boundary(self) -> None:
        four = "Four words are here."
        assert one(TxtC4Params(), "\n".join([four] * 5)) == C4Reason.TOO_FEW_SENTENCES  # tfds needs 5 words
        assert one(TxtC4Params(variant="datatrove"), "\n".join([four] * 5)) is None

    def test_page_rules_and_cleaned_text(self) -> None:
        assert one(TxtC4Params(), f"{SENT}\nLorem ipsum dolor sit amet, consectetur.") == C4Reason.LOREM_IPSUM
        assert one(TxtC4Params(), f"{SENT}\nfunction f() {{ return 1; }} is here.") == C4Reason.CURLY_BRACKET
        p = TxtC4Params(variant="datatrove", emit_text=True)
        page = "\n".join([SENT, "Please enable javascript in your browser.", "Read the privacy policy today.",
                          "menu home about", f"{SENT}[12]"] + [SENT] * 3)
        op = build(p)
        out = op.apply(pa.RecordBatch.from_arrays([pa.array([page])], names=["txt_content"])).columns
        assert out.column("txt_c4_ok").to_pylist() == [True]
        assert out.column("txt_c4_text").to_pylist() == ["\n".join([SENT] * 5)]
        assert out.column("txt_c4_sentences").to_pylist() == [5]
        no_punct = TxtC4Params(variant="datatrove", filter_no_terminal_punct=False)
        assert one(no_punct, "\n".join(["one two three four"] * 5)) is None


FW = TxtFinewebParams()
LONG = "a line of ordinary prose that is longer than thirty characters"


class TestFineweb:
    def test_every_reason_with_boundaries(self) -> None:
        assert one(FW, " \n\n") == FinewebReason.EMPTY
        eight = "\n".join([LONG + "."] + [f"{LONG} {i}" for i in range(7)])  # 1/8 = 0.125 >= 0.12
        nine = "\n".join([LONG + "."] + [f"{LONG} {i}" for i in range(8)])  # 1/9 < 0.12
        assert one(FW, eight) is None
        assert one(FW, nine) == FinewebReason.LINE_PUNCT_RATIO
        short = [f"short {i}." for i in range(2)] + [f"{LONG} {i}." for i in range(1)]  # 2/3 = 0.667 <= 0.67
        assert one(FW, "\n".join(short)) is None
        assert one(FW, "\n".join([f"short {i}." for i in range(3)] + [LONG + "."])) == FinewebReason.SHORT_LINE_RATIO
        assert one(FW, "\n".join([LONG + ".", LONG + ".", f"{LONG} x."])) == FinewebReason.CHAR_DUP_RATIO
        listy = "\n".join(f"abcdefghijklmnopqrstuvwxyzabcdefghij{i}!" for i in range(10))
        assert one(FW, listy) == FinewebReason.LIST_RATIO


class TestLengthAndPii:
    def test_length_reasons(self) -> None:
        p = TxtLengthParams(min_chars=5, max_chars=20, min_words=2, max_words=3)
        assert [r for _, r in decide(p, ["abcd", "a" * 21, "abcdef", "one two three four", "one two"])] == [
            LengthReason.TOO_FEW_CHARS, LengthReason.TOO_MANY_CHARS, LengthReason.TOO_FEW_WORDS,
            LengthReason.TOO_MANY_WORDS, None,
        ]

    def test_pii_counts_and_redaction(self) -> None:
        op = build(TxtPiiParams(redact=True))
        b = pa.RecordBatch.from_arrays([pa.array(["write to a.b@example.com or 8.8.4.4 (not 10.0.0.1)", None])],
                                       names=["txt_content"])
        out = op.apply(b)
        assert out.columns.column("txt_pii_emails").to_pylist() == [1, None]
        assert out.columns.column("txt_pii_ips").to_pylist() == [1, None]
        assert out.columns.column("txt_pii_text").to_pylist()[0] == "write to email@example.com or 0.0.0.0 (not 10.0.0.1)"
        assert out.errors is None  # a null text has nothing to count: no error


def test_python_defaults_match_kernel_reference_defaults() -> None:
    def kernel(tag: str) -> dict:
        return json.loads(_native.txt_rule_defaults(tag))["params"]

    assert build(GQ).rule_params() == kernel("gopher_quality")
    assert build(GR).rule_params() == kernel("gopher_repetition")
    assert build(FW).rule_params() == kernel("fineweb")
    assert build(TxtC4Params()).rule_params() == kernel("c4_tfds")
    assert build(TxtC4Params(variant="datatrove")).rule_params() == kernel("c4_datatrove")


def test_all_text_ops_registered() -> None:
    names = set(operators())
    assert {"txt_extract", "txt_lang", "txt_gopher_quality", "txt_gopher_repetition", "txt_c4", "txt_fineweb",
            "txt_length", "txt_pii", "url_filter", "txt_c4_badwords", "txt_line_corrections"} <= names


# --- C4 bad words ------------------------------------------------------------------------------


@pytest.fixture
def word_list(tmp_path):
    """A constructed LDNOOBW-layout list (one entry per line, a phrase, a blank line)."""
    f = tmp_path / "en"
    f.write_text("darn\ndang it\n\nheck\n", encoding="utf-8")
    zh = tmp_path / "zh"
    zh.write_text("坏\n", encoding="utf-8")
    return {"en": str(f), "zh": str(zh)}


class TestC4BadWords:
    def test_words_phrases_boundaries_and_case(self, word_list) -> None:
        p = TxtC4BadWordsParams(bad_words_files={"en": word_list["en"]})
        texts = ["Well, DARN.", "oh Dang   it", "oh dang it!", "darned heckler", "undarn", "dang itself",
                 "darn_it", "x\nheck\ny", "all fine", None]
        got = decide(p, texts)
        assert [r for _, r in got] == [C4BadWordsReason.BAD_WORDS, None, C4BadWordsReason.BAD_WORDS, None, None,
                                       None, None, C4BadWordsReason.BAD_WORDS, None, C4BadWordsReason.MISSING_INPUT]
        assert got[-1] == (False, "missing_input")

    def test_language_column_and_missing_list(self, word_list) -> None:
        op = build(TxtC4BadWordsParams(bad_words_files=word_list, language_column="txt_lang"))
        assert op.reads == ("txt_content", "txt_lang")
        batch = pa.RecordBatch.from_arrays(
            [pa.array(["darn", "darn", "这是坏的", "darn"]), pa.array(["en", "fr", "zh", None])], names=["txt_content", "txt_lang"]
        )
        out = op.apply(batch).columns
        assert out.column("txt_c4_badwords_ok").to_pylist() == [False, True, False, False]
        assert out.column("txt_c4_badwords_has_badwords").to_pylist() == [True, None, True, True]

    def test_keep_fraction(self, word_list) -> None:
        texts = [f"darn {i}" for i in range(2000)]
        kept = sum(ok for ok, _ in decide(TxtC4BadWordsParams(bad_words_files=word_list, keep_fraction=0.25, seed=7), texts))
        assert 400 < kept < 600
        assert kept == sum(ok for ok, _ in decide(TxtC4BadWordsParams(bad_words_files=word_list, keep_fraction=0.25, seed=7), texts))

    def test_fuses_with_other_rules(self, word_list) -> None:
        from spark_mm.engine.plan import fusion_groups

        ops = [build(GQ), build(TxtC4BadWordsParams(bad_words_files=word_list, language_column="txt_lang")), build(FW)]
        assert len(fusion_groups(ops)) == 1
        batch = pa.RecordBatch.from_arrays([pa.array([words_doc(60), "darn it"]), pa.array(["en", "en"])],
                                           names=["txt_content", "txt_lang"])
        fused = type(ops[0]).apply_group(ops, batch)
        for op, res in zip(ops, fused):
            alone = op.apply(batch)
            assert res.columns.equals(alone.columns), op.name

    def test_missing_list_fails_at_validation(self, tmp_path) -> None:
        with pytest.raises(ValueError, match=r"bad_words_files: no list given.*bad_words_files: \{en:"):
            TxtC4BadWordsParams()
        with pytest.raises(ValueError, match=r"bad_words_files\.en: .* is not a file"):
            TxtC4BadWordsParams(bad_words_files={"en": str(tmp_path / "missing")})
        (tmp_path / "fr").write_text("merde\n")
        with pytest.raises(ValueError, match="default_language: 'en' has no list"):
            TxtC4BadWordsParams(bad_words_files={"fr": str(tmp_path / "fr")})


# --- RefinedWeb line-wise corrections ----------------------------------------------------------

LC = TxtLineCorrectionsParams()


def _body(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


class TestLineCorrections:
    def run(self, params, texts):
        op = build(params)
        return op.apply(pa.RecordBatch.from_arrays([pa.array(texts, pa.string())], names=["txt_content"])).columns

    def test_five_percent_boundary_and_rewrite(self) -> None:
        keep = _body(95) + "\n" + "\n".join(["Home"] * 5)      # 5 of 100 words removed
        drop = _body(94) + "\n" + "\n".join(["Home"] * 6)      # 6 of 100
        out = self.run(LC, [keep, drop, None])
        assert out.column("txt_line_corrections_ok").to_pylist() == [True, False, False]
        assert out.column("txt_line_corrections_reason").to_pylist() == [
            None, LineCorrectionsReason.TOO_MANY_REMOVED_WORDS, LineCorrectionsReason.MISSING_INPUT]
        assert out.column("txt_line_corrections_text").to_pylist() == [_body(95), _body(94), None]
        assert out.column("txt_line_corrections_words_removed").to_pylist() == [5, 6, None]
        assert out.column("txt_line_corrections_lines_removed").to_pylist() == [5, 6, None]

    def test_each_line_rule(self) -> None:
        body = _body(200)
        lines = ["ALL CAPS HEADER", "12 345", "3 likes", "Menu", "Sign in to comment on this",
                 "Great story. Read more...", "You have 3 items in cart now", "A normal line of text."]
        out = self.run(LC, [body + "\n" + "\n".join(lines)])
        assert out.column("txt_line_corrections_text")[0].as_py() == "\n".join(
            [body, "to comment on this", "Great story.", "You have 3 now", "A normal line of text."])
        assert out.column("txt_line_corrections_lines_removed")[0].as_py() == 4

    def test_ten_word_boundary_and_settings(self) -> None:
        body = _body(300)
        ten = "Nice post about cats and dogs and birds. Read more"
        eleven = "Nice post about cats and dogs and small birds. Read more"
        out = self.run(LC, [f"{body}\n{ten}", f"{body}\n{eleven}"])
        assert out.column("txt_line_corrections_text").to_pylist() == [
            f"{body}\nNice post about cats and dogs and birds.", f"{body}\n{eleven}"]
        off = TxtLineCorrectionsParams(max_uppercase_ratio=None, remove_single_word=False, end_patterns=())
        out = self.run(off, [f"{body}\nALL CAPS\nHome\n{ten}"])
        assert out.column("txt_line_corrections_text")[0].as_py() == f"{body}\nALL CAPS\nHome\n{ten}"
        strict = TxtLineCorrectionsParams(max_removed_words_frac=0.0)
        assert self.run(strict, [f"{body}\nHome"]).column("txt_line_corrections_ok").to_pylist() == [False]

    def test_defaults_match_kernel(self) -> None:
        assert build(LC).rule_params() == json.loads(_native.txt_rule_defaults("line_corrections"))["params"]


class TestPiiIpv6:
    def test_ipv6_counted_and_redacted(self) -> None:
        op = build(TxtPiiParams(redact=True))
        text = "v6 2001:db8::1, mapped ::ffff:8.8.8.8, local fe80::1 and ::1, time 12:30:45, mac 00:1a:2b:3c:4d:5e, std::string"
        out = op.apply(pa.RecordBatch.from_arrays([pa.array([text])], names=["txt_content"])).columns
        assert out.column("txt_pii_ips").to_pylist() == [2]
        assert out.column("txt_pii_text")[0].as_py() == (
            "v6 ::, mapped ::, local fe80::1 and ::1, time 12:30:45, mac 00:1a:2b:3c:4d:5e, std::string")
        everything = build(TxtPiiParams(include_private_ips=True))
        out = everything.apply(pa.RecordBatch.from_arrays([pa.array([text])], names=["txt_content"])).columns
        assert out.column("txt_pii_ips").to_pylist() == [4]
