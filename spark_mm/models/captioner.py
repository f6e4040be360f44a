"""Transformers vision-to-text models (BLIP, BLIP-2 style) for captioning: where they live, how they load, how they generate.

A captioner is a directory that ``save_pretrained`` wrote (``config.json``, safetensors weights, the
processor's ``preprocessor_config.json`` and tokenizer files), given by ``weights.path`` or found in
the Hugging Face cache under the step's ``model`` id (Data-Juicer's ``hf_img2seq``, default
``Salesforce/blip2-opt-2.7b``). It loads through ``AutoProcessor`` and the image-text-to-text auto
class (``AutoModelForVision2Seq`` on older transformers), so any architecture registered there
(``BlipForConditionalGeneration``, ``Blip2ForConditionalGeneration``, ...) works. Only safetensors
weights load and no remote code runs (Data-Juicer's ``trust_remote_code`` is not offered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spark_mm.models.runtime import require, torch_dtype
from spark_mm.models.weights import HubFile, WeightsLocation

DEFAULT_MODEL = "Salesforce/blip2-opt-2.7b"  # Data-Juicer's video_captioning_from_frames_mapper hf_img2seq


def hub_files(repo_id: str) -> tuple[HubFile, ...]:
    """The snapshot directory of ``repo_id`` (single-file or sharded safetensors)."""
    return (HubFile(repo_id, ("model.safetensors", "model.safetensors.index.json"), directory=True),)


def how_to_provide(repo_id: str) -> str:
    return (
        f"on a machine with network run `hf download {repo_id}` and copy the Hugging Face cache (HF_HOME) to the "
        "workers, or set `weights.path` to a directory holding what `save_pretrained` writes for the model and "
        "its processor (config.json, *.safetensors, preprocessor_config.json, tokenizer files)."
    )


@dataclass
class CaptionerBundle:
    """A loaded vision-to-text model with its processor."""

    model: Any
    processor: Any
    device: str
    dtype: str


def _auto_model_class(transformers: Any) -> Any:
    for name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    raise RuntimeError("transformers has neither AutoModelForImageTextToText nor AutoModelForVision2Seq")


def load_captioner(location: WeightsLocation, device: str, dtype: str) -> CaptionerBundle:
    """Load model and processor from a model directory onto ``device`` at ``dtype`` (eval mode)."""
    transformers = require("transformers")
    path = location.path if location.path.is_dir() else location.path.parent
    cls = _auto_model_class(transformers)
    model = cls.from_pretrained(str(path), dtype=torch_dtype(dtype), use_safetensors=True, trust_remote_code=False)
    model.to(device).eval()
    processor = transformers.AutoProcessor.from_pretrained(str(path), trust_remote_code=False)
    return CaptionerBundle(model, processor, device, dtype)


def preprocess(bundle: CaptionerBundle, images: list[Any], prompt: str | None) -> dict[str, Any]:
    """Processor outputs (CPU tensors) for ``images``, each with ``prompt`` when given (Data-Juicer's call)."""
    texts = [prompt] * len(images) if prompt else None
    out = bundle.processor(images=images, text=texts, return_tensors="pt")
    return {k: v for k, v in out.items() if hasattr(v, "shape")}


def generate(bundle: CaptionerBundle, inputs: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """One decoded text per input row: ``model.generate(**inputs, **settings)``, then
    ``batch_decode(skip_special_tokens=True)``, as Data-Juicer decodes (a prompt the model echoes
    stays in the text, as there)."""
    torch = require("torch")
    dt = torch_dtype(bundle.dtype)
    moved = {k: v.to(bundle.device, dtype=dt if v.is_floating_point() else None) for k, v in inputs.items()}
    with torch.inference_mode():
        ids = bundle.model.generate(**moved, **settings)
    return list(bundle.processor.batch_decode(ids, skip_special_tokens=True))
