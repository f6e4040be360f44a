"""The HTML report and thumbnails on small synthetic metrics, without Spark."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

from spark_mm.report.html import SECTION_IDS, hbar_chart, histogram_svg, render, report_path, write_report
from spark_mm.report.metrics import (
    DupCluster,
    DupMember,
    ErrorMessage,
    ErrorSummary,
    Histogram,
    OperatorMetrics,
    ReasonCount,
    RunMetrics,
    StageMetrics,
    TextSample,
    Thumb,
    ThumbGroup,
    thumbnail,
)


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _metrics(**over: object) -> RunMetrics:
    uri, _ = thumbnail(_png(300, 200))
    stages = (
        StageMetrics("ingest", "lake.t.samples", 11, 10, 10, 1, 2.0, False, ""),
        StageMetrics("text", "lake.t.signals_text", 22, 10, 10, 2, 4.0, False, "recomputed 4 stale rows", ("txt_length@1",), 4),
    )
    ops = (
        OperatorMetrics("text", "txt_extract", "txt_extract@1", False, 10, 2, funnel_in=10, funnel_out=10, seconds=1.0),
        OperatorMetrics("text", "txt_length", "txt_length@1", True, 10, 0, 6, 3, 1, (ReasonCount("too_short", 2), ReasonCount("too_<long>", 1)), 10, 6, 0.5),
    )
    base = dict(
        run_id="run-<1>",
        job="fineweb",
        namespace="t",
        catalog="lake",
        recipe_sha256="ab" * 32,
        recipe_text="job: fineweb\n# <script>alert(1)</script>\n",
        code_version="0.1.0+gdeadbeef",
        generated_at="2026-01-01 00:00:00Z",
        stages=stages,
        operators=ops,
        errors=(ErrorSummary("text", "txt_extract", 2, (ErrorMessage("bad <html>", 2),)),),
        histograms=(Histogram("text", "txt_length_words", 9, 1, 0.0, 10.0, 1.0, 5.0, 9.0, tuple(float(i) for i in range(11)), (1,) * 9 + (0,)),),
        funnel_rows=10,
        kept_rows=6,
        thumb_groups=(ThumbGroup("kept", True, 6, (Thumb("a" * 32, "kept", uri, "a green box"),)), ThumbGroup("txt_length: too_short", False, 2, (Thumb("b" * 32, "x", None, "", "no payload"),))),
        dup_clusters=(DupCluster("c1", 2, (DupMember("a" * 32, True, "", Thumb("a" * 32, "keep", uri)), DupMember("b" * 32, False, "exact:dup", Thumb("b" * 32, "dup", uri)))),),
        has_dedup=True,
        text_samples=(TextSample("kept", "a" * 32, "hello world"), TextSample("txt_length: too_short", "b" * 32, "hi <b>")),
        skipped_models=(("image_models", ("img_clip@1", "img_siglip2@1")),),
        skipped_details=(
            ("image_models", "img_clip@1", "weights for model 'open_clip:ViT-L-14/openai' not found. Looked at:\n  - <hf cache>"),
            ("image_models", "img_siglip2@1", "weights for model 'siglip2' not found."),
        ),
    )
    base.update(over)
    return RunMetrics(**base)  # type: ignore[arg-type]


def test_thumbnail_downscales_and_reports_bad_payloads() -> None:
    uri, note = thumbnail(_png(1024, 256))
    assert note == "" and uri is not None
    import base64

    im = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert im.format == "JPEG" and im.size == (128, 32)
    assert thumbnail(None) == (None, "no payload")
    assert thumbnail(b"\x89PNG\r\n\x1a\n garbage")[1].startswith("does not decode")
    truncated = _png(64, 64)[:40]
    assert thumbnail(truncated)[0] is None


def test_render_has_every_section_and_nothing_external() -> None:
    page = render(_metrics())
    ids = set(re.findall(r'id="([a-z-]+)"', page))
    assert set(SECTION_IDS) <= ids
    assert "skipped-models" in ids
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN, fonts or scripts from elsewhere
    assert "<script" not in page  # the recipe's text is escaped, never executed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "too_&lt;long&gt;: 1" in page and "bad &lt;html&gt;" in page
    assert page.count("data:image/jpeg;base64,") == 3  # one kept thumbnail + two cluster members
    assert "img_clip@1" in page and "img_siglip2@1" in page
    details = page.split('id="skipped-details"', 1)[1].split("</section>", 1)[0]
    assert "open_clip:ViT-L-14/openai" in details and "&lt;hf cache&gt;" in details and "img_siglip2@1" in details
    assert 'href="#skipped-details"' in page
    assert "Rows kept at the end: <b>6</b> of 10" in page


def test_optional_sections_follow_the_data() -> None:
    page = render(_metrics(skipped_models=(), skipped_details=(), thumb_groups=(), text_samples=(), dup_clusters=(), has_dedup=False, errors=()))
    ids = set(re.findall(r'id="([a-z-]+)"', page))
    assert "skipped-models" not in ids and "skipped-details" not in ids and "thumbnails" not in ids and "text-samples" not in ids
    assert "This run has no dedup columns." in page
    assert "No record had an error." in page


def test_charts_scale_to_their_data() -> None:
    svg = hbar_chart([("a", 4.0, "4"), ("b", 2.0, "2"), ("c", 0.0, "0")])
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    h = Histogram("s", "x", 3, 0, 0.0, 2.0, 0.0, 1.0, 2.0, (0.0, 1.0, 2.0), (1, 2))
    heights = [float(v) for v in re.findall(r'<rect [^>]*height="([\d.]+)"', histogram_svg(h))]
    assert heights[1] == 2 * heights[0]
    assert "no values" in histogram_svg(Histogram("s", "x", 0, 5, None, None, None, None, None))


def test_write_report_goes_under_home(tmp_path: Path) -> None:
    m = _metrics(run_id="r1", namespace="ns")
    path = write_report(m, tmp_path)
    assert path == report_path("ns", "r1", tmp_path) == tmp_path / "reports" / "ns" / "r1.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("name", ["spark_mm.report.html", "spark_mm.report.metrics", "spark_mm.report.mlflow_log"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
