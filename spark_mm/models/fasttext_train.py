"""Train a DCLM-style fastText quality classifier from labelled text streams.

DCLM (Li et al. 2024) trained its OH-2.5 + ELI5 vs RefinedWeb classifier with
``baselines/train_fasttext_classifier.py`` of github.com/mlfoundations/dclm, a thin wrapper over
``fasttext.train_supervised``; its README gives the command (``--wordNgrams 2``) and says the other
hyperparameters were left at their defaults. :class:`FasttextHyperparams` holds those values.

Every training line is ``<label> <text>`` with the text prepared exactly as scoring prepares it
(:func:`spark_mm.ops.model_fasttext.dclm_text`: lines joined with spaces), so a model written here
scores unchanged with ``txt_fasttext_quality``. Texts blank after preparation are skipped (scoring
gives them a null score).

The validation split and the training order are hash-based: blake2b of the seed and the prepared
text decides the side (the same text always lands on the same side, so duplicates cannot leak into
validation), and a second hash orders the training file. Neither depends on the order the rows
arrive in. Lines go through bounded shard files, so memory holds one shard, never the corpus.

Trainer package: ``fasttext-numpy2`` (extra ``train``). It installs the module ``fasttext``, the
same name as ``fasttext-predict`` (scoring's predict-only build), and replaces its files with the
full library whose ``load_model`` / ``predict`` behave the same (docs/web_text.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spark_mm.errors import ConfigError, MissingDependency
from spark_mm.ops.model_fasttext import dclm_text

log = logging.getLogger(__name__)

POSITIVE = "__label__hq"
NEGATIVE = "__label__cc"
_SHARDS = 64
"""Training lines are spread over this many shard files, each sorted in memory when merged."""
_SPLIT_SCALE = 1 << 32
TRAINER_HINT = (
    "fastText training needs the full fasttext library: pip install 'spark-mm[train]' "
    "(fasttext-numpy2); if fasttext-predict was installed after it, reinstall it with "
    "pip install --force-reinstall --no-deps fasttext-numpy2 (both install the module `fasttext`)"
)


class FasttextHyperparams(BaseModel):
    """``fasttext.train_supervised`` arguments; defaults are DCLM's OH-2.5 + ELI5 classifier.

    DCLM's ``train_fasttext_classifier.py`` defaults (lr 0.1, dim 100, ws 5, epoch 5, minCount 1)
    with ``--wordNgrams 2`` from its README; the rest are ``train_supervised``'s own defaults, which
    DCLM did not override. ``thread`` (None: the Python binding's cpu_count - 1) changes speed, and
    with more than one thread fastText's asynchronous SGD is not bit-reproducible.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lr: float = Field(0.1, gt=0)
    dim: int = Field(100, ge=1)
    ws: int = Field(5, ge=1)
    epoch: int = Field(5, ge=1)
    min_count: int = Field(1, ge=1)
    min_count_label: int = Field(0, ge=0)
    word_ngrams: int = Field(2, ge=1)
    minn: int = Field(0, ge=0)
    maxn: int = Field(0, ge=0)
    neg: int = Field(5, ge=1)
    loss: Literal["softmax", "ns", "hs", "ova"] = "softmax"
    bucket: int = Field(2_000_000, ge=0)
    lr_update_rate: int = Field(100, ge=1)
    t: float = Field(1e-4, gt=0)
    seed: int = 0
    thread: int | None = Field(None, ge=1)

    def train_supervised_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``fasttext.train_supervised`` (its camelCase names).

        >>> FasttextHyperparams().train_supervised_kwargs()["wordNgrams"]
        2
        """
        kw: dict[str, Any] = {
            "lr": self.lr, "dim": self.dim, "ws": self.ws, "epoch": self.epoch, "minCount": self.min_count,
            "minCountLabel": self.min_count_label, "wordNgrams": self.word_ngrams, "minn": self.minn, "maxn": self.maxn,
            "neg": self.neg, "loss": self.loss, "bucket": self.bucket, "lrUpdateRate": self.lr_update_rate, "t": self.t,
            "seed": self.seed,
        }
        if self.thread is not None:
            kw["thread"] = self.thread
        return kw


def _hash(seed: int, purpose: str, text: str) -> int:
    digest = hashlib.blake2b(f"{seed}\x1f{purpose}\x1f".encode() + text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def is_validation(line: str, seed: int, val_fraction: float) -> bool:
    """Whether a prepared text goes to validation: blake2b(seed, text) below ``val_fraction``.

    >>> [is_validation("some text", 0, f) for f in (0.0, 1.0)]
    [False, True]
    """
    return (_hash(seed, "split", line) >> 32) < val_fraction * _SPLIT_SCALE


@dataclass
class LabelCounts:
    """Rows of one label: read, blank after preparation (skipped), written to train / validation."""

    rows: int = 0
    blank: int = 0
    train: int = 0
    val: int = 0


@dataclass
class SplitFiles:
    """The training and validation files (fastText format) and what went into them."""

    train: Path
    val: Path
    counts: dict[str, LabelCounts] = field(default_factory=dict)


def write_split(streams: Iterable[tuple[str, Iterable[str | None]]], workdir: Path, *, val_fraction: float, seed: int) -> SplitFiles:
    """Write ``(label, texts)`` streams to a shuffled training file and a validation file.

    Texts are prepared with ``dclm_text``; null or blank ones are counted and skipped. Training
    lines pass through ``_SHARDS`` shard files (``key<TAB>line``), and each shard is sorted by key
    in memory when merged: the order is a seeded hash, the memory one shard.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1); got {val_fraction}")
    workdir.mkdir(parents=True, exist_ok=True)
    out = SplitFiles(workdir / "train.txt", workdir / "valid.txt")
    shard_paths = [workdir / f"shard-{i:02d}.txt" for i in range(_SHARDS)]
    with ExitStack() as stack:
        shards: list[IO[str]] = [stack.enter_context(p.open("w", encoding="utf-8", newline="\n")) for p in shard_paths]
        val = stack.enter_context(out.val.open("w", encoding="utf-8", newline="\n"))
        for label, texts in streams:
            if any(c.isspace() for c in label) or not label:
                raise ConfigError(f"a fastText label cannot be empty or contain whitespace: {label!r}")
            counts = out.counts.setdefault(label, LabelCounts())
            for text in texts:
                counts.rows += 1
                line = dclm_text(text) if text is not None else ""
                if not line:
                    counts.blank += 1
                    continue
                if is_validation(line, seed, val_fraction):
                    val.write(f"{label} {line}\n")
                    counts.val += 1
                else:
                    key = _hash(seed, "order", f"{label} {line}")
                    shards[key % _SHARDS].write(f"{key:016x}\t{label} {line}\n")
                    counts.train += 1
    with out.train.open("w", encoding="utf-8", newline="\n") as train:
        for p in shard_paths:
            with p.open(encoding="utf-8", newline="\n") as fh:
                rows = sorted(fh.read().splitlines(keepends=True))
            train.writelines(r.split("\t", 1)[1] for r in rows)
            p.unlink()
    return out


