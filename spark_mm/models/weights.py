"""Where model weights come from, and what happens when they are not there.

Resolution order for one model:

1. ``weights.path`` from the recipe step (a file or a directory on the worker's file system);
2. the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``), looked up offline;
3. the Hugging Face hub, only when ``weights.allow_download`` is true and ``HF_HUB_OFFLINE`` is unset.

When nothing is found, ``on_missing`` decides: ``fail`` (default) raises ``WeightsNotFound`` before
any work, naming the model, every place looked at and how to provide the weights; ``skip`` lets the
operator emit null columns and report itself as skipped.

Loading is safe only: ``.safetensors`` through safetensors, anything else through
``torch.load(weights_only=True)`` (no pickled code runs).
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from spark_mm.errors import ConfigError, MissingDependency, WeightsNotFound
from spark_mm.hashing import sha256_file

if TYPE_CHECKING:
    import torch

INSTALL_HINT = "pip install 'spark-mm[models]'"


class OnMissing(str, enum.Enum):
    """What a model stage does when its weights cannot be found."""

    FAIL = "fail"
    SKIP = "skip"


class WeightsParams(BaseModel):
    """Recipe block ``weights:`` of a model step.

    Attributes:
        path: local weights file or directory; tried first.
        on_missing: ``fail`` (raise before any work) or ``skip`` (null columns, reported as skipped).
        allow_download: try the Hugging Face hub after the local cache (ignored when ``HF_HUB_OFFLINE``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str | None = None
    on_missing: Literal["fail", "skip"] = "fail"
    allow_download: bool = True


@dataclass(frozen=True)
class HubFile:
    """A file of a Hugging Face repo that holds (or marks) a model's weights.

    Attributes:
        repo_id: ``org/name``.
        filenames: acceptable file names, best first (e.g. safetensors before ``.bin``).
        directory: resolve to the snapshot directory holding the file (transformers models)
            rather than to the file itself.
    """

    repo_id: str
    filenames: tuple[str, ...]
    directory: bool = False


@dataclass(frozen=True)
class WeightsLocation:
    """Weights that were found: the path, where they came from, and their digest."""

    path: Path
    source: Literal["local", "hf_cache", "hub", "package"]
    digest: str


@dataclass(frozen=True)
class WeightsStatus:
    """Outcome of resolving one model's weights (no model is loaded to get it).

    Attributes:
        model_id: the model's configured identity (e.g. ``open_clip:ViT-L-14/openai``).
        location: where the weights are, or None when not found.
        looked_at: every place tried, in order, in words.
        how_to_provide: what a user can do to make the weights available.
        on_missing: the policy that applies when ``location`` is None.
    """

    model_id: str
    location: WeightsLocation | None
    looked_at: tuple[str, ...]
    how_to_provide: str
    on_missing: OnMissing = OnMissing.FAIL

    @property
    def available(self) -> bool:
        return self.location is not None

    @property
    def skipped(self) -> bool:
        """True when the weights are missing and the policy is ``skip``."""
        return self.location is None and self.on_missing is OnMissing.SKIP

    def message(self) -> str:
        """The user-facing explanation of a missing model (used by ``WeightsNotFound`` and reports)."""
        looked = "\n".join(f"  - {p}" for p in self.looked_at) or "  - (nowhere: no path configured)"
        return (
            f"weights for model {self.model_id!r} not found. Looked at:\n{looked}\n"
            f"How to provide them: {self.how_to_provide}\n"
            "Or set `weights.on_missing: skip` on this step to run without this signal (its columns are null)."
        )

    def raise_if_fatal(self) -> None:
        """Raise ``WeightsNotFound`` when the weights are missing and the policy is ``fail``."""
        if self.location is None and self.on_missing is OnMissing.FAIL:
            raise WeightsNotFound(self.message())


def hub_offline() -> bool:
    """Whether the Hugging Face hub must not be contacted (``HF_HUB_OFFLINE`` set to a true value)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants
    except ImportError:
        return os.path.join(os.environ.get("HF_HOME", "~/.cache/huggingface"), "hub")
    return str(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)


def _from_hf_cache(hub: HubFile, looked: list[str]) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        looked.append(f"Hugging Face cache for {hub.repo_id} (huggingface_hub not installed)")
        return None
    cache_dir = os.environ.get("HF_HUB_CACHE") or None
    for name in hub.filenames:
        looked.append(f"Hugging Face cache {_hf_cache_dir()}: {hub.repo_id}/{name}")
        found = try_to_load_from_cache(hub.repo_id, name, cache_dir=cache_dir)
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found).parent if hub.directory else Path(found)
    return None


def _from_hub(hub: HubFile, looked: list[str]) -> Path | None:
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
    except ImportError:
        looked.append(f"Hugging Face hub {hub.repo_id} (huggingface_hub not installed)")
        return None
    for name in hub.filenames:
        try:
            if hub.directory:
                return Path(
                    snapshot_download(
                        hub.repo_id,
                        allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", name],
                    )
                )
            return Path(hf_hub_download(hub.repo_id, name))
        except Exception as exc:  # noqa: BLE001 -- any hub failure just means "not found here"
            looked.append(f"Hugging Face hub {hub.repo_id}/{name}: {type(exc).__name__}: {str(exc)[:160]}")
    return None


def resolve(
    model_id: str,
    params: WeightsParams,
    hub: tuple[HubFile, ...] = (),
    how_to_provide: str = "",
) -> WeightsStatus:
    """Find a model's weights without loading them.

    Args:
        model_id: identity used in messages and cache keys.
        params: the step's ``weights`` block.
        hub: Hugging Face files to look for in the cache (and on the hub, when allowed).
        how_to_provide: model-specific advice appended to the not-found message.

    Returns:
        The status; call ``raise_if_fatal()`` to apply the ``fail`` policy.
    """
    looked: list[str] = []
    policy = OnMissing(params.on_missing)
    advice = how_to_provide or "set `weights.path` on the step to a local file or directory."
    if params.path is not None:
        local = Path(params.path).expanduser()
        looked.append(f"weights.path {local}")
        if local.exists():
            return WeightsStatus(model_id, WeightsLocation(local, "local", weights_digest(local)), tuple(looked), advice, policy)
    for h in hub:
        cached = _from_hf_cache(h, looked)
        if cached is not None:
            return WeightsStatus(model_id, WeightsLocation(cached, "hf_cache", weights_digest(cached)), tuple(looked), advice, policy)
    if hub and params.allow_download and not hub_offline():
        for h in hub:
            fetched = _from_hub(h, looked)
            if fetched is not None:
                return WeightsStatus(model_id, WeightsLocation(fetched, "hub", weights_digest(fetched)), tuple(looked), advice, policy)
    elif hub:
        looked.append("Hugging Face hub: not tried (" + ("HF_HUB_OFFLINE is set" if hub_offline() else "weights.allow_download is false") + ")")
    return WeightsStatus(model_id, None, tuple(looked), advice, policy)


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".onnx", ".json", ".npz"}
_digest_memo: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """SHA-256 of a weights file (memoised per path, size and mtime in this process).

    Files in the Hugging Face cache are content-addressed: a snapshot entry links to a blob named
    by its SHA-256, which is used as is instead of re-reading gigabytes.
    """
    real = Path(os.path.realpath(path))
    if _HEX64.match(real.name):
        return real.name
    st = real.stat()
    memo_key = (str(real), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        if memo_key in _digest_memo:
            return _digest_memo[memo_key]
    digest = sha256_file(real)
    with _digest_lock:
        _digest_memo[memo_key] = digest
    return digest


def weights_digest(path: Path) -> str:
    """Digest of a weights file, or of a directory's weight and config files (names + contents).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "w.safetensors").write_bytes(b"x")
    >>> weights_digest(d) == weights_digest(d) and len(weights_digest(d)) == 64
    True
    """
    if path.is_file():
        return file_digest(path)
    h = hashlib.sha256()
    for child in sorted(path.iterdir()):
        if child.is_file() and child.suffix in _WEIGHT_SUFFIXES:
            h.update(child.name.encode())
            h.update(file_digest(child).encode())
    return h.hexdigest()


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict safely: safetensors, or ``torch.load(weights_only=True)``.

    A checkpoint wrapping its weights under ``state_dict`` is unwrapped and a DataParallel
    ``module.`` prefix is stripped.

    Raises:
        MissingDependency: torch (or safetensors for ``.safetensors``) is not installed.
    """
    try:
        import torch
    except ImportError as exc:
        raise MissingDependency(f"loading {path} needs torch: {INSTALL_HINT}") from exc
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise MissingDependency(f"loading {path} needs safetensors: {INSTALL_HINT}") from exc
        state = load_file(str(path), device="cpu")
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}

