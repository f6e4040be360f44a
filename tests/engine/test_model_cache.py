"""The per-worker model cache: LRU eviction, key identity, one load under concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from spark_mm.engine.model_cache import ModelCache, ModelKey


def key(name: str, digest: str = "d", device: str = "cpu", dtype: str = "float32") -> ModelKey:
    return ModelKey(name, digest, device, dtype)


def test_loads_once_then_hits() -> None:
    cache = ModelCache(capacity=2)
    calls: list[str] = []
    for _ in range(3):
        assert cache.get_or_load(key("a"), lambda: calls.append("a") or "A") == "A"
    assert calls == ["a"]
    assert (cache.loads, cache.hits) == (1, 2)


def test_evicts_least_recently_used() -> None:
    cache = ModelCache(capacity=2)
    cache.get_or_load(key("a"), lambda: "A")
    cache.get_or_load(key("b"), lambda: "B")
    cache.get_or_load(key("a"), lambda: "A2")  # touch a: b becomes the LRU entry
    cache.get_or_load(key("c"), lambda: "C")
    assert cache.keys() == [key("a"), key("c")]
    assert key("b") not in cache
    assert cache.evictions == 1
    # an evicted model is loaded again on the next request
    assert cache.get_or_load(key("b"), lambda: "B2") == "B2"
    assert cache.keys() == [key("c"), key("b")]


def test_every_key_part_distinguishes_models() -> None:
    cache = ModelCache(capacity=8)
    keys = [key("m"), key("m", digest="other"), key("m", device="cuda:0"), key("m", dtype="float16")]
    for i, k in enumerate(keys):
        assert cache.get_or_load(k, lambda i=i: i) == i
    assert len(cache) == 4


def test_evict_and_clear() -> None:
    cache = ModelCache(capacity=3)
    cache.get_or_load(key("a"), lambda: 1)
    cache.get_or_load(key("b"), lambda: 2)
    assert cache.evict(key("a")) is True
    assert cache.evict(key("a")) is False
    cache.clear()
    assert len(cache) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ModelCache(capacity=0)


def test_concurrent_requests_load_once() -> None:
    cache = ModelCache(capacity=2)
    loads: list[int] = []

    def slow_loader() -> str:
        loads.append(1)
        time.sleep(0.2)
        return "M"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load(key("m"), slow_loader))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["M"] * 4
    assert len(loads) == 1


def test_loader_failure_is_not_cached() -> None:
    cache = ModelCache(capacity=2)

    def boom() -> str:
        raise RuntimeError("no GPU memory")

    with pytest.raises(RuntimeError):
        cache.get_or_load(key("m"), boom)
    assert key("m") not in cache
    assert cache.get_or_load(key("m"), lambda: "ok") == "ok"


def test_device_outside_spark_is_cpu_without_cuda() -> None:
    from spark_mm.engine.device import select_device, task_gpu_addresses

    assert task_gpu_addresses() == ()
    choice = select_device("cpu")
    assert choice.device == "cpu" and not choice.is_cuda
