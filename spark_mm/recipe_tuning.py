"""``spark-mm suggest``: Data-Juicer's k-sigma recipe over the analysed signal tables.

For every enabled filter threshold whose signal is stored (``Params.threshold_signals()``), the
proposal is ``mean − k·std`` for a lower bound and ``mean + k·std`` for an upper bound of that
signal, with mean and sample std read from the newest ``<ns>.analysis`` rows of the signals table
(Data-Juicer's ``modify_recipe_k_sigma`` on its analyzer's pandas ``describe``). The expected keep
rate of each proposal, of each filter and of all of them together is counted in Spark on the same
snapshot the analysis read. The proposals are written as a ``--set-file`` override file.
Deviations from Data-Juicer (explicit threshold ↔ signal mapping, rounding, clamping) are in
``docs/analysis.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_mm.engine.runner import signals_table
from spark_mm.errors import ConfigError
from spark_mm.lake import analysis
from spark_mm.lake.tables import Lake
from spark_mm.ops import registry
from spark_mm.ops.thresholds import Threshold
from spark_mm.recipe import LoadedRecipe


@dataclass(frozen=True)
class Proposal:
    """One threshold's k-sigma value and what it would keep."""

    key: str  # dotted override key, e.g. stages.0.ops.2.min_side_px
    op: str
    param: str
    table: str
    signal: str
    current: Any
    proposed: float | int
    mean: float
    std: float
    keep_rate: float | None = None  # rows whose signal satisfies the proposed bound
    current_keep_rate: float | None = None  # same with the recipe's current value


@dataclass(frozen=True)
class Suggestion:
    """The k-sigma proposals of a recipe, with expected keep rates counted in Spark."""

    k: float
    rows: int
    proposals: tuple[Proposal, ...]
    filter_keep_rates: dict[str, float]  # "stages.0.ops.2 (img_quality_filter)" → rate
    total_keep_rate: float | None
    analyses: dict[str, tuple[str, int]]  # table → (analysis run id, snapshot id)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def overrides(self) -> dict[str, float | int]:
        return {p.key: p.proposed for p in self.proposals}


@dataclass(frozen=True)
class _Candidate:
    key: str
    filter_key: str
    op: str
    param: str
    threshold: Threshold
    current: Any
    table: str


def _candidates(loaded: LoadedRecipe) -> tuple[list[_Candidate], list[str]]:
    """Every declared threshold of the recipe, with the signals table holding its columns."""
    producer: dict[str, str] = {}  # column → signals table of the latest stage that wrote it
    out: list[_Candidate] = []
    notes: list[str] = []
    for si, stage in enumerate(loaded.recipe.stages):
        for params in stage.ops:
            for col in registry.build(params).output_schema.names:
                producer[col] = signals_table(stage.name)
        for oi, params in enumerate(stage.ops):
            for name, t in params.threshold_signals().items():
                key = f"stages.{si}.ops.{oi}.{name}"
                tables = {producer.get(c) for c in t.signal.columns}
                if None in tables or len(tables) != 1:
                    notes.append(f"{key}: signal {t.signal.name} needs {list(t.signal.columns)}, not all written by one stage of this recipe; skipped")
                    continue
                out.append(_Candidate(key, f"stages.{si}.ops.{oi} ({params.op})", params.op, name, t, getattr(params, name), tables.pop()))  # type: ignore[arg-type]
    return out, notes


def suggest(spark: SparkSession, loaded: LoadedRecipe, k: float) -> Suggestion:
    """Propose k-sigma thresholds for ``loaded`` from the analyses of its signals tables."""
    if k <= 0:
        raise ConfigError(f"--k {k}: must be > 0 (Data-Juicer's default is 3)")
    recipe = loaded.recipe
    ns = recipe.namespace
    candidates, notes = _candidates(loaded)
    analyses: dict[str, analysis.Analysis] = {}
    for table in dict.fromkeys(c.table for c in candidates):
        found = analysis.latest(spark, recipe.lake, f"{ns}.{table}")
        if found is None:
            raise ConfigError(f"{ns}.{table} has no analysis in {ns}.{analysis.ANALYSIS_TABLE}: run spark-mm analyze {ns}.{table} first")
        current = Lake(spark, recipe.lake, ns).current_snapshot_id(table)
        if current != found.snapshot_id:
            notes.append(f"{ns}.{table}: analysed at snapshot {found.snapshot_id}, now at {current}; stats and keep rates describe the analysed snapshot (re-run analyze for the current one)")
        analyses[table] = found
    proposals: list[Proposal] = []
    kept: list[_Candidate] = []
    for c in candidates:
        stats = analyses[c.table].columns.get(c.threshold.signal.name)
        if stats is None or stats.mean is None or stats.std is None:
            notes.append(f"{c.key}: signal {c.threshold.signal.name} has no mean/std in the analysis of {ns}.{c.table} (not analysed, or fewer than 2 values); skipped")
            continue
        proposed = c.threshold.propose(stats.mean, stats.std, k)
        proposals.append(Proposal(c.key, c.op, c.param, f"{ns}.{c.table}", c.threshold.signal.name, c.current, proposed, stats.mean, stats.std))
        kept.append(c)
    rows, rates, filter_rates, total = _keep_rates(spark, recipe.lake, ns, analyses, kept, proposals)
    proposals = [dataclasses.replace(p, keep_rate=rates.get(p.key), current_keep_rate=rates.get(p.key + "#current")) for p in proposals]
    used = {c.table for c in kept}
    return Suggestion(
        k, rows, tuple(proposals), filter_rates, total,
        {f"{ns}.{t}": (a.run_id, a.snapshot_id) for t, a in analyses.items() if t in used}, tuple(notes),
    )


