"""A run's self-contained HTML report: inline CSS, inline SVG charts, base64 thumbnails.

The page needs nothing from the network (no scripts, fonts or stylesheets from elsewhere), so it
opens the same from a laptop, an artifact store or an air-gapped cluster. Sections carry stable
ids (``run``, ``skipped-models``, ``stages``, ``skipped-details``, ``funnel``, ``throughput``, ``errors``,
``histograms``, ``thumbnails``, ``video``, ``duplicates``, ``text-samples``, ``recipe``) that tests
and links rely on (``video`` only for a run with video tables, spark_mm/report/video.py); a table
of contents (``<nav id="contents">``) under the header links to each section the page has.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from spark_mm.paths import home
from spark_mm.report.metrics import DupCluster, Histogram, RunMetrics, StageMetrics, TextSample, Thumb, ThumbGroup
from spark_mm.report.video import VideoMetrics

SECTION_IDS = ("run", "stages", "funnel", "throughput", "errors", "histograms", "thumbnails", "video", "duplicates", "text-samples", "recipe")

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#f5f6f8;overflow-wrap:break-word}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 10px;border-bottom:2px solid #d9dde5;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:4px 16px 14px;margin:14px 0;overflow-x:auto}
nav#contents{font-size:13px;margin:10px 0}nav#contents ol{display:flex;flex-wrap:wrap;gap:2px 16px;list-style:none;margin:0;padding:0}
nav#contents b{margin-right:10px}nav#contents a{color:#2b5bb0;text-decoration:none}nav#contents a:hover{text-decoration:underline}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
td.w{overflow-wrap:anywhere;min-width:12em}
th{background:#f0f2f5;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,pre{font-family:SFMono-Regular,Consolas,Menlo,monospace;font-size:12px}
pre{background:#f6f7f9;border:1px solid #e6e8ec;padding:10px;overflow:auto;max-height:420px;white-space:pre-wrap;overflow-wrap:anywhere}
td pre{margin:0}pre.recipe{max-height:640px}details{margin:8px 0}summary{cursor:pointer;color:#4a5263}
.meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;font-size:13px}.meta dt{color:#5b6475}.meta dd{margin:0;overflow-wrap:anywhere}
.note{font-size:13px;color:#4a5263;background:#f6f7f9;border-left:3px solid #9aa1ae;padding:6px 10px;margin:6px 0 10px}
.banner{background:#fff1d6;border:2px solid #e0a100;color:#5a3d00;padding:12px 16px;border-radius:6px;margin:14px 0;font-weight:600}
.banner ul{margin:6px 0 0;font-weight:400}
.muted{color:#6b7385}.bad{color:#b3261e}.good{color:#1b7f3b}
.hists{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}
.hist{border:1px solid #eceef2;border-radius:4px;padding:6px 8px}.hist .t{font-weight:600;font-size:12px}.hist .s{font-size:11px;color:#6b7385}
.grid{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:140px;font-size:11px}figure img,figure .ph{width:128px;height:128px;object-fit:contain;background:#eef0f3;border:1px solid #dde1e7;display:block}
figure .ph{display:flex;align-items:center;justify-content:center;text-align:center;color:#8a90a0;padding:4px}
figcaption{overflow-wrap:anywhere;color:#4a5263}
.group{margin:10px 0 16px}.group h3 .k{font-weight:400;color:#6b7385}
.kept h3{color:#1b7f3b}.rejected h3{color:#b3261e}
.cluster{display:flex;gap:8px;align-items:flex-start;border-bottom:1px dashed #dde1e7;padding:8px 0}
.cluster .cid{width:150px;flex:none;font-size:12px;color:#4a5263;overflow-wrap:anywhere}
.keep img{outline:3px solid #1b7f3b}.drop img{outline:3px solid #b3261e;opacity:.85}
.txt{border-left:3px solid #c5cad3;padding:4px 10px;margin:6px 0;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;max-height:9em;overflow:hidden}
.txt.kept{border-color:#1b7f3b}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.{digits}g}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (), wrap: Sequence[int] = ()) -> str:
    """An HTML table; cells are already-escaped HTML, columns in ``numeric`` right-aligned.

    Columns in ``wrap`` hold free text (messages, notes) and may break a long unbroken string
    anywhere; the others (names, ids) only wrap between words, so they never split mid-name.
    """
    head = "".join(f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>" for i, h in enumerate(headers))
    cls = {**{i: ' class="w"' for i in wrap}, **{i: ' class="n"' for i in numeric}}
    body = "".join("<tr>" + "".join(f"<td{cls.get(i, '')}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def hbar_chart(items: Sequence[tuple[str, float, str]], width: int = 760, bar_h: int = 20, color: str = "#4a78c2") -> str:
    """Horizontal bars as inline SVG: ``(label, value, value text)`` per bar, scaled to the largest.

    >>> svg = hbar_chart([("a", 2.0, "2"), ("b", 1.0, "1")])
    >>> svg.startswith("<svg") and svg.count("<rect") == 2
    True
    """
    if not items:
        return ""
    label_w = min(260, 12 + 7 * max(len(label) for label, _, _ in items))
    top = max((v for _, v, _ in items), default=0.0) or 1.0
    span = width - label_w - 170
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(items) * (bar_h + 6) + 4}" role="img">']
    for i, (label, value, text) in enumerate(items):
        y = 2 + i * (bar_h + 6)
        w = max(1.0, span * max(value, 0.0) / top) if value > 0 else 0.0
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h * 0.72:.1f}" text-anchor="end" font-size="12" fill="#1d2330">{_e(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"><title>{_e(label)}: {_e(text)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.72:.1f}" font-size="12" fill="#4a5263">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(h: Histogram, width: int = 260, height: int = 90) -> str:
    """Bars of one histogram as inline SVG, with the min and max under the axis."""
    if not h.counts:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"><text x="8" y="{height // 2}" font-size="12" fill="#8a90a0">no values</text></svg>'
    top = max(h.counts) or 1
    plot_h = height - 16
    bw = width / len(h.counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, c in enumerate(h.counts):
        bh = plot_h * c / top
        lo, hi = h.edges[i], h.edges[i + 1]
        parts.append(
            f'<rect x="{i * bw + 0.5:.1f}" y="{plot_h - bh:.1f}" width="{max(bw - 1, 1):.1f}" height="{bh:.1f}" fill="#5b8bd0"><title>[{_num(lo)}, {_num(hi)}): {c}</title></rect>'
        )
    parts.append(f'<line x1="0" y1="{plot_h + 0.5}" x2="{width}" y2="{plot_h + 0.5}" stroke="#9aa1ae"/>')
    lo, hi = (f"≤{_num(h.edges[0])}", f"≥{_num(h.edges[-1])}") if h.clipped else (_num(h.minimum), _num(h.maximum))
    parts.append(f'<text x="1" y="{height - 2}" font-size="10" fill="#6b7385">{_e(lo)}</text>')
    parts.append(f'<text x="{width - 1}" y="{height - 2}" font-size="10" fill="#6b7385" text-anchor="end">{_e(hi)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _header(m: RunMetrics) -> str:
    snaps = ", ".join(f"{_e(s.stage)} @ <code>{_e(s.snapshot_id)}</code>" for s in m.stages)
    rows = [
        ("run id", f"<code>{_e(m.run_id)}</code>"),
        ("job", _e(m.job)),
        ("namespace", f"{_e(m.catalog)}.{_e(m.namespace)}"),
        ("recipe sha256", f"<code>{_e(m.recipe_sha256)}</code>"),
        ("code version", f"<code>{_e(m.code_version)}</code>"),
        ("snapshot ids", snaps or "–"),
        ("generated", _e(m.generated_at)),
    ]
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<section id="run"><h1>spark-mm run report: {_e(m.job)}</h1><dl class="meta">{meta}</dl></section>'


def _banner(m: RunMetrics) -> str:
    if not m.skipped_models:
        return ""
    items = "".join(f"<li>stage <b>{_e(stage)}</b>: {', '.join(_e(o) for o in ops)}</li>" for stage, ops in m.skipped_models)
    why = ' (<a href="#skipped-details">where the weights were looked for</a>)' if m.skipped_details else ""
    return (
        '<div class="banner" id="skipped-models">SKIPPED MODELS: weights were not found (on_missing: skip), '
        f"so these operators wrote null columns and any curation on them is vacuous{why}.<ul>{items}</ul></div>"
    )


def _skipped_details(m: RunMetrics) -> str:
    """Why each skipped model was skipped: every place its weights were looked for and how to provide them."""
    if not m.skipped_details:
        return ""
    rows = [(_e(stage), f"<code>{_e(op)}</code>", f"<pre>{_e(why)}</pre>") for stage, op, why in m.skipped_details]
    return f'<section id="skipped-details"><h2>Skipped models: details</h2>{_table(("stage", "operator", "why"), rows, wrap=(2,))}</section>'


def _stages(stages: Sequence[StageMetrics]) -> str:
    rows = [
        (
            _e(s.stage),
            _num(s.rows_in),
            _num(s.rows_out),
            _num(s.rows_with_errors),
            _num(s.seconds, 2),
            _num(s.rows_per_s, 1),
            f"<code>{_e(s.table)}</code> @ <code>{_e(s.snapshot_id)}</code>",
            _e(("skipped: " if s.skipped else "") + s.note),
        )
        for s in stages
    ]
    return '<section id="stages"><h2>Stages</h2>' + _table(["stage", "rows in", "rows out", "errors", "seconds", "rows/s", "table @ snapshot", "note"], rows, (1, 2, 3, 4, 5), wrap=(6, 7)) + "</section>"


def _funnel(m: RunMetrics) -> str:
    ops = m.operators
    bars = [("rows of the run", float(m.funnel_rows), _num(m.funnel_rows))]
    bars += [(f"{o.name}", float(o.funnel_out), f"{_num(o.funnel_out)} ({_pct(o.funnel_out / m.funnel_rows if m.funnel_rows else None)})") for o in ops if o.passed is not None]
    rows = []
    for o in ops:
        reasons = ", ".join(f"{_e(r.reason)}: {r.count}" for r in o.reasons) or ('<span class="muted">–</span>' if o.is_filter else "")
        rows.append(
            (
                _e(o.stage),
                f"<code>{_e(o.op_id)}</code>" + (" <b>filter</b>" if o.is_filter else ""),
                _num(o.rows),
                _num(o.errors) if o.errors else "0",
                _num(o.passed),
                _pct(o.pass_rate),
                reasons,
                _num(o.funnel_in),
                _num(o.funnel_out),
            )
        )
    chart = hbar_chart(bars, color="#2f8f5b") if len(bars) > 1 else '<p class="muted">No filters in this recipe: every row passes on.</p>'
    return (
        '<section id="funnel"><h2>Funnel per operator</h2>'
        f'<p class="muted">Filters applied in recipe order (a null decision counts as not kept). Rows kept at the end: <b>{_num(m.kept_rows)}</b> of {_num(m.funnel_rows)}.</p>'
        + _kept_note(m)
        + chart
        + _table(["stage", "operator", "rows", "errors", "passed", "pass rate", "rejected by reason", "funnel in", "funnel out"], rows, (2, 3, 4, 5, 7, 8), wrap=(6,))
        + "</section>"
    )


def _kept_note(m: RunMetrics) -> str:
    """What the kept count counts, and why a curation query's export can be smaller."""
    split = ""
    if m.filtered_rows is not None:
        removed = m.filtered_rows - m.kept_rows
        split = f"<b>{_num(m.filtered_rows)}</b> pass every filter, dedup removes <b>{_num(removed)}</b>, kept <b>{_num(m.kept_rows)}</b>. "
    return (
        f'<p class="note" id="kept-note">{split}Kept counts the rows of this run that pass every filter and every dedup step of the recipe '
        f"(the <code>_ok</code> and <code>dup_keep</code> columns). A curation query (<code>conf/{_e(m.job)}_curate.sql</code>, "
        "<code>spark-mm curate</code>) reads the same tables but can apply stricter rules on top, such as thresholds on signal "
        "columns no filter decides or dropping rows a model did not score, so its export may be smaller than this count.</p>"
    )


