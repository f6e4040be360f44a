"""CCNet's head / middle / tail buckets: perplexity cutoffs per language, applied at curation.

CCNet (Wenzek et al. 2020, §3.3; ``cc_net/perplexity.py`` ``PerplexityBucket``) splits each
language's documents at the 30th and 60th percentiles of their perplexity: ``head`` below the
first cutoff, ``middle`` below the second, ``tail`` above; a document without a perplexity, or
whose language has no cutoffs, is ``all``. The bucket depends on the whole corpus, not on the
document alone, so it is not a stored signal (a new crawl moves the percentiles): it is computed
where the corpus is known, at curation, from the stored ``txt_perplexity`` signal. Two sources of
cutoffs:

* the corpus itself: :func:`corpus_cutoffs`, one ``percentile_approx`` aggregate per language in
  a single pass (``conf/ccnet_curate.sql`` does the same in SQL);
* a fixed table: CCNet shipped ``cc_net/data/cutoff.csv`` (percentiles 0-100 per language,
  computed once on its own crawl); :func:`read_ccnet_cutoffs` reads that format, or give a
  mapping ``{lang: (head, tail)}`` to :func:`cutoffs_frame`.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_mm.errors import ConfigError

HEAD_PERCENTILE = 0.30
TAIL_PERCENTILE = 0.60
ACCURACY = 10_000
"""``percentile_approx`` accuracy: a cutoff's rank is within ``docs / ACCURACY`` of the exact one
(exact below ``ACCURACY`` documents per language)."""

CUTOFF_SCHEMA = T.StructType(
    [
        T.StructField("lang", T.StringType(), False),
        T.StructField("head_cutoff", T.DoubleType(), False),
        T.StructField("tail_cutoff", T.DoubleType(), False),
        T.StructField("docs", T.LongType(), True),  # documents the cutoffs were computed on; null for a fixed table
    ]
)


class Bucket(str, enum.Enum):
    HEAD = "head"
    MIDDLE = "middle"
    TAIL = "tail"
    ALL = "all"  # no perplexity, or no cutoffs for the language (CCNet's label)


@dataclass(frozen=True)
class Cutoffs:
    """One language's cutoffs: ``head`` = perplexity below ``head``; ``middle`` below ``tail``."""

    head: float
    tail: float

    def __post_init__(self) -> None:
        if not self.head <= self.tail:
            raise ConfigError(f"perplexity cutoffs must satisfy head <= tail, got head={self.head}, tail={self.tail}")


def bucket_of(perplexity: float | None, cutoffs: Cutoffs | None) -> Bucket:
    """CCNet's ``PerplexityBucket.get_bucket`` for one document (a missing perplexity is CCNet's -1).

    >>> c = Cutoffs(340.0, 520.0)  # CCNet's English cutoffs (cutoff.csv, rows 30 and 60)
    >>> [bucket_of(p, c).value for p in (304.6, 340.0, 519.9, 520.0, None)], bucket_of(10.0, None).value
    (['head', 'middle', 'middle', 'tail', 'all'], 'all')
    """
    if cutoffs is None or perplexity is None or perplexity < 0:
        return Bucket.ALL
    if perplexity < cutoffs.head:
        return Bucket.HEAD
    if perplexity < cutoffs.tail:
        return Bucket.MIDDLE
    return Bucket.TAIL


def bucket_column(perplexity: Column, head: Column, tail: Column) -> Column:
    """:func:`bucket_of` as a Spark column (null cutoffs: the language has none)."""
    return (
        F.when(perplexity.isNull() | (perplexity < 0) | head.isNull() | tail.isNull(), F.lit(Bucket.ALL.value))
        .when(perplexity < head, F.lit(Bucket.HEAD.value))
        .when(perplexity < tail, F.lit(Bucket.MIDDLE.value))
        .otherwise(F.lit(Bucket.TAIL.value))
    )


