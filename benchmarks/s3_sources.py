"""Listing and reading source files on S3 (moto's server on 127.0.0.1) vs the same files on disk.

Measures what ``sources.files.list_files`` and ``sources.filesystem.open_input`` cost per object
and per MiB, the two things an S3 source adds to a run: the driver's listing, and the executors'
reads (the content digest and the parse each read a file in full). Run:

    .venv/bin/python benchmarks/s3_sources.py [--objects 2000] [--mib 64]

moto keeps objects in memory and serves from one Python process, so the numbers are a floor for
a real store's latency, not its bandwidth.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--mib", type=int, default=64)
    args = ap.parse_args()

    from spark_mm.devstack import object_store, processes
    from spark_mm.hashing import sha256_stream
    from spark_mm.sources import filesystem
    from spark_mm.sources.files import list_files

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = object_store.start(root / "logs")
        try:
            os.environ.update({**object_store.credentials_env(), "AWS_ENDPOINT_URL": store.endpoint})
            object_store.create_bucket(store, "bench")
            s3 = filesystem.Storage.from_env().s3()
            local = root / "tree"
            for i in range(args.objects):
                p = local / f"d{i % 20:02d}" / f"f{i:05d}.jsonl"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b'{"text": "x"}\n')
                with s3.open_output_stream(f"bench/tree/{p.relative_to(local).as_posix()}") as out:
                    out.write(b'{"text": "x"}\n')
            big = os.urandom(args.mib << 20)
            (root / "big.bin").write_bytes(big)
            with s3.open_output_stream("bench/big.bin") as out:
                out.write(big)
            storage = filesystem.Storage.from_env()

            for name, path in (("local", str(local)), ("s3", "s3://bench/tree"), ("s3 glob", "s3://bench/tree/d0*/*.jsonl")):
                t0 = time.perf_counter()
                _, files = list_files(path, (".jsonl",), filesystem.storage_for(path))
                dt = time.perf_counter() - t0
                print(f"list {name:8s} {len(files):6d} files  {dt * 1000:8.1f} ms  ({dt / len(files) * 1e6:.0f} us/file)")

            for name, path in (("local", str(root / "big.bin")), ("s3", "s3://bench/big.bin")):
                t0 = time.perf_counter()
                with filesystem.open_input(path, storage) as fh:
                    _, n = sha256_stream(fh)
                dt = time.perf_counter() - t0
                print(f"read {name:8s} {n >> 20:6d} MiB    {dt * 1000:8.1f} ms  ({n / dt / (1 << 20):.0f} MiB/s, sha256 included)")

            t0 = time.perf_counter()
            for i in range(200):
                with filesystem.open_input(f"s3://bench/tree/d{i % 20:02d}/f{i:05d}.jsonl", storage) as fh:
                    fh.read()
            dt = time.perf_counter() - t0
            print(f"open+read small s3 objects: {dt / 200 * 1000:.1f} ms each")
        finally:
            processes.stop(store.pid)


if __name__ == "__main__":
    main()