def _throughput(m: RunMetrics) -> str:
    stage_bars = [(s.stage, s.seconds, f"{_num(s.seconds, 2)} s, {_num(s.rows_per_s, 1)} rows/s") for s in m.stages if not s.skipped]
    op_bars = [(f"{o.stage}/{o.name}", o.seconds, f"{_num(o.seconds, 2)} s, {_num(o.rows_per_s, 1)} rows/s") for o in m.operators if o.seconds is not None]
    body = "<h3>Time per stage</h3>" + (hbar_chart(stage_bars) or '<p class="muted">Every stage was already committed (nothing ran).</p>')
    if op_bars:
        body += "<h3>Worker time per operator</h3>" + hbar_chart(op_bars, color="#7a5bd0")
    else:
        body += '<p class="muted">Per-operator time was not measured for this run.</p>'
    return f'<section id="throughput"><h2>Throughput and time</h2>{body}</section>'


def _errors(m: RunMetrics) -> str:
    if not m.errors:
        return '<section id="errors"><h2>Errors</h2><p class="good">No record had an error.</p></section>'
    rows = [
        (_e(e.stage), f"<code>{_e(e.op)}</code>", _num(e.count), "<br>".join(f"{_num(t.count)} × {_e(t.message)}" for t in e.top))
        for e in sorted(m.errors, key=lambda e: (-e.count, e.stage, e.op))
    ]
    return '<section id="errors"><h2>Errors</h2>' + _table(["stage", "operator", "rows", "most frequent messages"], rows, (2,), wrap=(3,)) + "</section>"


