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

3. ``quality``: recall and false-removal rate against *exact* word-5-gram Jaccard, on a corpus
   with planted chains (A~B, B~C, A and C not duplicates) and near copies, built from the real CC
   documents of ../shared/data/text when present (generated words otherwise). Compares keeping
   one member per verified component (the previous rule) with the verified keep choice. A
   removal is false when no kept document is a duplicate of it at the threshold; recall is the
   fraction of duplicate pairs (exact Jaccard >= threshold) that lost at least one side.

4. ``semdedup``: SemDeDup of N x 512-d generated float embeddings on ``local[*]`` (10 % planted
   near-copies at cosine ~0.998): stage A writes the embeddings to Parquet, stage B runs
   ``semdedup`` (k-means, in-cluster pairs, components, keep). Reports wall time and shuffle bytes
   per row of stage B, and the planted copies found.

    python benchmarks/dedup.py signatures [--generated 3000]
    python benchmarks/dedup.py spark --docs 100000 [--docs 1000000]   # one process per size
    python benchmarks/dedup.py quality [--threshold 0.5] [--chains 200]
    python benchmarks/dedup.py semdedup --rows 100000 [--clusters 100] [--eps 0.01]
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


def _shingles(texts: list[str], n: int = 5) -> list[set[str]]:
    return [set(s) for s in ([b.decode() for b in sh] for sh in shingle_bytes(texts, n))]


def quality_corpus(n_chains: int, n_copies: int, n_unique: int, seed: int = 0) -> list[str]:
    """Chains over sliding word blocks (neighbours share 3 of 4 blocks: Jaccard ~0.6, two apart
    ~0.33, three apart ~0.14), near copies (1 % of words edited) and unrelated documents."""
    import random

    rng = random.Random(seed)
    pool = [w for d in real_docs() for w in d.split()] if DATA.is_dir() else []
    if len(pool) < 10_000:
        vocab = list(_vocab())
        pool = [rng.choice(vocab) for _ in range(200_000)]

    def block(n: int) -> list[str]:
        start = rng.randrange(len(pool) - n)
        return pool[start : start + n]

    docs: list[str] = []
    for _ in range(n_chains):
        length = rng.randint(3, 6)
        parts = [block(rng.randint(30, 60)) for _ in range(length + 3)]
        docs += [" ".join(w for p in parts[k : k + 4] for w in p) for k in range(length)]
    for _ in range(n_copies):
        words = block(rng.randint(150, 300))
        docs.append(" ".join(words))
        edit = list(words)
        for i in rng.sample(range(len(edit)), max(1, len(edit) // 100)):
            edit[i] = "zz" + edit[i]
        docs.append(" ".join(edit))
    docs += [" ".join(block(rng.randint(100, 300))) for _ in range(n_unique)]
    rng.shuffle(docs)
    return docs


def exact_pairs(sh: list[set[str]], threshold: float) -> dict[int, set[int]]:
    """Every pair with exact Jaccard >= threshold, through an inverted index of shingles."""
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sh):
        for g in s:
            index.setdefault(g, []).append(i)
    shared: dict[tuple[int, int], int] = {}
    for ids in index.values():
        if len(ids) > 200:  # boilerplate shingle: pairs found through their other shingles
            continue
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                shared[(ids[a], ids[b])] = shared.get((ids[a], ids[b]), 0) + 1
    out: dict[int, set[int]] = {i: set() for i in range(len(sh))}
    for (a, b), n in shared.items():
        if n / (len(sh[a]) + len(sh[b]) - n) >= threshold:
            out[a].add(b)
            out[b].add(a)
    return out


def bench_quality(args: argparse.Namespace) -> None:
    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from spark_mm.dedup import KeepPolicy, cluster_and_keep, connected_components, minhash_dedup, pair_edges
    from spark_mm.dedup.candidates import explode_keys, signature_similarity, verify_edges
    from spark_mm.dedup.steps import MinhashScheme
    from spark_mm.ops.dedup_minhash import TxtMinhash, TxtMinhashParams

    docs = quality_corpus(args.chains, args.copies, args.unique)
    ids = [f"{i:032x}" for i in range(len(docs))]
    params = TxtMinhashParams(bands=args.bands, rows=args.rows)
    cols = TxtMinhash(params).apply(pa.record_batch({"text": docs})).columns
    table = pa.table({"sample_id": ids, **{n: cols.column(n) for n in cols.schema.names}})
    shingle_sets = _shingles(docs)
    truth = exact_pairs(shingle_sets, args.threshold)
    loose = exact_pairs(shingle_sets, args.threshold - 0.1)  # is a false removal estimator noise?
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "4").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.createDataFrame(table)
    t = args.threshold
    # Previous rule: verified edges -> components -> keep the smallest id of each component.
    sigs = df.select("sample_id", F.col("txt_minhash_sig").alias("value"))
    edges = verify_edges(pair_edges(explode_keys(df, key_col="txt_minhash_bands"), max_pair_bucket=64), sigs, lambda a, b: signature_similarity(a, b) >= F.lit(t))
    old = cluster_and_keep(df, connected_components(edges), policy=KeepPolicy())
    new = minhash_dedup(df, scheme=MinhashScheme(ngram=5, bands=args.bands, rows=args.rows, seed=1), jaccard_threshold=t).signals
    index = {s: i for i, s in enumerate(ids)}
    pairs = sum(len(v) for v in truth.values()) // 2
    for label, signals in (("one per component", old), ("verified keep", new)):
        t0 = time.perf_counter()
        rows = signals.select("sample_id", "dup_keep", "dup_cluster_id").collect()
        seconds = time.perf_counter() - t0
        keep = {index[r[0]]: bool(r[1]) for r in rows}
        cluster = {index[r[0]]: r[2] for r in rows}
        removed = [i for i, k in keep.items() if not k]
        false_any = [i for i in removed if not any(keep[j] for j in truth[i])]
        false_mate = [i for i in removed if not any(keep[j] and cluster[j] == cluster[i] for j in truth[i])]
        false_loose = [i for i in removed if not any(keep[j] for j in loose[i])]
        caught = sum(1 for i in truth for j in truth[i] if i < j and not (keep[i] and keep[j]))
        print(json.dumps({
            "rule": label, "docs": len(docs), "threshold": t, "bands_x_rows": f"{args.bands}x{args.rows}",
            "duplicate_pairs": pairs, "removed": len(removed), "pair_recall": round(caught / max(1, pairs), 4),
            "false_removal_rate": round(len(false_any) / max(1, len(removed)), 4),
            "false_removal_rate_cluster_mate": round(len(false_mate) / max(1, len(removed)), 4),
            "false_removal_rate_at_threshold_minus_0.1": round(len(false_loose) / max(1, len(removed)), 4),
            "rows_out": len(rows), "seconds": round(seconds, 1),
        }), flush=True)
    spark.stop()


