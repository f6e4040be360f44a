"""Downloader benchmark: spark-mm's fetcher vs img2dataset, same local server, same URLs, both to local disk.

The server (``tests/download/server.py``, the downloader tests' server) runs in its own process and
listens on 127.0.0.1 … 127.0.0.8 (one port, eight host aliases, so per-host politeness applies as
in a crawl). It serves real photos (scikit-image's photos re-encoded as JPEG q90, 7-265 KB) plus a
fixed share of ``500`` responses and of slow responses that outlast the timeout. The same URL list
goes to every side:

(a) ``Fetcher`` bare, in this process: each image written as ``<key>.jpg`` + ``.txt`` + ``.json``
    (the files img2dataset's ``files`` format writes per sample);
(b) ``fetch_batches`` (link rows in, samples rows out) → one Parquet file, in this process;
(c) the whole ``image_links`` ingest (``ingest_image_links``) on ``local[1]`` in a child process:
    links table → anti-join → one chunk → fetch in ``mapInArrow`` → Iceberg write, audit, publish;
    the JVM's start is reported apart;
(r) img2dataset from PyPI, in its own virtualenv (``--ref-venv``, made on first use), as a child
    process: ``processes_count=1``, ``thread_count`` = our connection cap, ``resize_mode="no"``,
    ``disable_all_reencoding=True`` (we store the original bytes), ``extract_exif=False``,
    ``compute_hash=None``, ``retries=0``, the same ``timeout``; once with ``output_format="files"``
    (vs a) and once with ``"parquet"`` (vs b and c).

Each side runs ``--repeat`` times, interleaved (a, r-files, b, r-parquet, c per round). Reported per
side: best and spread of images/s (successful images per wall second) and of images per CPU-second
(user + system of this process for a and b; of the child's whole process tree for r, from
``getrusage(RUSAGE_CHILDREN)``; of the driver + JVM + Python workers for c, from psutil inside the
child), ratios of the bests against img2dataset, and every URL's outcome: ok, HTTP error, timeout,
other (the totals are asserted to equal the URL count, and the server's request count too:
no retries, no redirects, so one request per URL).

    python benchmarks/download.py [--n 10000] [--repeat 3] [--concurrency 64] [--timeout-s 2]
        [--ref-venv /tmp/spark-mm-bench/img2dataset-venv] [--work /tmp/spark-mm-bench] [--sides a,b,c,r]

Numbers are recorded in docs/image_text.md#downloader-benchmark and the README.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the tests' HTTP server is the benchmark's server
    sys.path.insert(0, str(REPO))

SKIMAGE_PHOTOS = ("astronaut", "camera", "cat", "chelsea", "coffee", "coins", "hubble_deep_field",
                  "immunohistochemistry", "moon", "retina", "rocket", "brick", "clock", "grass", "gravel")
HOSTS = tuple(f"127.0.0.{i}" for i in range(1, 9))
ERROR_EVERY, SLOW_EVERY = 25, 100  # 4 % of URLs answer 500, 1 % answer after 1.5 x the timeout
OUTCOMES = ("ok", "http", "timeout", "other")
LINKS_DDL = "link_id string, sample_id string, page_url string, url string, alt string, title string, position int"


def load_photos() -> list[bytes]:
    """scikit-image's photos as JPEG q90 (CC0; 7-265 KB each)."""
    import skimage.data
    from PIL import Image

    out = []
    for name in SKIMAGE_PHOTOS:
        a = getattr(skimage.data, name)()
        buf = io.BytesIO()
        Image.fromarray(a).convert("RGB" if a.ndim == 3 else "L").save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def url_list(n: int, port: int, timeout_s: float) -> list[tuple[str, str, str]]:
    """(key, url, caption) for ``n`` URLs spread round-robin over the host aliases.

    The host index is shifted by one every 100 URLs so that the slow and the 500 URLs (every 100th
    and every 25th) land on every host: a plain ``i % 8`` puts every slow URL on two hosts, whose
    per-host connection cap then holds the tail of our side (img2dataset has no per-host cap).
    """
    out = []
    for i in range(n):
        host = HOSTS[(i + i // SLOW_EVERY) % len(HOSTS)]
        if i % ERROR_EVERY == 3:
            path = "status/500"
        elif i % SLOW_EVERY == 50:
            path = f"slow/{timeout_s * 1.5:g}"
        else:
            path = f"photo/{i}.jpg"
        out.append((f"{i:09d}", f"http://{host}:{port}/{path}", f"caption of image {i}"))
    return out


# ---------------------------------------------------------------- the server process
def serve() -> None:
    """Child process: listen on every host alias, print the port, answer 'hits' on stdin, exit on EOF."""
    from tests.download.server import ImageServer, State

    state = State()
    state.photos = load_photos()
    for _ in range(20):  # the first alias picks a free port; the others must get the same one
        first = ImageServer(HOSTS[0], 0, state)
        try:
            servers = [first] + [ImageServer(h, first.port, state) for h in HOSTS[1:]]
            break
        except OSError:
            first.server_close()
    else:
        raise SystemExit("no port free on all host aliases")
    for s in servers:
        s.start()
    print(json.dumps({"port": first.port}), flush=True)
    for line in sys.stdin:
        if line.strip() == "hits":
            with state.lock:
                print(json.dumps({"hits": sum(state.hits.values())}), flush=True)
    for s in servers:
        s.stop()


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "_serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        )
        self.port = int(json.loads(self.proc.stdout.readline())["port"])  # type: ignore[union-attr]

    def cpu_s(self) -> float:
        """User + system seconds the server process has used so far (its share of the 2 cores)."""
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def hits(self) -> int:
        self.proc.stdin.write("hits\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return int(json.loads(self.proc.stdout.readline())["hits"])  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=30)


# ---------------------------------------------------------------- measurements
@dataclass
class Run:
    side: str
    wall_s: float
    cpu_s: float
    counts: Counter[str]
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return self.counts["ok"]


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tree_cpu() -> float:
    """User + system seconds of this process and every live descendant (plus the ones they reaped)."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from spark_mm.download.settings import FetchSettings

    return FetchSettings(
        connect_timeout_s=args.timeout_s, read_timeout_s=args.timeout_s, total_timeout_s=max(60.0, 3 * args.timeout_s),
        max_retries=0, max_connections=args.concurrency,
        max_connections_per_host=args.per_host_connections, max_requests_per_s_per_host=args.per_host_rate,
    )


def outcome(error: str | None) -> str:
    return {None: "ok", "http_status": "http", "timeout": "timeout"}.get(error, "other")


def run_fetcher(urls: list[tuple[str, str, str]], args: argparse.Namespace, out: Path) -> Run:
    """(a) the bare Fetcher: every result written as img2dataset's files format writes it."""
    from spark_mm.download.fetch import Fetcher, FetchRequest

    out.mkdir(parents=True)
    counts: Counter[str] = Counter()
    captions = {k: c for k, _, c in urls}
    t, cpu = time.perf_counter(), self_cpu()
    for r in Fetcher(settings(args)).fetch(FetchRequest(k, u) for k, u, _ in urls):
        kind = outcome(None if r.error is None else r.error.value)
        counts[kind] += 1
        if r.image is not None:
            key = str(r.key)
            (out / f"{key}.jpg").write_bytes(r.image)
            (out / f"{key}.txt").write_text(captions[key])
            meta = {"url": r.url, "caption": captions[key], "key": key, "status": r.status, "content_type": r.content_type}
            (out / f"{key}.json").write_text(json.dumps(meta))
    return Run("a", time.perf_counter() - t, self_cpu() - cpu, counts)


def link_batches(urls: list[tuple[str, str, str]], rows: int = 10_000):  # type: ignore[no-untyped-def]
    """The rows the Spark wiring hands ``fetch_batches`` (LINK_COLUMNS), built outside the timing."""
    import pyarrow as pa

    from spark_mm.sources.ids import link_sample_id

    recs = [
        {"sample_id": link_sample_id(k), "link_id": k, "page_sample_id": "page", "page_url": "https://site.example/",
         "url": u, "alt": c, "title": None, "position": i}
        for i, (k, u, c) in enumerate(urls)
    ]
    return [pa.RecordBatch.from_pylist(recs[i : i + rows]) for i in range(0, len(recs), rows)]


def run_batches(urls: list[tuple[str, str, str]], args: argparse.Namespace, out: Path) -> Run:
    """(b) fetch_batches → one Parquet file (samples rows, image bytes included)."""
    import pyarrow.parquet as pq

    from spark_mm.download.batches import OUT_SCHEMA, fetch_batches

    out.mkdir(parents=True)
    batches = link_batches(urls)
    counts: Counter[str] = Counter()
    t, cpu = time.perf_counter(), self_cpu()
    with pq.ParquetWriter(out / "part-00000.parquet", OUT_SCHEMA) as writer:
        for batch in fetch_batches(iter(batches), settings(args), "bench", "bench-1"):
            writer.write_batch(batch)
            counts.update(outcome(e) for e in batch.column("ingest_error").to_pylist())
    return Run("b", time.perf_counter() - t, self_cpu() - cpu, counts)


def run_ingest(urls: list[tuple[str, str, str]], args: argparse.Namespace, out: Path, round_: int) -> Run:
    """(c) the whole image_links ingest on local[1], in a child process (its own SPARK_MM_HOME)."""
    out.mkdir(parents=True)
    (out / "urls.json").write_text(json.dumps(urls))
    cmd = [sys.executable, __file__, "_ingest", str(out / "urls.json"), "--round", str(round_),
           "--timeout-s", str(args.timeout_s), "--concurrency", str(args.concurrency),
           "--per-host-connections", str(args.per_host_connections), "--per-host-rate", str(args.per_host_rate)]
    env = dict(os.environ, SPARK_MM_HOME=str(out / "home"))
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    total = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"(c) ingest child failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run("c", res["ingest_s"], res["ingest_cpu_s"], Counter(res["counts"]),
               {"jvm_start_s": res["jvm_s"], "jvm_start_cpu_s": res["jvm_cpu_s"], "links_table_s": res["links_s"], "process_s": total})


def ingest_child(urls_file: str, args: argparse.Namespace) -> None:
    """Child of (c): start Spark, write the links table, time ``ingest_image_links``, print JSON."""
    t0, c0 = time.perf_counter(), tree_cpu()
    from pyspark.sql import functions as F

    from spark_mm.engine.context import RunContext
    from spark_mm.engine.download import ingest_image_links
    from spark_mm.engine.inputs import SAMPLES
    from spark_mm.engine.session import build_session
    from spark_mm.lake.settings import LakeSettings, SparkSettings
    from spark_mm.lake.tables import Lake
    from spark_mm.sources.record_files import SAMPLES_DDL
    from spark_mm.sources.specs import ImageLinksSource

    lake_settings = LakeSettings(buckets=4)
    spark = build_session(
        lake_settings,
        SparkSettings(master="local[1]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "1", "spark.driver.memory": "3g", "spark.ui.enabled": "false"}),
        app_name="spark-mm download benchmark",
    )
    spark.range(1).count()  # the JVM and its first job are up
    t1, c1 = time.perf_counter(), tree_cpu()
    urls = json.loads(Path(urls_file).read_text())
    ns = f"dl_bench_{args.round}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{ns}")
    rows = [(k, "page", "https://site.example/", u, c, None, i) for i, (k, u, c) in enumerate(urls)]
    spark.createDataFrame(rows, LINKS_DDL).writeTo(f"lake.{ns}.image_links").using("iceberg").create()
    lake = Lake(spark, lake_settings, ns)
    lake.ensure_namespace()
    lake.ensure_table(SAMPLES, spark.createDataFrame([], SAMPLES_DDL).schema)
    ctx = RunContext(spark, lake, f"bench-{args.round}", "download_bench", "0" * 64, 4)
    spec = ImageLinksSource(type="image_links", namespace=ns, fetch=settings(args), fetch_tasks=1)
    t2, c2 = time.perf_counter(), tree_cpu()
    result = ingest_image_links(ctx, spec, allow_all_errors=False)
    t3, c3 = time.perf_counter(), tree_cpu()
    counts: Counter[str] = Counter()
    for r in spark.table(f"lake.{ns}.samples").groupBy("ingest_error").agg(F.count("*").alias("n")).collect():
        counts[outcome(r["ingest_error"])] += int(r["n"])
    assert result.rows_out == len(urls), (result.rows_out, len(urls))
    print(json.dumps({"jvm_s": t1 - t0, "jvm_cpu_s": c1 - c0, "links_s": t2 - t1, "ingest_s": t3 - t2, "ingest_cpu_s": c3 - c2, "counts": counts}))
    spark.stop()


# ---------------------------------------------------------------- img2dataset
def ensure_ref_venv(venv: Path) -> Path:
    """The reference's own virtualenv (img2dataset pins its own pyarrow/pandas/opencv): made once, reused."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import img2dataset"], capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with img2dataset from PyPI ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "img2dataset"], check=True)
    return python


REF_SCRIPT = """
import sys, json
from img2dataset import download
cfg = json.loads(sys.argv[1])
download(**cfg)
"""


def run_img2dataset(python: Path, urls: list[tuple[str, str, str]], args: argparse.Namespace, out: Path, fmt: str) -> Run:
    """(r) img2dataset as a child process; outcomes read back from the per-shard parquet it writes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True)
    listing = out / "urls.parquet"
    pq.write_table(pa.table({"url": [u for _, u, _ in urls], "caption": [c for _, _, c in urls]}), listing)
    cfg = {
        "url_list": str(listing), "input_format": "parquet", "url_col": "url", "caption_col": "caption",
        "output_folder": str(out / "images"), "output_format": fmt, "processes_count": 1, "thread_count": args.concurrency,
        "resize_mode": "no", "disable_all_reencoding": True, "extract_exif": False, "compute_hash": None,
        "timeout": args.timeout_s, "retries": 0, "number_sample_per_shard": 10_000, "enable_wandb": False,
    }
    t, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run([str(python), "-c", REF_SCRIPT, json.dumps(cfg)], cwd=out, capture_output=True, text=True)
    wall, used = time.perf_counter() - t, children_cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit(f"img2dataset failed:\n{proc.stderr[-4000:]}")
    counts: Counter[str] = Counter()
    others: Counter[str] = Counter()
    for f in sorted((out / "images").glob("*.parquet")):
        table = pq.read_table(f, columns=["status", "error_message"])
        for status, err in zip(table.column("status").to_pylist(), table.column("error_message").to_pylist()):
            if status == "success":
                counts["ok"] += 1
            elif err and err.startswith("HTTP Error"):
                counts["http"] += 1
            elif err and "timed out" in err:
                counts["timeout"] += 1
            else:
                counts["other"] += 1
                others[str(err)[:80]] += 1
    run = Run(f"r-{fmt}", wall, used, counts)
    if others:
        print(f"  img2dataset 'other' outcomes: {dict(others.most_common(5))}")
    return run


# ---------------------------------------------------------------- report
def summary(runs: list[Run]) -> dict[str, dict[str, float]]:
    out = {}
    for side in dict.fromkeys(r.side for r in runs):
        mine = [r for r in runs if r.side == side]
        wall = [r.ok / r.wall_s for r in mine]
        cpu = [r.ok / r.cpu_s for r in mine]
        out[side] = {
            "img_s_best": max(wall), "img_s_spread": max(wall) - min(wall),
            "img_cpu_s_best": max(cpu), "img_cpu_s_spread": max(cpu) - min(cpu),
            "wall_s_best": min(r.wall_s for r in mine), "cpu_s_best": min(r.cpu_s for r in mine),
            **{k: float(min(r.extra[k] for r in mine)) for k in mine[0].extra},
        }
    return out


NAMES = {
    "a": "(a) Fetcher -> files (jpg+txt+json)",
    "r-files": "(r) img2dataset, output_format=files",
    "b": "(b) fetch_batches -> Parquet",
    "r-parquet": "(r) img2dataset, output_format=parquet",
    "c": "(c) image_links ingest, local[1]",
}
REFERENCE = {"a": "r-files", "b": "r-parquet", "c": "r-parquet", "r-files": "r-files", "r-parquet": "r-parquet"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="URLs per run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64, help="our max_connections = img2dataset's thread_count")
    ap.add_argument("--per-host-connections", type=int, default=16, help="our max_connections_per_host (8 host aliases)")
    ap.add_argument("--per-host-rate", type=float, default=500.0, help="our max_requests_per_s_per_host")
    ap.add_argument("--timeout-s", type=float, default=2.0, help="connect/read timeout, both tools")
    ap.add_argument("--ref-venv", type=Path, default=Path("/tmp/spark-mm-bench/img2dataset-venv"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/spark-mm-bench/work"), help="where every side writes (deleted after each run)")
    ap.add_argument("--sides", default="a,r,b,c", help="a = Fetcher, b = fetch_batches, c = Spark ingest, r = img2dataset (files and parquet)")
    ap.add_argument("--json", type=Path, help="also write the runs and the summary here")
    args = ap.parse_args()
    sides = set(args.sides.split(","))
    python = ensure_ref_venv(args.ref_venv) if "r" in sides else None
    shutil.rmtree(args.work, ignore_errors=True)
    server = Server()
    urls = url_list(args.n, server.port, args.timeout_s)
    expected = Counter(outcome(None) if "photo" in u else ("http" if "status" in u else "timeout") for _, u, _ in urls)
    print(f"{args.n} URLs on {len(HOSTS)} host aliases, port {server.port}: expected {dict(expected)}; concurrency {args.concurrency}, "
          f"timeout {args.timeout_s:g} s, retries 0; {os.cpu_count()} CPUs (shared machine)", flush=True)
    plan = [s for s in ("a", "r-files", "b", "r-parquet", "c") if s.split("-")[0] in sides]
    runs: list[Run] = []
    warm: Run | None = None
    try:
        if python:  # the reference's fixed cost: interpreter, imports, spawn of its pool and logger
            warm = run_img2dataset(python, urls[:8], args, args.work / "warm", "files")
            print(f"img2dataset start-up on 8 URLs: {warm.wall_s:.2f} s wall, {warm.cpu_s:.2f} CPU-s", flush=True)
            shutil.rmtree(args.work / "warm")
        for round_ in range(args.repeat):
            for side in plan:
                out = args.work / f"{side}-{round_}"
                before, server_cpu = server.hits(), server.cpu_s()
                if side == "a":
                    run = run_fetcher(urls, args, out)
                elif side == "b":
                    run = run_batches(urls, args, out)
                elif side == "c":
                    run = run_ingest(urls, args, out, round_)
                else:
                    run = run_img2dataset(python, urls, args, out, side.split("-")[1])  # type: ignore[arg-type]
                hits = server.hits() - before
                run.extra["server_cpu_s"] = server.cpu_s() - server_cpu
                total = sum(run.counts.values())
                assert total == args.n, f"{side}: {total} outcomes for {args.n} URLs ({dict(run.counts)})"
                assert hits == args.n, f"{side}: the server saw {hits} requests for {args.n} URLs"
                runs.append(run)
                print(f"round {round_ + 1} {NAMES[side]:40s} {run.wall_s:7.2f} s wall {run.cpu_s:7.2f} CPU-s  "
                      f"{run.ok / run.wall_s:7.1f} img/s  {run.ok / run.cpu_s:7.1f} img/CPU-s  {dict(run.counts)}"
                      + f"  server {run.extra['server_cpu_s']:.1f} CPU-s"
                      + (f"  (JVM start {run.extra['jvm_start_s']:.1f} s)" if "jvm_start_s" in run.extra else ""), flush=True)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        server.stop()
    res = summary(runs)
    print(f"\nbest of {args.repeat}, interleaved; images/s = successful images per second; ratio = best / img2dataset's best")
    print(f"{'side':42s} {'img/s':>8s} {'±':>6s} {'img/CPU-s':>10s} {'±':>6s} {'wall x':>7s} {'CPU x':>7s}  ok/http/timeout/other")
    for side, s in res.items():
        ref = res.get(REFERENCE[side])
        ratio = (f"{s['img_s_best'] / ref['img_s_best']:7.2f} {s['img_cpu_s_best'] / ref['img_cpu_s_best']:7.2f}" if ref else f"{'-':>7s} {'-':>7s}")
        c = next(r.counts for r in runs if r.side == side)
        print(f"{NAMES[side]:42s} {s['img_s_best']:8.1f} {s['img_s_spread']:6.1f} {s['img_cpu_s_best']:10.1f} {s['img_cpu_s_spread']:6.1f} {ratio}  "
              + "/".join(str(c[k]) for k in OUTCOMES))
    if warm is not None:
        for side in ("r-files", "r-parquet"):
            if side in res:
                best = max(r.ok / (r.wall_s - warm.wall_s) for r in runs if r.side == side)
                best_cpu = max(r.ok / (r.cpu_s - warm.cpu_s) for r in runs if r.side == side)
                print(f"{NAMES[side]} net of its start-up ({warm.wall_s:.1f} s, {warm.cpu_s:.1f} CPU-s): {best:.1f} img/s, {best_cpu:.1f} img/CPU-s")
        res["r-startup"] = {"wall_s": warm.wall_s, "cpu_s": warm.cpu_s}
    if "c" in res:
        c = res["c"]
        print(f"(c) JVM start (SparkSession + a first job) {c['jvm_start_s']:.1f} s, {c['jvm_start_cpu_s']:.1f} CPU-s; links table write {c['links_table_s']:.1f} s "
              f"(neither in the rates above); whole child process {c['process_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": res,
                                         "runs": [{"side": r.side, "wall_s": r.wall_s, "cpu_s": r.cpu_s, "counts": r.counts, **r.extra} for r in runs]}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve()
    elif len(sys.argv) > 1 and sys.argv[1] == "_ingest":
        p = argparse.ArgumentParser()
        p.add_argument("urls")
        p.add_argument("--round", type=int, default=0)
        p.add_argument("--timeout-s", type=float)
        p.add_argument("--concurrency", type=int)
        p.add_argument("--per-host-connections", type=int)
        p.add_argument("--per-host-rate", type=float)
        a = p.parse_args(sys.argv[2:])
        ingest_child(a.urls, a)
    else:
        main()