def _histograms(hists: Sequence[Histogram]) -> str:
    if not hists:
        return '<section id="histograms"><h2>Signal histograms</h2><p class="muted">No numeric signal columns.</p></section>'
    cells = "".join(_hist_cell(h, h.column, h.stage) for h in hists)
    return f'<section id="histograms"><h2>Signal histograms</h2><div class="hists">{cells}</div></section>'


def _hist_cell(h: Histogram, title: str, where: str) -> str:
    """One histogram's box: title, bars, then n, nulls and the summary statistics."""
    stats = f"n={_num(h.count)} nulls={_num(h.nulls)} min={_num(h.minimum)} p5={_num(h.p05)} p50={_num(h.p50)} p95={_num(h.p95)} max={_num(h.maximum)}"
    if h.mean is not None:
        stats += f" mean={_num(h.mean)} std={_num(h.std)}"
    stats += " (bins p1–p99)" if h.clipped else ""
    return f'<div class="hist"><div class="t">{_e(title)} <span class="muted">({_e(where)})</span></div>{histogram_svg(h)}<div class="s">{stats}</div></div>'


def _video(v: VideoMetrics | None) -> str:
    """The video section: clip counts, splitters, score histograms, split errors, middle keyframes."""
    if v is None:
        return ""
    parts = ['<section id="video"><h2>Video</h2>']
    if v.clips_table is None:
        parts.append('<p class="muted">This run has no <code>clips:</code> step: no clip counts or keyframes.</p>')
    else:
        parts.append(
            f'<p class="muted">The clips step read <b>{_num(v.videos)}</b> videos: <b>{_num(v.clips)}</b> clips in '
            f"<code>{_e(v.clips_table)}</code>, {_num(v.videos_with_clips)} videos with at least one clip, "
            f"{_num(v.error_rows)} error rows.</p>"
        )
        parts.append("<h3>Clips per video</h3>" + _table(("clips", "videos"), [(_num(k), _num(n)) for k, n in v.clips_per_video], (0, 1)))
        rows = [(_e(sp.splitter), f"<code>{_e(sp.params)}</code>", _num(sp.clips), _num(sp.error_rows)) for sp in v.splitters]
        parts.append("<h3>Splitters</h3>" + _table(("splitter", "parameters", "clips", "error rows"), rows, (2, 3), wrap=(1,)))
    if v.histograms:
        cells = "".join(_hist_cell(lh.histogram, lh.label, lh.table) for lh in v.histograms)
        parts.append(f'<h3>Histograms</h3><p class="muted">Nulls are counted, not dropped: bins plus nulls are the rows of each table.</p><div class="hists">{cells}</div>')
    if v.clips_table is not None:
        if v.reasons:
            rows = [(_e(r.reason), _num(r.videos), _num(r.error_rows), _e(r.message)) for r in v.reasons]
            parts.append('<h3 id="video-errors">Videos not split, by reason</h3>' + _table(("reason", "videos", "error rows", "most frequent message"), rows, (1, 2), wrap=(3,)))
        else:
            parts.append('<h3 id="video-errors">Videos not split, by reason</h3><p class="good">Every video was split.</p>')
        figs = "".join(
            _figure(
                Thumb(t.clip_id, "", t.image_uri, f"{t.sample_id} clip {t.clip_index}, frame {t.frame}", t.note),
                f"<code>{_e(t.sample_id[:12])}</code> #{t.clip_index} frame {t.frame} ({_num(t.start_s, 2)}–{_num(t.end_s, 2)} s)",
            )
            for t in v.thumbs
        )
        parts.append(
            '<h3 id="video-keyframes">Middle keyframes</h3><p class="muted">The frame each clip is hashed at for clip dedup '
            f"(<code>clip_phash_frame</code>), {len(v.thumbs)} clips, each video's first clip first.</p>"
            + (f'<div class="grid">{figs}</div>' if figs else '<p class="muted">No clip to show.</p>')
        )
    parts += [f'<p class="muted">{_e(n)}</p>' for n in v.notes]
    return "".join(parts) + "</section>"


