"""CCNet's text normalisation and document perplexity (Wenzek et al. 2020, facebookresearch/cc_net).

Pure functions, reproducing ``cc_net/text_normalizer.py`` (``normalize`` with its defaults:
``accent=True, case=True, numbers=True, punct=1``) and the scoring of ``cc_net/perplexity.py``
(``DocLM.do`` and ``pp``) rule for rule, quirks included:

* ``strip_accents`` returns the NFD form without its ``Mn`` marks and never recomposes it (its
  ``len(output) == line`` early exit compares an int to a str, so it never fires): Hangul
  syllables come out as conjoining jamo, ``é`` as ``e``.
* ``\\d`` is Python's Unicode digit class: fullwidth and Arabic-Indic digits become ``0`` too.
* code points 0-31 and 127-159 are removed, ``\\n`` and ``\\t`` included. CCNet's pipeline
  (``mine.py``: ``MultiSentencePiece(normalize=True)`` on the raw document, then
  ``DocLM(normalize=False)``) normalises the whole document before SentencePiece, so a document
  reaches the language model as one line, its lines glued without a space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

UNICODE_PUNCT: dict[str, str] = {
    "，": ",",
    "。": ".",
    "、": ",",
    "„": '"',
    "”": '"',
    "“": '"',
    "«": '"',
    "»": '"',
    "１": '"',  # sic: CCNet maps the fullwidth one to a quote (after digits became 0, so never seen)
    "」": '"',
    "「": '"',
    "《": '"',
    "》": '"',
    "´": "'",
    "∶": ":",
    "：": ":",
    "？": "?",
    "！": "!",
    "（": "(",
    "）": ")",
    "；": ";",
    "–": "-",
    "—": " - ",
    "．": ". ",
    "～": "~",
    "’": "'",
    "…": "...",
    "━": "-",
    "〈": "<",
    "〉": ">",
    "【": "[",
    "】": "]",
    "％": "%",
    "►": "-",
}
"""CCNet's ``UNICODE_PUNCT`` table, entry for entry."""

_NON_PRINTING = re.compile("[" + "".join(map(chr, list(range(0, 32)) + list(range(127, 160)))) + "]")
_DIGIT = re.compile(r"\d")


def replace_unicode_punct(text: str) -> str:
    """CCNet's ``replace_unicode_punct``: each character through :data:`UNICODE_PUNCT`.

    >>> replace_unicode_punct("“quoted”—yes…")
    '"quoted" - yes...'
    """
    return "".join(UNICODE_PUNCT.get(c, c) for c in text)


def strip_accents(line: str) -> str:
    """CCNet's ``strip_accents``: NFD, drop non-spacing marks (``Mn``), no recomposition.

    >>> strip_accents("Crème brûlée"), len(strip_accents("한"))
    ('Creme brulee', 3)
    """
    return "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")


def remove_non_printing_char(text: str) -> str:
    """Drop code points 0-31 and 127-159 (C0, DEL, C1), newlines and tabs included.

    >>> remove_non_printing_char("a\\tb\\nc\\x85d")
    'abcd'
    """
    return _NON_PRINTING.sub("", text)


def normalize(line: str) -> str:
    """CCNet's ``text_normalizer.normalize`` with its defaults, in its order.

    strip, lower case, strip accents, every Unicode digit → ``0``, Unicode punctuation
    replaced, non-printing characters removed.

    >>> normalize("  Él costó 1.234,50 € — “barato”\\n¿Sí?  ")
    'el costo 0.000,00 €  -  "barato"¿si?'
    """
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    line = strip_accents(line)
    line = _DIGIT.sub("0", line)
    line = replace_unicode_punct(line)
    return remove_non_printing_char(line)


def perplexity(log10_score: float, length: int) -> float:
    """CCNet's ``pp``: ``10 ** (-log10_score / length)``.

    >>> perplexity(-6.0, 3)
    100.0
    """
    return float(10.0 ** (-log10_score / length))


def line_length(line: str) -> int:
    """Tokens the language model scores on a tokenised line: its words plus ``</s>``.

    >>> line_length("▁the ▁cat"), line_length("")
    (3, 1)
    """
    return len(line.split()) + 1


def document_perplexity(line_scores: Sequence[float], line_lengths: Sequence[int]) -> float:
    """CCNet's document perplexity (``DocLM.do``): summed log10 scores over summed lengths, rounded to 0.1.

    Args:
        line_scores: KenLM log10 probability of each line, ``<s>`` and ``</s>`` included.
        line_lengths: :func:`line_length` of each line.

    >>> document_perplexity([-6.0, -2.0], [3, 1])
    100.0
    """
    return round(perplexity(float(sum(line_scores)), int(sum(line_lengths))), 1)
