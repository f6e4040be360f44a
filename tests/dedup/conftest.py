"""Dedup test helpers; the ``spark`` fixture is the session-wide one from tests/conftest.py."""

from __future__ import annotations

import random

import pyarrow as pa

from spark_mm import _native


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


def shingles(text: str, n: int = 5) -> set[str]:
    """Word n-grams of the dedup-normalised text, as ``txt_minhash`` shingles it."""
    norm = pa.array(_native.txt_dedup_normalize(pa.array([text])))[0].as_py()
    words = norm.split(" ") if norm else []
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def shingle_jaccard(a: str, b: str) -> float:
    """Exact word-5-gram Jaccard of two texts."""
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y) if x | y else 0.0


def chain_corpus(seed: int, n_chains: int, length: int, n_unique: int, blocks: int = 3, block_words: int = 40) -> tuple[list[str], list[str], list[list[str]]]:
    """Chains of documents sliding over random word blocks, plus unrelated documents.

    Document ``i`` of a chain is blocks ``i .. i+blocks-1``: neighbours share ``blocks-1`` blocks
    (Jaccard ~0.5 for 3 blocks) and documents two apart share one (~0.2), so A~B and B~C while
    A and C are not duplicates. Returns texts, ids (shuffled together) and each chain's ids in order.
    """
    rng = random.Random(seed)
    texts, ids, chains = [], [], []
    i = 0
    for _ in range(n_chains):
        parts = [random_doc(rng, block_words) for _ in range(blocks + length - 1)]
        chain = []
        for k in range(length):
            texts.append(" ".join(w for part in parts[k : k + blocks] for w in part))
            ids.append(sid(i))
            chain.append(sid(i))
            i += 1
        chains.append(chain)
    for _ in range(n_unique):
        texts.append(" ".join(random_doc(rng, blocks * block_words)))
        ids.append(sid(i))
        i += 1
    order = list(range(len(ids)))
    rng.shuffle(order)
    return [texts[j] for j in order], [ids[j] for j in order], chains