def _figure(t: Thumb, caption: str) -> str:
    img = f'<img alt="{_e(t.sample_id)}" src="{t.image_uri}">' if t.image_uri else f'<div class="ph">{_e(t.note or "no image")}</div>'
    return f'<figure title="{_e(t.caption)}">{img}<figcaption>{caption}</figcaption></figure>'


def _thumbs(groups: Sequence[ThumbGroup]) -> str:
    if not groups:
        return ""
    parts = []
    for g in groups:
        figs = "".join(_figure(t, f"<code>{_e(t.sample_id[:12])}</code> {_e(t.caption[:60])}") for t in g.thumbs)
        cls = "kept" if g.kept else "rejected"
        parts.append(f'<div class="group {cls}"><h3>{_e(g.label)} <span class="k">{_num(g.total)} rows, {len(g.thumbs)} shown</span></h3><div class="grid">{figs}</div></div>')
    return '<section id="thumbnails"><h2>Kept and rejected images</h2><p class="muted">A bounded, deterministic sample per verdict; rejected rows are labelled with the first filter that did not pass.</p>' + "".join(parts) + "</section>"


def _dups(m: RunMetrics) -> str:
    clusters: Sequence[DupCluster] = m.dup_clusters
    if not m.has_dedup:
        return '<section id="duplicates"><h2>Near-duplicate clusters</h2><p class="muted">This run has no dedup columns.</p></section>'
    if not clusters:
        return '<section id="duplicates"><h2>Near-duplicate clusters</h2><p class="muted">No cluster has more than one member.</p></section>'
    rows = []
    for c in clusters:
        figs = []
        for mem in c.members:
            cls = "keep" if mem.keep else "drop"
            label = "kept" if mem.keep else f"dropped: {mem.reason or '–'}"
            if mem.thumb.image_uri or not mem.thumb.caption:
                figs.append(f'<div class="{cls}">{_figure(mem.thumb, f"<code>{_e(mem.sample_id[:12])}</code> {_e(label)}")}</div>')
            else:
                figs.append(f'<div class="txt {"kept" if mem.keep else ""}"><code>{_e(mem.sample_id[:12])}</code> {_e(label)}<br>{_e(mem.thumb.caption)}</div>')
        rows.append(f'<div class="cluster"><div class="cid">cluster <code>{_e(c.cluster_id[:16])}</code><br>{c.size} members</div><div class="grid">{"".join(figs)}</div></div>')
    return '<section id="duplicates"><h2>Near-duplicate clusters</h2>' + "".join(rows) + "</section>"


