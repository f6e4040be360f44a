"""Dedup benchmarks.

1. ``signatures``: MinHash signatures, documents/s on one core: spark-mm's Rust ``txt_minhash``
   (normalise + 5-gram shingles + 128 permutations + band keys, from raw text) vs datasketch's
   batch API ``MinHash.bulk(num_perm=128)`` on the *same* shingles (precomputed, not timed for
   datasketch), in one process, on the real CC documents of ../shared/data/text plus generated
   documents.
2. ``spark``: end-to-end Spark MinHash dedup of N generated documents on ``local[*]``:
   stage A generates the documents and runs the ``txt_minhash`` operator in ``mapInArrow``
   (written to Parquet, as a stage commit would be), stage B reads the keys and runs
   ``minhash_dedup`` (band buckets -> star edges -> connected components -> keep policy).
   Reports wall time per stage, peak RSS of the JVM plus its Python workers (sampled), and shuffle
   bytes from Spark's REST API (``/api/v1/applications/<id>/stages``).

    python benchmarks/dedup.py signatures [--generated 3000]
    python benchmarks/dedup.py spark --docs 100000 [--docs 1000000]   # one process per size
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPARK_MM_SHARED_DATA", REPO.parent / "shared" / "data"))
VOCAB = 50_000
DUP_EVERY = 10  # docs with id % DUP_EVERY == 1 are 2%-edited copies of doc id - 1


def real_docs() -> list[str]:
    out: list[str] = []
    for f in sorted((DATA / "text").glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh if line.strip()]
    return out


def _vocab():  # type: ignore[no-untyped-def]
    import numpy as np

    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    rng = np.random.default_rng(0)
    lens = rng.integers(2, 10, VOCAB)
    return np.array(["".join(rng.choice(letters, n)) for n in lens])


def generated_docs(ids, vocab):  # type: ignore[no-untyped-def]
    """Deterministic documents for integer ids: ~150-450 words; every DUP_EVERY-th is a near copy."""
    import numpy as np

    out = []
    for i in ids:
        base = int(i) - 1 if int(i) % DUP_EVERY == 1 else int(i)
        rng = np.random.default_rng(base)
        words = rng.integers(0, VOCAB, int(rng.integers(150, 450)))
        if base != int(i):
            edit = np.random.default_rng(int(i) + 10**12)
            pos = edit.choice(len(words), max(1, len(words) // 50), replace=False)
            words[pos] = edit.integers(0, VOCAB, len(pos))
        out.append(" ".join(vocab[words]))
    return out


def shingle_bytes(texts: list[str], n: int = 5) -> list[list[bytes]]:
    import pyarrow as pa

    from spark_mm import _native

    norm = pa.array(_native.txt_dedup_normalize(pa.array(texts))).to_pylist()
    out = []
    for t in norm:
        w = t.split(" ") if t else []
        sh = [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)] if len(w) >= n else ([" ".join(w)] if w else [])
        out.append([s.encode() for s in sh])
    return out


def bench_signatures(args: argparse.Namespace) -> None:
    import numpy as np
    import pyarrow as pa
    from datasketch import MinHash

    from spark_mm import _native

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for both
    real = real_docs()
    gen = generated_docs(range(args.generated), _vocab())
    for label, docs in (("real CC (dolma + demo)", real), ("generated", gen)):
        reps = max(1, args.min_docs // len(docs))
        corpus = docs * reps
        sh = shingle_bytes(docs)
        sh_corpus = sh * reps
        arr = pa.array(corpus)
        rust = []
        for _ in range(3):
            t = time.perf_counter()
            _native.txt_minhash(arr, ngram=5, bands=16, rows=8, seed=1, with_signature=True)
            rust.append(len(corpus) / (time.perf_counter() - t))
        n_ds = min(len(sh_corpus), args.datasketch_docs)
        t = time.perf_counter()
        MinHash.bulk(sh_corpus[:n_ds], num_perm=128)
        ds = n_ds / (time.perf_counter() - t)
        # Agreement: both estimate Jaccard of the same shingle sets.
        pairs = min(200, len(docs) - 1)
        ours = pa.array(_native.txt_minhash(pa.array(docs[: pairs + 1]), ngram=5, bands=16, rows=8, seed=1, with_signature=True)).field("signature").to_pylist()
        theirs = MinHash.bulk(sh[: pairs + 1], num_perm=128)
        diffs = []
        for i in range(pairs):
            if ours[i] is None or ours[i + 1] is None:
                continue
            a, b = np.frombuffer(ours[i], "<u4"), np.frombuffer(ours[i + 1], "<u4")
            diffs.append(abs(float(np.mean(a == b)) - theirs[i].jaccard(theirs[i + 1])))
        words = sum(len(d.split()) for d in docs) / len(docs)
        print(
            f"{label}: {len(docs)} docs x{reps}, {words:.0f} words/doc | rust {max(rust):,.0f} docs/s/core"
            f" | datasketch bulk {ds:,.0f} docs/s/core | ratio {max(rust) / ds:.1f}x"
            f" | mean |J_rust - J_datasketch| on adjacent pairs {np.mean(diffs) if diffs else float('nan'):.3f}"
        )


class PeakRss:
    """Samples RSS of a process tree (the JVM and its Python workers) every 0.25 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _tree(self) -> list[int]:
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
        kids: dict[int, list[int]] = {}
        for p, pp in zip(out[::2], out[1::2]):
            kids.setdefault(int(pp), []).append(int(p))
        todo, seen = [self.pid], []
        while todo:
            p = todo.pop()
            seen.append(p)
            todo += kids.get(p, [])
        return seen

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self._tree():
                try:
                    for line in Path(f"/proc/{p}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.25)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak


def shuffle_bytes(spark) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    sc = spark.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages?status=complete"
    stages = json.loads(urllib.request.urlopen(url, timeout=30).read())
    return sum(s.get("shuffleWriteBytes", 0) for s in stages), sum(s.get("shuffleReadBytes", 0) for s in stages)


def bench_spark_one(n_docs: int, batch: int) -> dict[str, float]:
    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from spark_mm.dedup import minhash_dedup
    from spark_mm.ops.dedup_minhash import TxtMinhash, TxtMinhashParams

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[*]")
        .appName(f"dedup-bench-{n_docs}")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", "16")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm_pid = int(spark.sparkContext._jvm.ProcessHandle.current().pid())  # type: ignore[union-attr]
    rss = PeakRss(jvm_pid)
    op = TxtMinhash(TxtMinhashParams())
    out_schema = pa.schema([pa.field("sample_id", pa.string())] + list(op.output_schema))

    def stage_a(batches):  # type: ignore[no-untyped-def]
        vocab = _vocab()
        for b in batches:
            ids = b.column("id").to_numpy()
            texts = pa.array(generated_docs(ids, vocab))
            res = op.apply(pa.record_batch({"text": texts}))
            sid = pa.array([f"{int(i):032x}" for i in ids])
            yield pa.RecordBatch.from_arrays([sid, *res.columns.columns], schema=out_schema)

    from pyspark.sql.pandas.types import from_arrow_schema

    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        t0 = time.perf_counter()
        parts = max(2, n_docs // 25_000)
        spark.range(n_docs, numPartitions=parts).mapInArrow(stage_a, from_arrow_schema(out_schema)).write.parquet(f"{tmp}/keys")
        t_a = time.perf_counter() - t0
        w_a, _ = shuffle_bytes(spark)
        t1 = time.perf_counter()
        signals = spark.read.parquet(f"{tmp}/keys")
        res = minhash_dedup(signals)
        res.signals.write.parquet(f"{tmp}/signals")
        t_b = time.perf_counter() - t1
        w_ab, r_ab = shuffle_bytes(spark)
        s = spark.read.parquet(f"{tmp}/signals")
        dropped = s.where(~F.col("dup_keep")).count()
        rows = s.count()
    peak = rss.stop()
    spark.stop()
    expected = sum(1 for i in range(n_docs) if i % DUP_EVERY == 1)
    return {
        "docs": n_docs,
        "rows_out": rows,
        "dropped": dropped,
        "planted_copies": expected,
        "stage_a_s": round(t_a, 1),
        "dedup_s": round(t_b, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "dedup_shuffle_write_bytes_per_doc": round((w_ab - w_a) / n_docs, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("signatures")
    s.add_argument("--generated", type=int, default=2000)
    s.add_argument("--min-docs", type=int, default=3000)
    s.add_argument("--datasketch-docs", type=int, default=600)
    p = sub.add_parser("spark")
    p.add_argument("--docs", type=int, action="append", required=True)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cmd == "signatures":
        bench_signatures(args)
        return
    if args.one:
        print(json.dumps(bench_spark_one(args.docs[0], args.batch)), flush=True)
        return
    results = []
    for n in args.docs:  # one process per size: peak memory and JVM state are per size
        out = subprocess.run(
            [sys.executable, __file__, "spark", "--one", "--docs", str(n), "--batch", str(args.batch)],
            capture_output=True, text=True, check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        scale = b["docs"] / a["docs"]
        for k in ("stage_a_s", "dedup_s"):
            print(f"{k}: x{b[k] / a[k]:.2f} for x{scale:.0f} docs (linear = x{scale:.0f})")


if __name__ == "__main__":
    main()
