"""The per-worker model cache: the one deliberate global in spark-mm.

Besides model weights it holds other large read-only per-worker assets loaded the same way (the URL
filter's block lists, keyed by their content digest).

Lifetime. One ``ModelCache`` instance (``MODEL_CACHE``) lives in each Python process. On Spark that
process is a Python worker, one per concurrently running task; workers are reused across tasks
(``spark.python.worker.reuse``, on by default), so a model loaded by the first task of a slot stays
resident for every later task on that slot. One task per GPU (task GPU amount 1.0) therefore keeps
one copy of each model per GPU. Nothing is shipped from the driver: the loader runs on the worker.

Bounds. The cache holds at most ``capacity`` models (env ``SPARK_MM_MODEL_CACHE_SIZE``, default 4)
and evicts the least recently used one beyond that. Eviction drops the cache's reference; the
memory is freed once no operator still holds the model (an operator keeps its model only while it
runs a stage). Keys are ``ModelKey(model_id, weights_digest, device, dtype)`` so two stages asking
for the same weights on the same device at the same precision share one copy, and new weights
under the same name never hit a stale entry.

Concurrency. Lookups take one lock; a load holds a per-key lock only, so two threads asking for
the same key load it once while other keys stay available.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_CAPACITY = 4
CAPACITY_ENV = "SPARK_MM_MODEL_CACHE_SIZE"


@dataclass(frozen=True)
class ModelKey:
    """Identity of one loaded model copy.

    Attributes:
        model_id: the model's name as configured (e.g. ``open_clip:ViT-L-14/openai``).
        weights_digest: digest of the weights file(s) actually loaded (see ``spark_mm.models.weights``).
        device: torch device string (``cpu``, ``cuda:0``) or runtime name for non-torch models.
        dtype: compute precision (``float32``, ``float16``, ``bfloat16``).
    """

    model_id: str
    weights_digest: str
    device: str
    dtype: str


class ModelCache:
    """A small thread-safe LRU of loaded models.

    >>> cache = ModelCache(capacity=1)
    >>> k1, k2 = ModelKey("a", "d1", "cpu", "float32"), ModelKey("b", "d2", "cpu", "float32")
    >>> cache.get_or_load(k1, lambda: "model-a")
    'model-a'
    >>> cache.get_or_load(k2, lambda: "model-b")
    'model-b'
    >>> cache.keys() == [k2]
    True
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"model cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[ModelKey, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[ModelKey, threading.Lock] = {}
        self.loads = 0
        self.hits = 0
        self.evictions = 0

    def get_or_load(self, key: ModelKey, loader: Callable[[], T]) -> T:
        """Return the cached model for ``key``, calling ``loader()`` once if absent.

        Args:
            key: the model identity.
            loader: zero-argument factory that builds the model on this worker.

        Returns:
            The cached (or freshly loaded) model object.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]  # type: ignore[no-any-return]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have loaded it while we waited
                if key in self._entries:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return self._entries[key]  # type: ignore[no-any-return]
            model = loader()
            with self._lock:
                self._entries[key] = model
                self._entries.move_to_end(key)
                self.loads += 1
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
                    self.evictions += 1
                self._loading.pop(key, None)
            return model

    def evict(self, key: ModelKey) -> bool:
        """Drop ``key`` if cached; returns whether it was there."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        """Drop every cached model and reset the counters (tests, or freeing GPU memory)."""
        with self._lock:
            self._entries.clear()
            self.loads = self.hits = self.evictions = 0

    def keys(self) -> list[ModelKey]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries


def _capacity_from_env() -> int:
    raw = os.environ.get(CAPACITY_ENV)
    if raw is None:
        return DEFAULT_CAPACITY
    try:
        return max(1, int(raw))
    except ValueError:
        return DEFAULT_CAPACITY


MODEL_CACHE = ModelCache(_capacity_from_env())
"""The process-wide cache every model operator loads through."""
