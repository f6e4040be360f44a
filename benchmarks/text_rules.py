"""Web-text benchmarks, side by side with the reference tools on the same documents.

1. Rule stage: documents/s on one core for spark-mm's Rust rules (Gopher quality + repetition,
   C4, C4 bad words, FineWeb; one fused ``txt_rules`` call, and the five operators one after
   another) vs datatrove's ``GopherQualityFilter``, ``GopherRepetitionFilter``,
   ``C4QualityFilter``, ``C4BadWordsFilter`` and ``FineWebQualityFilter`` on the same documents,
   plus their keep/drop agreement. Bad words use one list file for both sides (datatrove's
   ``banned_words.txt``, a list in the LDNOOBW layout; the LDNOOBW list itself is not shipped).
   RefinedWeb's line-wise corrections have no datatrove equivalent: their cost is timed alone and
   as a sixth rule in the fused call.
2. WARC -> text: pages/s of each extractor (trafilatura with datatrove's FineWeb settings, as
   ``txt_extract extractor: trafilatura`` runs it; resiliparse main content and all text), and
   end to end ``iter_warc_records`` + ``txt_extract`` (both extractors) vs warcio + trafilatura;
   agreement of each with trafilatura-as-datatrove-runs-it (word-multiset F1).

3. URL block lists: load time and resident memory of the full UT1-derived lists datatrove ships
   (~4.6M domains), in a fresh process, and the cost of a second operator instance in the same
   worker (served by the per-worker cache).

Documents are the real pages of ../shared/data (WARC responses and the JSONL text samples).

    python benchmarks/text_rules.py [--data ../shared/data] [--min-docs 2000] [--only extraction]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")


def load_texts(data: Path) -> list[str]:
    out: list[str] = []
    for f in sorted((data / "text").glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh if line.strip()]
    return out


def warc_pages(data: Path) -> list[tuple[str, bytes, str | None, dict[str, str]]]:
    from spark_mm.sources.warc_records import iter_warc_records

    pages = []
    for f in sorted((data / "warc").iterdir()):
        for r in iter_warc_records(str(f)):
            if r["payload"] and (r["mime_type"] or "").startswith("text/html") and not r["ingest_error"]:
                pages.append((r["url"], r["payload"], r["mime_type"], r["record_meta"] or {}))
    return pages


def page_texts(data: Path) -> list[str]:
    """Main text of every HTML response of the WARC files (charset resolved, resiliparse)."""
    from resiliparse.extract.html2text import extract_plain_text

    from spark_mm.ops.text_extract import decode_body, resolve_charset

    out = []
    for _, body, _, meta in warc_pages(data):
        html = decode_body(body, resolve_charset(body, meta.get("content_type"))[0])
        out.append(extract_plain_text(html, main_content=True))
    return out


def f1(a: str, b: str) -> float:
    ca, cb = Counter(a.split()), Counter(b.split())
    if not ca and not cb:
        return 1.0
    common = sum((ca & cb).values())
    if common == 0:
        return 0.0
    p, r = common / sum(ca.values()), common / sum(cb.values())
    return 2 * p * r / (p + r)


def _timed(fn: Any, items: list[str], repeats: int) -> tuple[list[str], list[float]]:
    """Outputs of ``fn`` over ``items`` and its pages/s in each repeat (at least one second of work each)."""
    rates = []
    outs: list[str] = []
    for _ in range(repeats):
        n, t = 0, time.perf_counter()
        while True:
            outs = [fn(h) or "" for h in items]
            n += len(items)
            if time.perf_counter() - t >= 1.0:
                break
        rates.append(n / (time.perf_counter() - t))
    return outs, rates


def bench_extraction(data: Path, repeats: int = 3) -> dict[str, Any]:
    """Each extractor's pages/s (best and spread of interleaved repeats) and word-multiset F1 against
    trafilatura with datatrove's FineWeb settings (``txt_extract extractor: trafilatura``), the
    text the published FineWeb/RefinedWeb pipelines filtered."""
    import pyarrow as pa
    import trafilatura
    from resiliparse.extract.html2text import extract_plain_text

    from spark_mm.ops.text_extract import TxtExtract, TxtExtractParams, decode_body, resolve_charset, trafilatura_text
    from spark_mm.sources.warc_records import iter_warc_records

    pages = warc_pages(data)
    htmls = [decode_body(body, resolve_charset(body, meta.get("content_type"))[0]) for _, body, _, meta in pages]
    extractors: dict[str, Any] = {
        "trafilatura_datatrove": trafilatura_text,
        "trafilatura_favor_precision_only": lambda h: trafilatura.extract(h, favor_precision=True),
        "resiliparse_main": lambda h: extract_plain_text(h, main_content=True),  # txt_extract's resiliparse settings
        "resiliparse_main_no_bullets": lambda h: extract_plain_text(h, main_content=True, list_bullets=False),
        "resiliparse_all": lambda h: extract_plain_text(h, main_content=False),
    }
    rates: dict[str, list[float]] = {k: [] for k in extractors}
    outs: dict[str, list[str]] = {}
    for _ in range(repeats):  # interleaved: every extractor once per round
        for name, fn in extractors.items():
            outs[name], r = _timed(fn, htmls, 1)
            rates[name] += r
    ref = outs["trafilatura_datatrove"]
    res: dict[str, Any] = {"pages": len(pages), "repeats": repeats}
    for name in extractors:
        res[name] = {
            "pages_s_best": round(max(rates[name]), 1),
            "pages_s_spread": round(max(rates[name]) - min(rates[name]), 1),
            "f1_vs_trafilatura_datatrove": round(sum(f1(o, t) for o, t in zip(outs[name], ref)) / len(htmls), 3),
        }
    # end to end from the WARC files: spark-mm reader + txt_extract (each extractor) vs warcio + trafilatura
    def spark_mm_warc(extractor: str) -> float:
        op = TxtExtract(TxtExtractParams(extractor=extractor))  # type: ignore[arg-type]
        t, n = time.perf_counter(), 0
        for f in sorted((data / "warc").iterdir()):
            rows = list(iter_warc_records(str(f)))
            batch = pa.RecordBatch.from_pylist(
                [{k: r[k] for k in ("payload", "text", "mime_type")} | {"record_meta": list((r["record_meta"] or {}).items())}
                 for r in rows],
                schema=pa.schema([("payload", pa.binary()), ("text", pa.string()), ("mime_type", pa.string()),
                                  ("record_meta", pa.map_(pa.string(), pa.string()))]),
            )
            out = op.apply(batch)
            n += sum(x is not None for x in out.columns.column("txt_content").to_pylist())
        return n / (time.perf_counter() - t)

    from warcio.archiveiterator import ArchiveIterator

    def warcio_trafilatura() -> float:
        t, n = time.perf_counter(), 0
        for f in sorted((data / "warc").iterdir()):
            with open(f, "rb") as fh:
                for rec in ArchiveIterator(fh):
                    if rec.rec_type == "response" and (rec.http_headers.get_header("Content-Type") or "").startswith("text/html"):
                        trafilatura_text(rec.content_stream().read().decode("utf-8", "replace"))
                        n += 1
        return n / (time.perf_counter() - t)

    e2e: dict[str, list[float]] = {"spark_mm_resiliparse": [], "spark_mm_trafilatura": [], "warcio_trafilatura": []}
    for _ in range(repeats):
        e2e["spark_mm_resiliparse"].append(spark_mm_warc("resiliparse"))
        e2e["spark_mm_trafilatura"].append(spark_mm_warc("trafilatura"))
        e2e["warcio_trafilatura"].append(warcio_trafilatura())
    res["warc_to_text_docs_s"] = {k: {"best": round(max(v), 1), "spread": round(max(v) - min(v), 1)} for k, v in e2e.items()}
    return res


def bench_rules(docs: list[str]) -> dict[str, Any]:
    import pyarrow as pa
    import datatrove.pipeline.filters.c4_filters as c4_filters
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.utils._import_utils import ASSETS_PATH

    from spark_mm.ops.text_rules import (
        TxtC4,
        TxtC4BadWords,
        TxtC4BadWordsParams,
        TxtC4Params,
        TxtFineweb,
        TxtFinewebParams,
        TxtGopherQuality,
        TxtGopherQualityParams,
        TxtGopherRepetition,
        TxtGopherRepetitionParams,
        TxtLineCorrections,
        TxtLineCorrectionsParams,
        run_rules,
    )

    words = str(Path(ASSETS_PATH) / "banned_words.txt")
    c4_filters.cached_asset_path_or_download = lambda *a, **k: words  # the same list for both sides
    ops = [
        TxtGopherQuality(TxtGopherQualityParams()),
        TxtGopherRepetition(TxtGopherRepetitionParams()),
        TxtC4(TxtC4Params(variant="datatrove")),
        TxtC4BadWords(TxtC4BadWordsParams(bad_words_files={"en": words})),
        TxtFineweb(TxtFinewebParams()),
    ]
    refs = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), c4_filters.C4BadWordsFilter(),
            FineWebQualityFilter()]
    lines = TxtLineCorrections(TxtLineCorrectionsParams())
    arr = pa.array(docs)
    batch = pa.RecordBatch.from_arrays([arr], names=["txt_content"])
    run_rules(arr[:10], [o.spec() for o in ops])  # warm up
    t = time.perf_counter()
    fused = run_rules(arr, [o.spec() for o in ops])
    fused_s = time.perf_counter() - t
    t = time.perf_counter()
    run_rules(arr, [o.spec() for o in ops] + [lines.spec()])
    fused_lines_s = time.perf_counter() - t
    t = time.perf_counter()
    lines.apply(batch)
    lines_s = time.perf_counter() - t
    t = time.perf_counter()
    for o in ops:
        o.apply(batch)
    ops_s = time.perf_counter() - t
    # The stage as the engine runs it: consecutive rules on one column are fused into one call.
    from spark_mm.engine.plan import StagePlan, run_ops
    from spark_mm.ops.base import Resource

    plan = StagePlan("text", tuple(o.params for o in ops), Resource.CPU)
    staged = pa.RecordBatch.from_arrays([pa.array([str(i) for i in range(len(docs))]), arr], names=["sample_id", "txt_content"])
    t = time.perf_counter()
    list(run_ops("text", plan.operators(), [staged], plan.output_schema(), "bench"))
    stage_s = time.perf_counter() - t
    for r in refs:  # warm up spaCy and the bad-words regex
        r.filter(Document(text=docs[0], id="w"))
    t = time.perf_counter()
    ref_ok: list[list[bool]] = [[] for _ in refs]
    ref_each = [0.0] * len(refs)
    for i, d in enumerate(docs):
        for k, r in enumerate(refs):
            t0 = time.perf_counter()
            out = r.filter(Document(text=d, id=str(i)))
            ref_each[k] += time.perf_counter() - t0
            ref_ok[k].append(out is True)
    ref_s = time.perf_counter() - t
    t = time.perf_counter()
    run_rules(arr, [ops[3].spec()])
    badwords_s = time.perf_counter() - t
    agree = {}
    for o, ok in zip(ops, ref_ok):
        mine = fused.column(f"{o.name}_ok").to_pylist()
        agree[o.name] = sum(a == b for a, b in zip(mine, ok)) / len(ok)
    n = len(docs)
    return {
        "docs": n,
        "rust_fused_docs_s": n / fused_s,
        "rust_fused_plus_line_corrections_docs_s": n / fused_lines_s,
        "rust_ops_docs_s": n / ops_s,
        "engine_stage_docs_s": n / stage_s,
        "speedup_engine_stage": ref_s / stage_s,
        "datatrove_docs_s": n / ref_s,
        "speedup_fused": ref_s / fused_s,
        "speedup_ops": ref_s / ops_s,
        "bad_words_rust_docs_s": n / badwords_s,
        "bad_words_datatrove_docs_s": n / ref_each[3],
        "line_corrections_op_docs_s": n / lines_s,
        "agreement": agree,
        "datatrove_dropped_by_bad_words": n - sum(ref_ok[3]),
    }


_URL_LISTS_PROBE = """
import json, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
import tldextract  # noqa: F401  (its import is not the lists' cost)
from spark_mm.ops.url_filter import UrlFilter, UrlFilterParams
UrlFilter(UrlFilterParams(cache_dir=CACHE))._list_sources()  # unpack the archive outside the timing
r0 = rss(); t = time.perf_counter()
a = UrlFilter(UrlFilterParams(cache_dir=CACHE)); a.setup()
load_s = time.perf_counter() - t; r1 = rss()
t = time.perf_counter()
b = UrlFilter(UrlFilterParams(cache_dir=CACHE)); b.setup()
print(json.dumps({"sizes": a._lists.sizes(), "first_load_s": load_s, "rss_mb": r1 - r0,
                  "second_instance_s": time.perf_counter() - t, "shared": a._lists is b._lists}))
"""


def bench_url_lists() -> dict[str, Any]:
    """Full UT1-derived lists (datatrove's archive) in a fresh process: load time and RSS growth."""
    with tempfile.TemporaryDirectory() as cache:
        code = f"CACHE = {cache!r}\n" + _URL_LISTS_PROBE
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--min-docs", type=int, default=2000, help="documents for the rule benchmark (repeats the set)")
    ap.add_argument("--only", choices=("url_lists", "rules", "extraction"), help="run one part")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, for per-core numbers
    except (AttributeError, OSError):
        pass
    if args.only in (None, "url_lists"):
        print(json.dumps({"url_lists": bench_url_lists()}, indent=2), flush=True)
    if args.only in (None, "rules"):
        base = load_texts(args.data) + page_texts(args.data)
        base = [d for d in base if d.strip()]
        docs = (base * (args.min_docs // len(base) + 1))[: max(args.min_docs, len(base))]
        print(json.dumps({"rules": bench_rules(docs)}, indent=2), flush=True)
    if args.only in (None, "extraction"):
        print(json.dumps({"extraction": bench_extraction(args.data)}, indent=2))


if __name__ == "__main__":
    main()
