"""Hugging Face datasets, resolved to local Parquet files without the ``datasets`` library.

A hub id is looked up in the local HF cache (``local_files_only``) unless ``offline: false``, in
which case the same call downloads from the hub. A local directory is used as is. Only the files of
the requested config and split are read; Spark's Parquet reader does the rest at scale.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath, PurePosixPath

from spark_mm.errors import MissingDependency, SourceError
from spark_mm.sources.files import list_files, source_key
from spark_mm.sources.filesystem import is_s3, storage_for
from spark_mm.sources.specs import HuggingFaceSource

_PATTERNS = ["*.parquet", "**/*.parquet"]


def resolve_hf_files(spec: HuggingFaceSource) -> tuple[str, list[str]]:
    """(root, Parquet files of the split) for a Hugging Face source: a hub id, a local folder, or a
    dataset folder copied to S3 (``dataset: s3://bucket/datasets/name``).

    Raises:
        SourceError: the dataset is not in the cache (offline) or has no Parquet files for the split.
    """
    if is_s3(spec.dataset):
        root, listed = list_files(spec.dataset.rstrip("/"), (".parquet",), storage_for(spec.dataset))
        files = [f for f in listed if _in_split(PurePosixPath(source_key(root, f)), spec.split, spec.config)]
    else:
        local = Path(spec.dataset).expanduser()
        base = local.resolve() if local.is_dir() else _snapshot(spec)
        root = str(base)
        files = [str(f) for f in sorted(base.rglob("*.parquet")) if _in_split(f.relative_to(base), spec.split, spec.config)]
    if not files:
        raise SourceError(
            f"dataset {spec.dataset!r}: no Parquet files for config={spec.config!r} split={spec.split!r} under {root}. "
            "Files are matched by a path segment or file-name prefix equal to the split (e.g. data/train-00000-of-00001.parquet)."
        )
    return root, files


def _snapshot(spec: HuggingFaceSource) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as err:
        raise MissingDependency("Hugging Face sources need huggingface_hub: pip install huggingface_hub") from err
    try:
        path = snapshot_download(
            repo_id=spec.dataset,
            repo_type="dataset",
            revision=spec.revision,
            cache_dir=spec.cache_dir,
            local_files_only=spec.offline,
            allow_patterns=_PATTERNS,
        )
    except LocalEntryNotFoundError as err:
        where = spec.cache_dir or "$HF_HUB_CACHE (default ~/.cache/huggingface/hub)"
        raise SourceError(
            f"dataset {spec.dataset!r} is not in the local Hugging Face cache at {where}. Download it where the hub is "
            f"reachable (huggingface-cli download --repo-type dataset {spec.dataset}) and copy the cache here, point "
            "source.dataset at a local folder, or set source.offline=false to download."
        ) from err
    return Path(path)


def _in_split(rel: PurePath, split: str, config: str | None) -> bool:
    parts = rel.parts
    if config and config not in parts[:-1]:
        return False
    name = rel.name
    return split in parts[:-1] or re.match(rf"^{re.escape(split)}([-_.]|$)", name) is not None
