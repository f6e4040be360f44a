"""Dedup test helpers; the ``spark`` fixture is the session-wide one from tests/conftest.py."""

from __future__ import annotations

import random



def sid(i: int) -> str:
    """A 32-hex sample id whose order follows ``i``."""
    return f"{i:032x}"


def word(i: int) -> str:
    """A letters-only word for ``i`` (digits would all normalise to ``0``)."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += chr(97 + r)
        if i == 0:
            return out


def random_doc(rng: random.Random, n_words: int, vocab: int = 50_000) -> list[str]:
    return [word(rng.randrange(vocab)) for _ in range(n_words)]


def mutate(rng: random.Random, words: list[str], frac: float, vocab: int = 50_000) -> list[str]:
    """Replace a random ``frac`` of the words with fresh ones."""
    out = list(words)
    for i in rng.sample(range(len(out)), int(round(frac * len(out)))):
        out[i] = "z" + word(rng.randrange(vocab))
    return out
