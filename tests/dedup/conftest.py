"""One session-scoped plain local[2] SparkSession for the dedup tests (no Iceberg needed)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("spark-mm-dedup-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


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
