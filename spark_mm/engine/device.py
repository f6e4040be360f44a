"""Pick the torch device for the current task.

Under a Spark stage with a GPU resource profile each task is assigned GPU addresses by the
scheduler (``TaskContext.resources()["gpu"].addresses``); the task pins the first one as
``cuda:<address>``. Outside Spark, or in a task without a GPU resource, the device is ``cuda:0``
when CUDA is available and ``cpu`` otherwise. Importing this module needs neither a SparkContext
nor torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceChoice:
    """The device a task will use and why.

    Attributes:
        device: torch device string (``cpu`` or ``cuda:<n>``).
        spark_gpu_addresses: GPU addresses Spark assigned to the task (empty outside a GPU stage).
        cuda_available: whether the model's runtime sees CUDA in this process (torch by default).
    """

    device: str
    spark_gpu_addresses: tuple[str, ...]
    cuda_available: bool

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def task_gpu_addresses() -> tuple[str, ...]:
    """GPU addresses assigned to the running Spark task; empty outside a task or without GPUs."""
    try:
        from pyspark import TaskContext
    except ImportError:  # pyspark is a core dependency; tolerate odd environments anyway
        return ()
    ctx = TaskContext.get()
    if ctx is None:
        return ()
    gpu = ctx.resources().get("gpu")
    if gpu is None:
        return ()
    return tuple(str(a) for a in gpu.addresses)


def torch_sees_cuda() -> bool:
    """Whether torch is installed and sees a CUDA device (imports torch: seconds, and GBs on a CUDA build)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def select_device(prefer: str = "auto", cuda_available: Callable[[], bool] = torch_sees_cuda) -> DeviceChoice:
    """Choose the device for this task.

    Args:
        prefer: ``auto`` (Spark-assigned GPU, else any CUDA device, else CPU), ``cpu`` or ``cuda``.
        cuda_available: whether the model's runtime sees CUDA. torch by default; a model that does
            not run on torch (the ONNX ones) asks its own runtime, so its tasks never import torch.

    Returns:
        The choice. A task that Spark gave a GPU address but whose process cannot see CUDA (a fake
        discovery script in tests, a CPU-only torch) runs on the CPU and logs why.
    """
    addresses = task_gpu_addresses()
    cuda = cuda_available()
    if prefer == "cpu":
        return DeviceChoice("cpu", addresses, cuda)
    if addresses:
        if cuda:
            return DeviceChoice(f"cuda:{addresses[0]}", addresses, cuda)
        log.warning("Spark assigned GPU %s to this task but the model's runtime sees no CUDA device; using the CPU", addresses)
        return DeviceChoice("cpu", addresses, cuda)
    if cuda:
        return DeviceChoice("cuda:0", addresses, cuda)
    if prefer == "cuda":
        log.warning("a CUDA device was requested but none is available; using the CPU")
    return DeviceChoice("cpu", addresses, cuda)