def _texts(samples: Sequence[TextSample]) -> str:
    if not samples:
        return ""
    parts = []
    label = None
    for s in samples:
        if s.label != label:
            label = s.label
            parts.append(f"<h3>{_e(label)}</h3>")
        parts.append(f'<div class="txt {"kept" if s.label == "kept" else ""}"><code>{_e(s.sample_id[:12])}</code> {_e(s.snippet)}</div>')
    return '<section id="text-samples"><h2>Text samples per filter reason</h2>' + "".join(parts) + "</section>"


def _recipe(m: RunMetrics) -> str:
    """The recipe file's text verbatim (escaped, never re-dumped), then the overrides applied on top."""
    notes = "".join(f'<p class="muted">{_e(n)}</p>' for n in m.notes)
    if m.recipe_source is not None:
        where = f"<code>{_e(m.recipe_path)}</code>" if m.recipe_path else "The recipe file"
        body = f'<p class="muted">{where}, as the file reads.</p><pre class="recipe">{_e(m.recipe_source)}</pre>'
    else:
        body = f'<p class="muted">Built in code: the YAML dump recipe sha256 is over.</p><pre class="recipe">{_e(m.recipe_text)}</pre>'
    if m.recipe_overrides:
        rows = [(f"<code>{_e(key)}</code>", f"<code>{_e(value)}</code>") for key, _, value in (o.partition("=") for o in m.recipe_overrides)]
        body += (
            '<h3 id="recipe-overrides">Overrides</h3><p class="muted">Applied on top of the file in this order '
            "(<code>--set-file</code> entries, then <code>--set</code>; a later one wins).</p>" + _table(("key", "value"), rows, wrap=(0, 1))
        )
        if m.recipe_source is not None:
            body += f"<details><summary>The overridden recipe as hashed (recipe sha256)</summary><pre>{_e(m.recipe_text)}</pre></details>"
    return f'<section id="recipe"><h2>Recipe</h2>{notes}{body}</section>'