def _fasttext() -> Any:
    try:
        import fasttext
    except ImportError as exc:
        raise MissingDependency(TRAINER_HINT) from exc
    if not hasattr(fasttext, "train_supervised"):
        raise MissingDependency(f"the installed `fasttext` module ({fasttext.__file__}) is predict-only (fasttext-predict). {TRAINER_HINT}")
    return fasttext


@dataclass(frozen=True)
class Validation:
    """Top-1 predictions on the validation file; precision and recall are of ``positive_label``."""

    n: int
    accuracy: float | None
    precision: float | None
    recall: float | None


def evaluate(model: Any, path: Path, positive_label: str) -> Validation:
    """Score every validation line as scoring does (top-1 label) and count hits."""
    n = correct = tp = fp = fn = 0
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            label, _, text = raw.rstrip("\n").partition(" ")
            labels, _ = model.predict(text, k=1)
            pred = labels[0] if len(labels) else None
            n += 1
            correct += pred == label
            tp += pred == positive_label and label == positive_label
            fp += pred == positive_label and label != positive_label
            fn += pred != positive_label and label == positive_label
    return Validation(
        n,
        correct / n if n else None,
        tp / (tp + fp) if tp + fp else None,
        tp / (tp + fn) if tp + fn else None,
    )


def train_files(split: SplitFiles, out: str | Path, params: FasttextHyperparams, positive_label: str = POSITIVE) -> tuple[Path, Validation]:
    """``fasttext.train_supervised`` on the training file; save the ``.bin``; evaluate on validation.

    Raises:
        ConfigError: a label has no training line (fastText needs both classes).
        MissingDependency: no fastText trainer is installed.
    """
    empty = sorted(label for label, c in split.counts.items() if c.train == 0)
    if empty or len(split.counts) < 2:
        raise ConfigError(f"every label needs training lines; none for {empty or sorted(split.counts)} (counts: {split.counts})")
    fasttext = _fasttext()
    model = fasttext.train_supervised(input=str(split.train), verbose=0, **params.train_supervised_kwargs())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(out))
    val = evaluate(model, split.val, positive_label)
    log.info("fastText classifier written to %s (validation: %s)", out, val)
    return out, val


def trainer_version() -> str:
    """``name version`` of the distribution that provides the trainer, for lineage."""
    from importlib import metadata

    for dist in ("fasttext-numpy2", "fasttext-wheel", "fasttext"):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def scratch_dir(parent: str | Path | None = None) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for the split files (beside ``parent`` when given, else the system temp)."""
    if parent is not None:
        os.makedirs(parent, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="spark-mm-fasttext-", dir=parent)