def bench_semdedup(args: argparse.Namespace) -> None:
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from spark_mm.dedup.semantic import semdedup

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[*]").appName(f"semdedup-bench-{args.rows}")
        .config("spark.driver.memory", "6g").config("spark.sql.shuffle.partitions", "16")
        .config("spark.ui.showConsoleProgress", "false").getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    dim, n = 512, args.rows

    def gen(batches):  # type: ignore[no-untyped-def]
        for b in batches:
            ids = b.column("id").to_numpy()
            # a copy (id % 10 == 1) gets its original's base vector plus small noise
            base_ids = np.where(ids % 10 == 1, ids - 1, ids)
            x = np.stack([np.random.default_rng(int(i)).normal(size=dim) for i in base_ids]).astype(np.float32)
            noise = np.random.default_rng(int(ids[0]) + 1_000_003).normal(size=x.shape).astype(np.float32)
            x += np.where((ids % 10 == 1)[:, None], 0.04 * noise, 0.0).astype(np.float32)
            emb = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), dim).cast(pa.list_(pa.float32()))
            yield pa.RecordBatch.from_arrays([pa.array([f"{int(i):032x}" for i in ids]), emb], ["sample_id", "emb"])

    with tempfile.TemporaryDirectory(prefix="semdedup-bench-") as tmp:
        t0 = time.perf_counter()
        spark.range(n, numPartitions=max(2, n // 10_000)).mapInArrow(gen, "sample_id string, emb array<float>").write.parquet(f"{tmp}/emb")
        t_a = time.perf_counter() - t0
        w_a, r_a = shuffle_bytes(spark)
        t1 = time.perf_counter()
        res = semdedup(spark.read.parquet(f"{tmp}/emb"), embedding_col="emb", n_clusters=args.clusters, eps=args.eps, max_iter=args.max_iter)
        res.signals.write.parquet(f"{tmp}/signals")
        t_b = time.perf_counter() - t1
        w_b, r_b = shuffle_bytes(spark)
        s = spark.read.parquet(f"{tmp}/signals")
        dropped, rows = s.where(~F.col("dup_keep")).count(), s.count()
    spark.stop()
    print(json.dumps({
        "rows": n, "dim": dim, "clusters": args.clusters, "eps": args.eps, "rows_out": rows,
        "dropped": dropped, "planted_copies": sum(1 for i in range(n) if i % 10 == 1),
        "write_embeddings_s": round(t_a, 1), "semdedup_s": round(t_b, 1),
        "shuffle_write_bytes_per_row": round((w_b - w_a) / n, 1), "shuffle_read_bytes_per_row": round((r_b - r_a) / n, 1),
        "cores": os.cpu_count(),
    }), flush=True)


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
    q = sub.add_parser("quality")
    q.add_argument("--threshold", type=float, default=0.5)
    q.add_argument("--chains", type=int, default=200)
    q.add_argument("--copies", type=int, default=200)
    q.add_argument("--unique", type=int, default=600)
    q.add_argument("--bands", type=int, default=32)
    q.add_argument("--rows", type=int, default=4)
    m = sub.add_parser("semdedup")
    m.add_argument("--rows", type=int, default=100_000)
    m.add_argument("--clusters", type=int, default=100)
    m.add_argument("--eps", type=float, default=0.01)
    m.add_argument("--max-iter", type=int, default=20)
    args = ap.parse_args()
    if args.cmd == "semdedup":
        bench_semdedup(args)
        return
    if args.cmd == "quality":
        bench_quality(args)
        return
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