def corpus_cutoffs(
    frame: DataFrame,
    perplexity_col: str = "txt_perplexity",
    lang_col: str = "txt_lang",
    head: float = HEAD_PERCENTILE,
    tail: float = TAIL_PERCENTILE,
    accuracy: int = ACCURACY,
) -> DataFrame:
    """Per-language cutoffs at the ``head`` / ``tail`` quantiles of the corpus, in one aggregate pass.

    Rows without a perplexity or a language do not count. Spark's ``percentile_approx`` returns a
    value of the data: the smallest whose cumulative share reaches the quantile (numpy's
    ``percentile(..., method="inverted_cdf")`` when exact).

    Returns:
        ``lang, head_cutoff, tail_cutoff, docs`` (:data:`CUTOFF_SCHEMA`), one row per language.
    """
    if not 0.0 <= head <= tail <= 1.0:
        raise ConfigError(f"bucket quantiles must satisfy 0 <= head <= tail <= 1, got head={head}, tail={tail}")
    pp = F.col(perplexity_col).cast("double")
    q = F.percentile_approx(pp, [head, tail], accuracy)
    return (
        frame.where(F.col(perplexity_col).isNotNull() & F.col(lang_col).isNotNull() & (F.col(lang_col) != ""))
        .groupBy(F.col(lang_col).alias("lang"))
        .agg(q.alias("q"), F.count(F.lit(1)).alias("docs"))
        .select("lang", F.col("q")[0].alias("head_cutoff"), F.col("q")[1].alias("tail_cutoff"), "docs")
    )


def read_ccnet_cutoffs(path: str | Path, head_percentile: int = 30, tail_percentile: int = 60) -> dict[str, Cutoffs]:
    """Read CCNet's ``cutoff.csv``: a header ``,de,it,...,en,...`` then one row per percentile 0-100.

    Raises:
        ConfigError: the file is missing or not in that format, or lacks a requested percentile.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"perplexity cutoff file not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or len(rows[0]) < 2 or rows[0][0].strip():
        raise ConfigError(f"{path}: expected CCNet's cutoff.csv layout (header ',<lang>,<lang>,...', rows '<percentile>,<value>,...')")
    langs = [c.strip() for c in rows[0][1:]]
    by_pct: dict[int, list[str]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(langs) + 1:
            raise ConfigError(f"{path} line {n}: {len(row)} fields, the header has {len(langs) + 1}")
        try:
            by_pct[int(float(row[0]))] = row[1:]
        except ValueError:
            raise ConfigError(f"{path} line {n}: first field {row[0]!r} is not a percentile") from None
    for pct in (head_percentile, tail_percentile):
        if pct not in by_pct:
            raise ConfigError(f"{path} has no row for percentile {pct} (has {sorted(by_pct)[:3]}...)")
    try:
        return {
            lang: Cutoffs(float(by_pct[head_percentile][i]), float(by_pct[tail_percentile][i]))
            for i, lang in enumerate(langs)
        }
    except ValueError as err:
        raise ConfigError(f"{path}: a cutoff is not a number: {err}") from None


def cutoffs_frame(spark: SparkSession, table: Mapping[str, Cutoffs | tuple[float, float]]) -> DataFrame:
    """A fixed cutoff table (e.g. :func:`read_ccnet_cutoffs`) as a frame of :data:`CUTOFF_SCHEMA`."""
    rows = []
    for lang, c in sorted(table.items()):
        cut = c if isinstance(c, Cutoffs) else Cutoffs(float(c[0]), float(c[1]))
        rows.append((lang, cut.head, cut.tail, None))
    return spark.createDataFrame(rows, CUTOFF_SCHEMA)


def assign_buckets(
    frame: DataFrame,
    cutoffs: DataFrame,
    perplexity_col: str = "txt_perplexity",
    lang_col: str = "txt_lang",
    bucket_col: str = "txt_perplexity_bucket",
) -> DataFrame:
    """``frame`` with CCNet's bucket per row; every row is kept (rows in = rows out).

    ``cutoffs`` is one row per language (:func:`corpus_cutoffs` or :func:`cutoffs_frame`); it is
    broadcast, so the corpus is not shuffled.
    """
    dupes = cutoffs.groupBy("lang").count().where("count > 1").limit(3).collect()
    if dupes:
        raise ConfigError(f"the cutoff table has several rows for languages {[r['lang'] for r in dupes]}")
    cut = cutoffs.select(F.col("lang").alias("__pp_lang"), F.col("head_cutoff").alias("__pp_head"), F.col("tail_cutoff").alias("__pp_tail"))
    joined = frame.join(F.broadcast(cut), F.col(lang_col) == F.col("__pp_lang"), "left")
    bucket = bucket_column(F.col(perplexity_col), F.col("__pp_head"), F.col("__pp_tail"))
    return joined.withColumn(bucket_col, bucket).drop("__pp_lang", "__pp_head", "__pp_tail")
