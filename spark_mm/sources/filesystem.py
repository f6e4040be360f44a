"""Where a source's files live: the local disk or an S3 object store, behind one list/open API.

Readers never branch on the scheme: they list with :func:`list_paths` and open with
:func:`open_input` (a seekable binary stream) whatever the path, so ``source.path:
s3://bucket/crawl/`` works for every file-based source. S3 goes through ``pyarrow.fs`` (already a
dependency; no S3A jars, no boto on the executors).

Settings come from the standard places, never from the recipe: ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (an S3-compatible store), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``; without keys pyarrow's
default chain applies (profiles, instance metadata). The driver resolves them once into a
:class:`Storage` and hands it to the executors with the task (a closure or a redacted data source
option), because executors do not share the driver's environment (a running local-mode JVM, a
cluster's workers). A :class:`Storage` never prints its keys.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from spark_mm.errors import SourceError

S3_SCHEMES = ("s3://", "s3a://")
GLOB_CHARS = "*?["
# the data source option carrying a Storage to the executors; Spark redacts values of keys matching "secret"
STORAGE_OPTION = "storage_secret"
# what a user sets to reach a store; named in every error about one
S3_SETTINGS_HINT = (
    "set AWS_ENDPOINT_URL (an S3-compatible store), AWS_REGION and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
    "in the environment (or use an instance profile)"
)


def is_s3(path: str) -> bool:
    """Whether ``path`` names an object in an S3 store.

    >>> is_s3("s3://bucket/a.warc.gz"), is_s3("s3a://b/x"), is_s3("/data/s3://x")
    (True, True, False)
    """
    return path.startswith(S3_SCHEMES)


def split_s3(path: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://`` URI; the key has no leading or trailing slash.

    >>> split_s3("s3://bucket/crawl/2024/"), split_s3("s3a://bucket")
    (('bucket', 'crawl/2024'), ('bucket', ''))
    """
    rest = path.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


