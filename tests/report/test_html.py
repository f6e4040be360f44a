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
    short_message,
    thumbnail,
)
from spark_mm.report.video import KeyframeThumb, LabelledHistogram, SplitReason, SplitterCount, VideoMetrics


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
        filtered_rows=8,
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


def _video(uri: str) -> VideoMetrics:
    dur = Histogram("clips", "clip_duration_s", 5, 0, 0.5, 1.5, 0.5, 1.25, 1.5, tuple(0.5 + 0.05 * i for i in range(21)), (1,) + (0,) * 14 + (2,) + (0,) * 3 + (2,))
    motion = Histogram("meta", "vid_motion_score", 2, 1, 0.1, 0.3, 0.1, 0.2, 0.3, tuple(0.1 + 0.01 * i for i in range(21)), (1,) + (0,) * 18 + (1,))
    return VideoMetrics(
        videos=3, clips=5, error_rows=1, videos_with_clips=2, clips_per_video=((3, 1), (2, 1), (0, 1)),
        splitters=(SplitterCount("content", '{"threshold":27.0}', 5, 1),),
        histograms=(LabelledHistogram("clip duration, s (video_clips)", "lake.t.video_clips", dur), LabelledHistogram("motion <score>", "lake.t.signals_meta", motion)),
        reasons=(SplitReason("not_video", 1, 1, "not_video: not a <video> container"),),
        thumbs=(KeyframeThumb("c" * 32, "a" * 32, 0, 6, 0.0, 1.25, uri), KeyframeThumb("d" * 32, "b" * 32, 0, 9, 0.0, 1.5, None, "decode_error: no frame decoded")),
        clips_table="lake.t.video_clips", notes=("clips read from lake.t.video_clips",),
    )


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
    page = render(_metrics(video=_video(thumbnail(_png(64, 48))[0])))
    ids = set(re.findall(r'id="([a-z-]+)"', page))
    assert set(SECTION_IDS) <= ids
    assert "skipped-models" in ids
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN, fonts or scripts from elsewhere
    assert "<script" not in page  # the recipe's text is escaped, never executed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "too_&lt;long&gt;: 1" in page and "bad &lt;html&gt;" in page
    assert page.count("data:image/jpeg;base64,") == 4  # one kept thumbnail + two cluster members + one keyframe
    assert "img_clip@1" in page and "img_siglip2@1" in page
    details = page.split('id="skipped-details"', 1)[1].split("</section>", 1)[0]
    assert "open_clip:ViT-L-14/openai" in details and "&lt;hf cache&gt;" in details and "img_siglip2@1" in details
    assert 'href="#skipped-details"' in page
    assert "Rows kept at the end: <b>6</b> of 10" in page


def test_optional_sections_follow_the_data() -> None:
    page = render(_metrics(skipped_models=(), skipped_details=(), thumb_groups=(), text_samples=(), dup_clusters=(), has_dedup=False, errors=()))
    ids = set(re.findall(r'id="([a-z-]+)"', page))
    assert "skipped-models" not in ids and "skipped-details" not in ids and "thumbnails" not in ids and "text-samples" not in ids
    assert "video" not in ids and 'href="#video"' not in page  # no video tables: no video section
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


def _section(page: str, sid: str) -> str:
    return page.split(f'id="{sid}"', 1)[1].split("</section>", 1)[0]


def test_short_message_cuts_at_a_word_boundary() -> None:
    assert short_message("empty payload", 20) == "empty payload"  # short: untouched
    assert short_message("x" * 20, 20) == "x" * 20  # exactly the limit: untouched
    # Cut at the last space before the limit, never mid-word; the "…" counts towards the limit.
    msg = "image decode: DecompressionBombError: Image size (3600000000 pixels) exceeds limit"
    cut = short_message(msg, 60)
    assert cut == "image decode: DecompressionBombError: Image size…" and len(cut) <= 60
    assert short_message("abc def ghi", 8) == "abc def…"  # the limit falls on a space: the word before stays whole
    # A single word longer than the limit: the only hard cut.
    assert short_message("A" * 30 + " tail", 10) == "A" * 9 + "…"
    assert short_message("trailing   ", 8) == "trailing"


