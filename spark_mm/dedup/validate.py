"""Recipe-time checks of dedup steps against the operators that write their columns.

A MinHash step's scheme (n-gram, bands, rows, seed) is taken from the ``txt_minhash`` operator
that writes its column, so it can never drift from the keys the step groups by. A hand-typed
``key_type`` is still accepted, and must agree with that operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spark_mm.dedup.steps import MinhashDedupStep, MinhashScheme
from spark_mm.errors import RecipeError
from spark_mm.ops import registry


def bind_scheme(step: MinhashDedupStep, params: Any) -> MinhashDedupStep:
    """Give ``step`` the scheme of the ``txt_minhash`` params that produce its columns."""
    step._scheme = MinhashScheme(ngram=params.ngram, bands=params.bands, rows=params.rows, seed=params.seed)
    return step


def check_dedup_steps(stages: Sequence[Any], steps: Sequence[Any]) -> None:
    """Bind every MinHash step to its producing operator, failing on disagreement.

    Columns that no operator produces are left to the recipe's column check, which names them.

    Raises:
        RecipeError: the step's column comes from another operator, its ``key_type`` disagrees
            with the operator's, or the operator does not emit the signature the step reads.
    """
    producers: dict[str, tuple[int, int, Any]] = {}
    for si, stage in enumerate(stages):
        for oi, params in enumerate(stage.ops):
            for col in registry.build(params).output_schema.names:
                producers[col] = (si, oi, params)
    for di, step in enumerate(steps):
        if not isinstance(step, MinhashDedupStep) or step.column not in producers:
            continue
        si, oi, params = producers[step.column]
        where = f"stages[{si}].ops[{oi}]"
        if params.op != "txt_minhash":
            raise RecipeError(f"invalid recipe:\n  dedup[{di}].column: {step.column!r} is written by {where} ({params.op}), not txt_minhash")
        if step.key_type is not None and step.key_type != params.key_type:
            raise RecipeError(
                f"invalid recipe:\n  dedup[{di}].key_type: {step.key_type!r} disagrees with {where} (txt_minhash: "
                f"ngram={params.ngram}, bands={params.bands}, rows={params.rows}, seed={params.seed}); "
                f"expected {params.key_type!r}, or leave key_type out (it is derived from the operator)"
            )
        if producers.get(step.signature_column, (None, None))[:2] != (si, oi):
            raise RecipeError(
                f"invalid recipe:\n  dedup[{di}].signature_column: {step.signature_column!r} is not written by {where}; "
                f"set {where}.with_signature: true (history stores signatures, so changing bands/rows keeps matching)"
            )
        bind_scheme(step, params)
