"""WebDataset tar shards → one bronze row per key (the img2dataset / video2dataset layout).

A shard holds members named ``KEY.EXT`` (``000012.jpg``, ``000012.txt``, ``000012.json``), the
members of one key next to each other. As WebDataset does, the key is the member's path up to
the first dot of its file name and the extension the rest, lowercased. Per key:

- an image member (``jpg``, ``png``, ``webp``, ...) → ``image``; a video member (``mp4``,
  ``webm``, ...) → ``payload``, or a reference to its bytes in the tar when it is over
  ``inline_max_bytes`` (``sources.video_bytes``);
- ``txt`` → ``caption``; ``json`` → ``record_meta`` (nested objects flattened to dotted keys,
  non-string values as JSON) and ``url`` from its ``url`` field, ``caption`` from its ``caption``
  field when there is no ``txt``;
- ``record_meta['wds_key']`` and ``record_meta['wds_members']`` (the extensions, in tar order).

Bad input is data: a bad member (invalid JSON, non-UTF-8 text, a second image, an oversize
image) is an ``ingest_error`` on its key's row; a key whose members are not contiguous, a member
without an extension, or a tar that breaks part-way is a file-level error row. Runs on an
executor, one shard per partition; reads members lazily, never the whole shard at once.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from spark_mm.sources import filesystem
from spark_mm.sources.filesystem import Storage
from spark_mm.sources.video_bytes import HEAD_BYTES, PAYLOAD_BYTES, mime_for, reference_meta
from spark_mm.sources.warc_records import FILE_ERROR

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"})
VIDEO_EXTENSIONS = frozenset({"mp4", "webm", "mkv", "mov", "avi", "m4v"})
_IMAGE_MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff"}


def split_key(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name, as WebDataset's ``base_plus_ext``; None without an extension.

    >>> split_key("shard/000012.seg.MP4")
    ('shard/000012', 'seg.mp4')
    >>> split_key("README") is None
    True
    """
    slash = name.rfind("/") + 1
    dot = name.find(".", slash)
    if dot <= slash or dot == len(name) - 1:
        return None
    return name[:dot], name[dot + 1 :].lower()


def flatten_json(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """String values of a JSON object, nested objects as dotted keys, other values as JSON.

    >>> flatten_json({"a": "x", "b": {"c": 1, "d": None}, "e": [1, 2]})
    {'a': 'x', 'b.c': '1', 'b.d': 'null', 'e': '[1, 2]'}
    """
    out: dict[str, str] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_json(v, name + "."))
        else:
            out[name] = v if isinstance(v, str) else json.dumps(v)
    return out


@dataclass
class _Key:
    """The members of one key seen so far."""

    key: str
    offset: int  # tar header offset of its first member
    row: dict[str, Any] = field(default_factory=dict)
    exts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    doc: dict[str, Any] | None = None
    has_txt: bool = False
    broken: bool = False  # the shard broke while reading this key's members


