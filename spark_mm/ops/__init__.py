"""Operators: thin classes that declare columns and call Rust kernels or models."""

from spark_mm.ops.base import Filter, FilterDecision, Operator, OpParams, OpResult, Resource

__all__ = ["Filter", "FilterDecision", "Operator", "OpParams", "OpResult", "Resource"]
