"""The dev store's persistence: moto's server killed (SIGKILL) and restarted on its port gets its
objects back from its recording, multipart uploads included (their upload ids are remapped)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from spark_mm.devstack import object_store
from spark_mm.errors import ConfigError


def _client(store: object_store.ObjectStore):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("s3", endpoint_url=store.endpoint, region_name=object_store.REGION,
                        aws_access_key_id=object_store.DEV_ACCESS_KEY, aws_secret_access_key=object_store.DEV_SECRET_KEY)


def _keys(client) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket="lake").get("Contents", []))


def test_a_killed_store_restarts_with_its_objects(tmp_path: Path) -> None:
    pytest.importorskip("moto.server", reason="moto's server is the dev stack's object store (spark-mm[stack])")
    store = object_store.start(tmp_path, record=tmp_path / "recording.jsonl")
    try:
        c = _client(store)
        c.create_bucket(Bucket="lake")
        small = os.urandom(200_000)
        c.put_object(Bucket="lake", Key="t/data/a.parquet", Body=small)
        c.get_object(Bucket="lake", Key="t/data/a.parquet")["Body"].read()  # reads are not replayed
        parts = [os.urandom(5 * 1024 * 1024), os.urandom(1000)]  # 5 MiB: S3's smallest non-last part
        up = c.create_multipart_upload(Bucket="lake", Key="t/big.bin")["UploadId"]
        tags = [c.upload_part(Bucket="lake", Key="t/big.bin", UploadId=up, PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)]
        c.complete_multipart_upload(Bucket="lake", Key="t/big.bin", UploadId=up, MultipartUpload={"Parts": [{"ETag": t, "PartNumber": i + 1} for i, t in enumerate(tags)]})
        c.put_object(Bucket="lake", Key="t/gone", Body=b"x")
        c.delete_object(Bucket="lake", Key="t/gone")
        os.killpg(store.pid, signal.SIGKILL)

        restarted = object_store.restart(store, tmp_path)
        store = restarted.store
        assert store.port == restarted.store.port and restarted.replayed == 8  # bucket, 2 puts, 4 multipart calls, delete
        c = _client(store)
        assert _keys(c) == ["t/big.bin", "t/data/a.parquet"]
        assert c.get_object(Bucket="lake", Key="t/data/a.parquet", Range="bytes=1000-1999")["Body"].read() == small[1000:2000]
        assert c.get_object(Bucket="lake", Key="t/big.bin")["Body"].read() == b"".join(parts)

        c.put_object(Bucket="lake", Key="t/after", Body=b"y")  # recorded by the new server: a second restart keeps it
        store = object_store.restart(store, tmp_path).store
        assert _keys(_client(store)) == ["t/after", "t/big.bin", "t/data/a.parquet"]
    finally:
        object_store.processes.stop(store.pid)


def test_a_store_without_a_recording_is_not_restarted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without a recording"):
        object_store.restart(object_store.ObjectStore(pid=0, port=1), tmp_path)


def test_compact_keeps_entries_that_concurrent_requests_left_on_one_line(tmp_path: Path) -> None:
    import json

    from spark_mm.devstack import recording

    def entry(method: str, key: str) -> str:
        return json.dumps({"method": method, "url": f"http://127.0.0.1:1/lake/{key}", "headers": {}, "body": "", "body_encoded": False})

    path = tmp_path / "recording.jsonl"
    # moto writes an entry and its newline in two calls: two threads can interleave them
    path.write_text(entry("PUT", "a") + entry("PUT", "b") + "\n\n" + entry("GET", "a") + "\n" + entry("DELETE", "a") + "\n" + entry("PUT", "c")[:30])
    kept = recording.compact(path)
    assert [(e["method"], e["url"].rsplit("/", 1)[1]) for e in kept] == [("PUT", "a"), ("PUT", "b"), ("DELETE", "a")]
    assert recording.compact(path) == kept  # the rewritten file is the compacted log
    path.write_text("{not json\n" + entry("PUT", "a") + "\n")
    with pytest.raises(ConfigError, match="line 1 is not JSON"):
        recording.compact(path)