def test_contents_links_each_section_on_the_page() -> None:
    page = render(_metrics())
    nav = page.split('<nav id="contents">', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="#([a-z-]+)"', nav)
    ids = re.findall(r'<(?:section|div)[^>]* id="([a-z-]+)"', page)
    assert links == ids  # every section, in page order, and nothing that is not there
    assert links[0] == "run" and links[-1] == "recipe" and "thumbnails" in links
    assert page.index('<nav id="contents">') < page.index('id="skipped-models"')  # at the top, under the header
    bare = render(_metrics(skipped_models=(), skipped_details=(), thumb_groups=(), text_samples=()))
    bare_links = re.findall(r'href="#([a-z-]+)"', bare.split('<nav id="contents">', 1)[1].split("</nav>", 1)[0])
    assert "thumbnails" not in bare_links and "skipped-models" not in bare_links and "text-samples" not in bare_links


def test_recipe_section_shows_the_file_verbatim_and_the_overrides() -> None:
    source = "# z_image demo – “curly quotes”, ünïcode and a comment the dump would lose\njob: z_image\nlake:\n  buckets: 16  # per table\n"
    dumped = "job: z_image\nlake:\n  buckets: 4\nnamespace: \"a<b\"\n"
    overrides = ("lake.buckets=4", 'namespace="a<b"')
    page = render(_metrics(recipe_text=dumped, recipe_source=source, recipe_path="conf/z_image.yaml", recipe_overrides=overrides))
    recipe = _section(page, "recipe")
    pre = recipe.split('<pre class="recipe">', 1)[1].split("</pre>", 1)[0]
    import html

    assert html.unescape(pre) == source  # the text itself, comments and non-ASCII kept, no \u escapes
    assert "<code>conf/z_image.yaml</code>" in recipe
    table = recipe.split('id="recipe-overrides"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*><code>(.*?)</code></td>", table)
    assert cells == ["lake.buckets", "4", "namespace", "&quot;a&lt;b&quot;"]
    assert "buckets: 4" in recipe.split("<details>", 1)[1]  # the hashed text, folded away
    # No overrides: no table and no hashed copy; built in code: the dump, said so.
    plain = _section(render(_metrics(recipe_source=source, recipe_text=source)), "recipe")
    assert "recipe-overrides" not in plain and "<details>" not in plain
    in_code = _section(render(_metrics()), "recipe")
    assert "Built in code" in in_code and "job: fineweb" in in_code


def test_kept_note_explains_the_count_and_splits_it() -> None:
    funnel = _section(render(_metrics()), "funnel")
    note = funnel.split('id="kept-note">', 1)[1].split("</p>", 1)[0]
    assert note.startswith("<b>8</b> pass every filter, dedup removes <b>2</b>, kept <b>6</b>.")
    assert "every filter and every dedup step" in note and "conf/fineweb_curate.sql" in note and "may be smaller" in note
    no_dedup = _section(render(_metrics(filtered_rows=None)), "funnel")
    assert 'id="kept-note">Kept counts' in no_dedup and "pass every filter," not in no_dedup


def test_error_messages_and_long_strings_wrap() -> None:
    long = "x" * 400
    page = render(_metrics(errors=(ErrorSummary("text", "txt_extract", 2, (ErrorMessage(long, 2),)),)))
    assert f'<td class="w">2 × {long}</td>' in _section(page, "errors")  # shown whole (cut upstream by short_message) ...
    css = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert re.search(r"\btd\.w\{[^}]*overflow-wrap:anywhere", css) and re.search(r"\bpre\{[^}]*overflow-wrap:anywhere", css)  # ... and wrapped
    assert "<td><code>txt_extract</code></td>" in page  # names never break mid-name
    assert "break-all" not in css  # wraps only where a string would overflow, not inside every word


def test_video_section() -> None:
    uri = thumbnail(_png(64, 48))[0]
    page = render(_metrics(video=_video(uri)))
    section = page.split('<section id="video">', 1)[1].split("</section>", 1)[0]
    assert 'href="#video"' in page and "<b>3</b> videos: <b>5</b> clips in <code>lake.t.video_clips</code>" in section
    assert "<td class=\"n\">3</td><td class=\"n\">1</td>" in section  # clips per video: 3 clips, 1 video
    assert "content" in section and "{&quot;threshold&quot;:27.0}" in section
    assert section.count('class="hist"') == 2 and "motion &lt;score&gt;" in section and "nulls=1" in section
    assert "not a &lt;video&gt; container" in section and section.count(f'src="{uri}"') == 1
    assert "decode_error: no frame decoded" in section  # a keyframe that did not decode is a note, not a hole
    no_clips = render(_metrics(video=VideoMetrics(0, 0, 0, 0, (), (), (), (), ())))
    assert 'id="video"' in no_clips and "no <code>clips:</code> step" in no_clips and 'id="video-keyframes"' not in no_clips
