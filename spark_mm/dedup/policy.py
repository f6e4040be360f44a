"""Keep policies and reason codes of dedup clusters."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class DupReason(str, enum.Enum):
    """Why a sample is not kept (``dup_reason``); null when ``dup_keep`` is true."""

    IN_RUN = "in_run"
    """It duplicates a member of its cluster that this run kept under the keep policy."""
    HISTORY = "history"
    """It duplicates a sample kept by an earlier run (``dedup_keys``)."""
    MISSING_INPUT = "missing_input"
    """Its dedup key is null (input missing, errored or empty): it cannot be checked, so it is not kept."""
    NOT_IN_TARGET = "not_in_target"
    """Image-based filter (DataComp): its nearest centroid is not one of the target clusters."""


class KeepPolicy(BaseModel):
    """Which member of a duplicate cluster is kept.

    ``smallest_id`` keeps the smallest ``sample_id`` (deterministic, needs nothing else).
    ``max_signal`` keeps the member with the highest ``signal_column`` (e.g. an aesthetic score);
    nulls lose, ties go to the smallest id.

    >>> KeepPolicy(kind="max_signal", signal_column="aesthetic_score").signal_column
    'aesthetic_score'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["smallest_id", "max_signal"] = "smallest_id"
    signal_column: str | None = None

    @model_validator(mode="after")
    def _check(self) -> KeepPolicy:
        if self.kind == "max_signal" and not self.signal_column:
            raise ValueError("keep policy 'max_signal' needs signal_column (e.g. 'aesthetic_score')")
        if self.kind == "smallest_id" and self.signal_column:
            raise ValueError("keep policy 'smallest_id' takes no signal_column")
        return self