class _ShardReader:
    def __init__(self, path: str, *, inline_max_bytes: int, max_image_bytes: int, id_field: str | None, storage: Storage | None = None) -> None:
        self.path, self.inline_max, self.max_image, self.id_field = path, inline_max_bytes, max_image_bytes, id_field
        self.storage = storage

    def rows(self) -> Iterator[dict[str, Any]]:
        seen: dict[str, int] = {}
        current: _Key | None = None
        try:
            with filesystem.open_input(self.path, self.storage) as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
                for member in tar:
                    if member.isdir():
                        continue
                    split = split_key(member.name)
                    problem = None
                    if not member.isfile():
                        problem = f"member {member.name!r} at offset {member.offset} is not a regular file"
                    elif split is None:
                        problem = f"member {member.name!r} at offset {member.offset} has no extension (expected KEY.EXT)"
                    if problem:
                        if current is not None:
                            yield self._finish(current)
                            current = None
                        yield _file_error(member.offset, problem)
                        continue
                    assert split is not None
                    key, ext = split
                    if current is None or key != current.key:
                        if current is not None:
                            yield self._finish(current)
                            current = None
                        if key in seen:
                            yield _file_error(member.offset, f"key {key!r} repeats at offset {member.offset} (first at offset {seen[key]}); "
                                              "the members of a key must be contiguous")
                            continue
                        seen[key] = member.offset
                        current = _Key(key, member.offset)
                    self._add(tar, member, ext, current)
                end = tar.offset
        except (tarfile.TarError, OSError, EOFError) as err:
            if current is not None:
                current.errors.append(f"shard breaks in this key: {type(err).__name__}: {err}")
                current.broken = True
                yield self._finish(current)
                current = None
            yield _file_error(-1, f"cannot read tar {self.path}: {type(err).__name__}: {err}")
            return
        if current is not None:
            yield self._finish(current)
            current = None
        trailing = _trailing_data(self.path, end, self.storage)
        if trailing is not None:
            # tarfile ends quietly at a header cut short: the bytes left are not a tar's zero end blocks
            yield _file_error(end, f"cannot read tar {self.path}: {trailing} bytes at offset {end} are not a tar header (truncated shard?)")

    def _add(self, tar: tarfile.TarFile, member: tarfile.TarInfo, ext: str, k: _Key) -> None:
        k.exts.append(ext)
        last = ext.rsplit(".", 1)[-1]
        where = f"{k.key}.{ext}"
        if last in VIDEO_EXTENSIONS:
            if "payload" in k.row or PAYLOAD_BYTES in k.row.get("_meta", {}):
                k.errors.append(f"{where}: a second video member; kept the first")
                return
            if member.size > self.inline_max:
                fh = tar.extractfile(member)
                head = fh.read(HEAD_BYTES) if fh else b""
                k.row["_meta"] = reference_meta(member.offset_data, member.size)
                k.row["mime_type"] = mime_for(head, member.name)
                k.row["payload"] = None
                return
            data = _read(tar, member)
            k.row["payload"] = data
            k.row["_meta"] = {PAYLOAD_BYTES: str(member.size)}
            k.row["mime_type"] = mime_for(data[:HEAD_BYTES], member.name)
        elif last in IMAGE_EXTENSIONS:
            if "image" in k.row:
                k.errors.append(f"{where}: a second image member; kept the first")
                return
            if member.size > self.max_image:
                k.errors.append(f"{where}: image member of {member.size} bytes exceeds max_image_bytes {self.max_image}")
                k.row["image"] = None
                return
            k.row["image"] = _read(tar, member)
            k.row.setdefault("mime_type", _IMAGE_MIME.get(last))
        elif ext == "txt":
            raw = _read(tar, member)
            try:
                k.row["caption"] = raw.decode("utf-8")
                k.has_txt = True
            except UnicodeDecodeError as err:
                k.errors.append(f"{where}: caption is not UTF-8: {err}")
        elif ext == "json":
            try:
                doc = json.loads(_read(tar, member))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                k.errors.append(f"{where}: invalid JSON: {err}")
                return
            if not isinstance(doc, dict):
                k.errors.append(f"{where}: expected an object, got {type(doc).__name__}")
                return
            k.doc = doc

    def _finish(self, k: _Key) -> dict[str, Any]:
        meta = dict(k.row.pop("_meta", {}))
        row: dict[str, Any] = {"source_offset": k.offset, "source_record_id": k.key, **k.row}
        doc = k.doc or {}
        if doc:
            flat = flatten_json(doc)
            meta = {**flat, **meta}
            if isinstance(doc.get("url"), str):
                row["url"] = doc["url"]
            if not k.has_txt and isinstance(doc.get("caption"), str):
                row["caption"] = doc["caption"]
        meta["wds_key"] = k.key
        meta["wds_members"] = ",".join(k.exts)
        row["record_meta"] = meta
        row["_position"] = k.key
        if self.id_field:
            native = doc.get(self.id_field)
            if native is None or isinstance(native, (dict, list)):
                k.errors.append(f"{k.key}: id field {self.id_field!r} missing, null or not a scalar in its json")
                row["source_record_id"] = None
            else:
                row["source_record_id"] = native if isinstance(native, str) else json.dumps(native)
        if not any(e.rsplit(".", 1)[-1] in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS for e in k.exts):
            k.errors.append(f"{k.key}: no image or video member (members: {meta['wds_members']})")
        row["ingest_error"] = "; ".join(k.errors) or None
        return row


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fh = tar.extractfile(member)
    data = fh.read() if fh is not None else b""
    if len(data) != member.size:
        raise tarfile.ReadError(f"member {member.name!r} truncated: {len(data)} of {member.size} bytes")
    return data


def _trailing_data(path: str, end: int, storage: Storage | None = None) -> int | None:
    """How many bytes follow ``end`` (where tarfile stopped) when any of them is non-zero; None for a clean end."""
    with filesystem.open_input(path, storage) as fh:
        fh.seek(end)
        rest = 0
        dirty = False
        while chunk := fh.read(1 << 20):
            rest += len(chunk)
            dirty = dirty or any(chunk)
    return rest if dirty else None


def _file_error(offset: int, message: str) -> dict[str, Any]:
    return {"source_offset": offset, "ingest_error": message, FILE_ERROR: True}


def iter_webdataset_records(
    path: str, *, inline_max_bytes: int, max_image_bytes: int, id_field: str | None, storage: Storage | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one bronze row per key of the tar shard at ``path``, local or ``s3://`` (positional id: shard digest + key)."""
    return _ShardReader(path, inline_max_bytes=inline_max_bytes, max_image_bytes=max_image_bytes, id_field=id_field, storage=storage).rows()