@dataclass(frozen=True)
class Storage:
    """How executors reach the object store: endpoint, region and (optional) keys, resolved on the driver.

    The keys are excluded from ``repr``, so a Storage in a log line or an exception shows none.

    >>> s = Storage(endpoint="http://127.0.0.1:9000", region="us-east-1", access_key="AK", secret_key="SK")
    >>> "SK" in repr(s) or "AK" in repr(s)
    False
    """

    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Storage:
        """The settings of the standard AWS variables (``os.environ`` unless ``env`` is given).

        >>> Storage.from_env({"AWS_ENDPOINT_URL": "http://h:1", "AWS_DEFAULT_REGION": "eu-west-1"})
        Storage(endpoint='http://h:1', region='eu-west-1')
        """
        e = os.environ if env is None else env
        return cls(
            endpoint=e.get("AWS_ENDPOINT_URL_S3") or e.get("AWS_ENDPOINT_URL") or None,
            region=e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or None,
            access_key=e.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=e.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=e.get("AWS_SESSION_TOKEN") or None,
        )

    def to_json(self) -> str:
        """For a data source option (whose key must contain ``secret`` so Spark redacts it in plans)."""
        return json.dumps({k: v for k, v in self.__dict__.items() if v is not None})

    @classmethod
    def from_json(cls, text: str | None) -> Storage:
        return cls(**json.loads(text)) if text else cls.from_env()

    def s3(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` with these settings (pyarrow's default chain for what is unset)."""
        from pyarrow import fs as pafs

        kwargs: dict[str, Any] = {}
        if self.endpoint:
            scheme, sep, host = self.endpoint.partition("://")
            kwargs["endpoint_override"] = host.rstrip("/") if sep else self.endpoint
            if sep:
                kwargs["scheme"] = scheme
        if self.region:
            kwargs["region"] = self.region
        if self.access_key and self.secret_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        return pafs.S3FileSystem(**kwargs)


def storage_for(*paths: str) -> Storage | None:
    """The driver's settings when any of ``paths`` is on S3, else None (local files need none)."""
    return Storage.from_env() if any(is_s3(p) for p in paths) else None


# one S3FileSystem per settings per process: executors open many files of one source
_S3_CACHE: dict[Storage, Any] = {}


def _s3(storage: Storage | None) -> Any:
    storage = storage or Storage.from_env()
    fs = _S3_CACHE.get(storage)
    if fs is None:
        fs = _S3_CACHE[storage] = storage.s3()
    return fs


def _arrow_path(path: str) -> str:
    bucket, key = split_s3(path)
    return f"{bucket}/{key}" if key else bucket


def _where(storage: Storage | None) -> str:
    s = storage or Storage.from_env()
    return f"endpoint {s.endpoint or 'AWS default'}, region {s.region or 'default'}"


def _store_error(path: str, err: Exception, storage: Storage | None) -> SourceError:
    return SourceError(f"cannot reach {path} ({_where(storage)}): {type(err).__name__}: {err}; {S3_SETTINGS_HINT}")


READ_BUFFER = 1 << 20  # one ranged GET per MiB read, not one per small read of a parser


class _Ranged(io.RawIOBase):
    """A seekable raw stream over an S3 object: each ``readinto`` is one ranged GET (``read_at``)."""

    def __init__(self, native: Any) -> None:
        self._f, self._pos, self._size = native, 0, native.size()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._f.read_at(n, self._pos)
        memoryview(buf)[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def open_input(path: str, storage: Storage | None = None) -> BinaryIO:
    """A seekable, buffered binary stream over the file or object at ``path`` (the caller closes it).

    Raises:
        OSError: it is missing or unreadable (``FileNotFoundError`` for a missing object).
    """
    if not is_s3(path):
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    native = _s3(storage).open_input_file(_arrow_path(path))
    return io.BufferedReader(_Ranged(native), buffer_size=READ_BUFFER)  # type: ignore[return-value]


def size(path: str, storage: Storage | None = None) -> int:
    """Size in bytes of the file or object at ``path``.

    Raises:
        OSError: it is missing (``FileNotFoundError``) or unreadable.
    """
    if not is_s3(path):
        return os.stat(path).st_size
    from pyarrow import fs as pafs

    info = _s3(storage).get_file_info(_arrow_path(path))
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"no such object: {path}")
    return int(info.size)


def is_file(path: str, storage: Storage | None = None) -> bool:
    """Whether ``path`` is an existing file or object."""
    try:
        size(path, storage)
    except OSError:
        return False
    return True


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Python ``glob(recursive=True)`` semantics as a regex: ``*``/``?`` stay in one segment, ``**/`` spans any.

    >>> bool(glob_regex("a/**/*.gz").fullmatch("a/x/y/z.gz")), bool(glob_regex("a/*.gz").fullmatch("a/x/z.gz"))
    (True, False)
    >>> bool(glob_regex("a/**/*.gz").fullmatch("a/z.gz")), bool(glob_regex("a/f[0-9].gz").fullmatch("a/f7.gz"))
    (True, True)
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (end := pattern.find("]", i + 1)) > i:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def list_s3(path: str, storage: Storage | None = None) -> tuple[str, list[str], bool]:
    """(root, every object under ``path`` or matching its glob, whether ``path`` is one object).

    The root is what source keys are relative to, as for a local path: the prefix itself, a single
    object's parent, or the deepest common parent of a glob's matches.

    Raises:
        SourceError: the store cannot be reached, or the bucket does not exist.
    """
    from pyarrow import fs as pafs

    bucket, key = split_s3(path)
    scheme = path.split("://", 1)[0] + "://"
    s3 = _s3(storage)
    glob = any(ch in key for ch in GLOB_CHARS)
    if glob:
        fixed = key[: min(key.find(ch) for ch in GLOB_CHARS if ch in key)]
        prefix = fixed[: fixed.rfind("/")] if "/" in fixed else ""
    else:
        prefix = key
    base = f"{bucket}/{prefix}".rstrip("/")
    try:
        if not glob and key:
            info = s3.get_file_info(base)
            if info.type == pafs.FileType.File:
                parent = f"{scheme}{bucket}/{key.rsplit('/', 1)[0]}" if "/" in key else f"{scheme}{bucket}"
                return parent, [f"{scheme}{base}"], True
        infos = s3.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as err:
        raise _store_error(path, err, storage) from err
    objects = sorted(f"{scheme}{i.path}" for i in infos if i.type == pafs.FileType.File)
    if not glob:
        return f"{scheme}{base}", objects, False
    rx = glob_regex(key)
    matched = [o for o in objects if rx.fullmatch(split_s3(o)[1])]
    if matched:
        parents = [split_s3(m)[1].rsplit("/", 1)[0] if "/" in split_s3(m)[1] else "" for m in matched]
        common = os.path.commonpath(parents) if all(parents) else ""
        return f"{scheme}{bucket}/{common}".rstrip("/"), matched, False
    return f"{scheme}{base}", [], False
