"""Stage fingerprints: what computed a signal row, so a changed recipe recomputes exactly the stale rows.

A stage's fingerprint is a short hash over its operators' fingerprints in order (``name@version``
plus value-changing params, plus the weights identity of model operators) and the fingerprints of
the upstream stages whose columns it reads. Every ``signals_<stage>`` row stores it in the
``fingerprint`` column; a row whose fingerprint differs from the recipe's (or is null: a row
written before fingerprints existed) is stale and the next run recomputes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

FINGERPRINT_FIELD = pa.field("fingerprint", pa.string())
DIGEST_CHARS = 16  # 64 bits: collisions between two recipes of one stage are not a concern


@dataclass(frozen=True)
class StageFingerprint:
    """A stage's fingerprint (``digest``, stored per row) and what it hashes (``parts``, in lineage)."""

    digest: str
    parts: tuple[str, ...]

    def describe(self) -> str:
        """The human-readable list recorded in the commit's lineage (``spark-mm.fingerprint-ops``)."""
        return "; ".join(self.parts)


def stage_fingerprint(op_fingerprints: Sequence[str], upstream: Mapping[str, str]) -> StageFingerprint:
    """Hash a stage's operator fingerprints (in order) and its upstream stages' digests.

    Args:
        op_fingerprints: ``Operator.fingerprint()`` of each operator, in recipe order.
        upstream: signal table → stage digest, for the tables whose columns the stage reads.

    >>> a = stage_fingerprint(['img_meta@1 {"max_bytes":10}'], {})
    >>> a.digest == stage_fingerprint(['img_meta@1 {"max_bytes":10}'], {}).digest, len(a.digest)
    (True, 16)
    >>> a.digest == stage_fingerprint(['img_meta@2 {"max_bytes":10}'], {}).digest
    False
    >>> b = stage_fingerprint(["f@1 {}"], {"signals_x": "00ff"})
    >>> b.parts, b.digest == stage_fingerprint(["f@1 {}"], {"signals_x": "11ee"}).digest
    (('f@1 {}', 'upstream signals_x=00ff'), False)
    """
    parts = tuple(op_fingerprints) + tuple(f"upstream {table}={digest}" for table, digest in sorted(upstream.items()))
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:DIGEST_CHARS]
    return StageFingerprint(digest, parts)


def describe_recomputed(by_old: Mapping[str | None, int]) -> str:
    """Lineage value ``spark-mm.recomputed``: rows replaced, per old fingerprint (``null``: none stored).

    >>> describe_recomputed({"ab12": 3, None: 2})
    '5 rows from ab12=3,null=2'
    """
    total = sum(by_old.values())
    olds = ",".join(f"{'null' if k is None else k}={n}" for k, n in sorted(by_old.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))
    return f"{total} rows from {olds}"