def _contents(sections: Sequence[tuple[str, str]]) -> str:
    """``<nav id="contents">``: a link to each ``(id, title)`` section, in page order."""
    links = "".join(f'<li><a href="#{sid}">{_e(title)}</a></li>' for sid, title in sections)
    return f'<nav id="contents"><ol><li><b>Contents</b></li>{links}</ol></nav>'


def render(m: RunMetrics) -> str:
    """The whole report as one HTML string (no external resources)."""
    sections: list[tuple[str, str, Callable[[RunMetrics], str]]] = [  # (id, title in the contents, renderer)
        ("skipped-models", "Skipped models", _banner),
        ("stages", "Stages", lambda m: _stages(m.stages)),
        ("skipped-details", "Skipped models: details", _skipped_details),
        ("funnel", "Funnel", _funnel),
        ("throughput", "Throughput", _throughput),
        ("errors", "Errors", _errors),
        ("histograms", "Histograms", lambda m: _histograms(m.histograms)),
        ("thumbnails", "Images", lambda m: _thumbs(m.thumb_groups)),
        ("video", "Video", lambda m: _video(m.video)),
        ("duplicates", "Duplicates", _dups),
        ("text-samples", "Text samples", lambda m: _texts(m.text_samples)),
        ("recipe", "Recipe", _recipe),
    ]
    parts = [(sid, title, fn(m)) for sid, title, fn in sections]
    present = [("run", "Run")] + [(sid, title) for sid, title, part in parts if part]  # optional sections render ""
    body = _header(m) + _contents(present) + "".join(part for _, _, part in parts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>spark-mm {_e(m.job)} {_e(m.run_id)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def render_analysis(table: str, snapshot_id: int, run_id: str, hists: Sequence[Histogram]) -> str:
    """The ``spark-mm analyze`` page: one table's signal histograms (same drawing as the run report)."""
    head = (
        f'<section id="run"><h1>Analysis of {_e(table)}</h1>'
        f'<p class="muted">snapshot <code>{_e(snapshot_id)}</code> · analysis run <code>{_e(run_id)}</code> · '
        f"stored in <code>{_e(table.split('.')[0])}.analysis</code></p></section>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>spark-mm analysis {_e(table)}</title><style>{_CSS}</style></head>"
        f"<body><main>{head}{_histograms(hists)}</main></body></html>"
    )


def write_analysis_report(table: str, snapshot_id: int, run_id: str, hists: Sequence[Histogram], root: Path | None = None) -> Path:
    """Write ``<home>/reports/<namespace>/analysis_<table>_<run_id>.html``; returns its path."""
    ns, name = table.split(".")
    path = (root or home()) / "reports" / ns / f"analysis_{name}_{run_id}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_analysis(table, snapshot_id, run_id, hists), encoding="utf-8")
    return path


def report_path(namespace: str, run_id: str, root: Path | None = None) -> Path:
    """``<home>/reports/<namespace>/<run_id>.html``."""
    return (root or home()) / "reports" / namespace / f"{run_id}.html"


def write_report(m: RunMetrics, root: Path | None = None) -> Path:
    """Render and write the report under the project home; returns its path."""
    path = report_path(m.namespace, m.run_id, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(m), encoding="utf-8")
    tmp.replace(path)
    return path
