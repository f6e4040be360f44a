"""The alt text's language on link rows (fastText lid.176, the model txt_lang uses)."""

from __future__ import annotations

import pytest

from spark_mm.errors import WeightsNotFound
from spark_mm.links.alt_lang import alt_languages, check_model
from spark_mm.links.pages import link_rows, page_links
from spark_mm.links.step import ImageLinksStep
from spark_mm.ops.text_lang import TxtLang, TxtLangParams

ALTS = [
    "a black cat sleeping on a wooden table in the garden",
    "un chat noir qui dort sur une table en bois dans le jardin",
    "eine schwarze Katze schläft auf einem Holztisch im Garten",
    "un gato negro durmiendo sobre una mesa de madera en el jardín",
]


def test_languages_of_alt_texts() -> None:
    langs, scores = alt_languages([*ALTS, "", None, "   "], ImageLinksStep())
    assert langs == ["en", "fr", "de", "es", None, None, None]
    assert all(0.5 < s <= 1.0 for s in scores[:4]) and scores[4:] == [None, None, None]


def test_same_answer_as_txt_lang() -> None:
    import pyarrow as pa

    op = TxtLang(TxtLangParams(text_column="t"))
    decision = op.evaluate(pa.RecordBatch.from_pydict({"t": ALTS}))
    langs, scores = alt_languages(ALTS, ImageLinksStep())
    assert decision.signals.column("txt_lang").to_pylist() == langs
    assert decision.signals.column("txt_lang_score").to_pylist() == pytest.approx(scores, rel=1e-6)


def test_link_rows_carry_the_language_and_it_is_not_a_filter() -> None:
    html = "".join(f'<img src="/{i}.jpg" alt="{a}">' for i, a in enumerate(ALTS[:2])) + '<img src="/n.jpg"><img src="/s.jpg" alt="cat">'
    step = ImageLinksStep()
    rows = link_rows("ab" * 16, page_links(html.encode(), "text/html", {}, "https://a.org/", step), step)
    assert [(r["link_alt_lang"], r["link_laion_reason"]) for r in rows] == [("en", None), ("fr", None), (None, "no_alt"), ("en", "alt_too_short")]
    off = ImageLinksStep(alt_lang=False)
    rows = link_rows("ab" * 16, page_links(html.encode(), "text/html", {}, "https://a.org/", off), off)
    assert {r["link_alt_lang"] for r in rows} == {None} and {r["link_alt_lang_score"] for r in rows} == {None}


def test_fingerprint_and_version_follow_the_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert ImageLinksStep().op_id == "img_links@2"
    assert ImageLinksStep().fingerprint() != ImageLinksStep(alt_lang=False).fingerprint()
    with pytest.raises(WeightsNotFound, match="img_links alt_lang: fastText model not found"):
        check_model(ImageLinksStep(lid_model_path=str(tmp_path / "nope.ftz")))
    check_model(ImageLinksStep(alt_lang=False, lid_model_path=str(tmp_path / "nope.ftz")))  # off: never loaded