def _current_value(c: _Candidate) -> float | int | None:
    """The threshold the recipe runs with now (the declared effective value when the param is unset)."""
    if isinstance(c.current, (int, float)) and not isinstance(c.current, bool):
        return c.current
    return c.threshold.effective


def _keep_rates(
    spark: SparkSession, lake: Any, ns: str, analyses: dict[str, analysis.Analysis], cands: list[_Candidate], props: list[Proposal]
) -> tuple[int, dict[str, float], dict[str, float], float | None]:
    """One Spark aggregate over the analysed snapshots (joined on ``sample_id`` when several)."""
    if not cands:
        return 0, {}, {}, None
    tables = Lake(spark, lake, ns)
    flags: dict[str, list[Any]] = {}
    for c, p in zip(cands, props):
        flags.setdefault(c.table, []).append(F.expr(c.threshold.keep_sql(p.proposed)).alias(_flag(c.key)))
        current = _current_value(c)
        if current is not None:
            flags[c.table].append(F.expr(c.threshold.keep_sql(current)).alias(_flag(c.key + "#current")))
    frame: DataFrame | None = None
    for table, cols in flags.items():
        part = spark.sql(f"SELECT * FROM {tables.table(table)} VERSION AS OF {analyses[table].snapshot_id}").select("sample_id", *cols)
        frame = part if frame is None else frame.join(part, "sample_id", "inner")
    assert frame is not None
    by_filter: dict[str, list[str]] = {}
    for c in cands:
        by_filter.setdefault(c.filter_key, []).append(_flag(c.key))
    every = [_flag(c.key) for c in cands]
    aggs = [F.count(F.lit(1)).alias("__rows")]
    aggs += [F.sum(F.col(n).cast("long")).alias(n) for n in frame.columns if n != "sample_id"]
    aggs += [F.sum(_all(names).cast("long")).alias(f"__filter{i}") for i, names in enumerate(by_filter.values())]
    aggs.append(F.sum(_all(every).cast("long")).alias("__total"))
    r = frame.agg(*aggs).first()
    rows = int(r["__rows"])
    if rows == 0:
        return 0, {}, {}, None
    rates = {key: int(r[_flag(key)] or 0) / rows for key in [c.key for c in cands] + [c.key + "#current" for c in cands] if _flag(key) in frame.columns}
    filter_rates = {f: int(r[f"__filter{i}"] or 0) / rows for i, f in enumerate(by_filter)}
    return rows, rates, filter_rates, int(r["__total"] or 0) / rows


def _flag(key: str) -> str:
    return "k_" + key.replace(".", "_").replace("#", "__")


def _all(names: list[str]) -> Any:
    out = F.col(names[0])
    for n in names[1:]:
        out = out & F.col(n)
    return out


def write_overrides(s: Suggestion, path: str | Path, recipe_path: str | None) -> Path:
    """Write the proposals as a ``spark-mm run --set-file`` file, provenance in comments."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = [f"# spark-mm suggest --k {s.k} {recipe_path or ''}".rstrip(), "# k-sigma thresholds (mean ± k·std of each signal); apply with: spark-mm run RECIPE --set-file THIS_FILE"]
    head += [f"# {t}: analysis run {run} at snapshot {snap}" for t, (run, snap) in s.analyses.items()]
    body = yaml.safe_dump(s.overrides, sort_keys=False) if s.proposals else "{}\n"
    path.write_text("\n".join(head) + "\n" + body)
    return path


def format_suggestion(s: Suggestion) -> str:
    """The table ``spark-mm suggest`` prints."""
    lines = [f"k = {s.k}, {s.rows} rows"]
    for p in s.proposals:
        cur = "" if p.current_keep_rate is None else f", now {p.current!r} keeps {p.current_keep_rate:.2%}"
        keep = "?" if p.keep_rate is None else f"{p.keep_rate:.2%}"
        lines.append(f"  {p.key} ({p.signal}: mean {p.mean:.6g}, std {p.std:.6g}) → {p.proposed!r} keeps {keep}{cur}")
    for f, rate in s.filter_keep_rates.items():
        lines.append(f"  filter {f}: keeps {rate:.2%}")
    if s.total_keep_rate is not None:
        lines.append(f"  all proposed thresholds together: keep {s.total_keep_rate:.2%}")
    lines += [f"  note: {n}" for n in s.notes]
    return "\n".join(lines)
