"""The ``spark-mm`` command: run recipes and query the lake.

    spark-mm run conf/z_image.yaml [--set key=value ...] [--run-id ID] [--recompute STAGE ...] [--verbose]
    spark-mm run conf/laion_links.yaml --then conf/laion.yaml [--then-set key=value ...]  # phases, one session
    spark-mm sql "SELECT ..." [--format table|json] [--set lake.catalog=...] [--verbose]
    spark-mm curate QUERY.sql [--recipe R] [--into NAME] [--export [DIR]] [--format parquet|webdataset] [--image-format auto|keep|jpg|png|webp]
    spark-mm runs [--namespace NS] / spark-mm lineage NS.TABLE [--format table|json]
    spark-mm trace NS --op OPNAME [--run-id R] [--limit N] [--format text|json]
    spark-mm unlock NS [--set lake.catalog=...]
    spark-mm analyze NS.TABLE [--columns C ...] / spark-mm suggest --k 3 RECIPE [--out FILE]
    spark-mm train-fasttext --positive SQL|FILE.sql --negative SQL|FILE.sql --out MODEL.bin [--param epoch=5 ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from pathlib import Path

from spark_mm.engine.console import quiet_python_loggers
from spark_mm.errors import QueryError, SparkMMError

DEFAULT_EXPORT = ""  # ``--export`` given without a directory: see export_dir()
DEFAULT_RECIPES = {
    "z_image": "conf/z_image.yaml", "refinedweb": "conf/refinedweb.yaml", "fineweb": "conf/fineweb.yaml", "laion": "conf/laion_links.yaml",
    "download": "conf/download.yaml", "video": "conf/video.yaml",
}
# jobs of several phases: the recipes run after the first one when no --then is given
DEFAULT_THEN = {"laion": ("conf/laion.yaml",)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spark-mm", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a recipe")
    run.add_argument("recipe_path", nargs="?", help="recipe YAML file")
    run.add_argument("--recipe", dest="recipe_flag", help="recipe YAML file (same as the positional argument)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key, e.g. --set namespace=test")
    run.add_argument("--set-file", help="YAML of dotted keys -> values (e.g. from spark-mm suggest), applied like --set before the --set flags")
    run.add_argument("--run-id", help="name the run; re-using an id resumes it without appending twice")
    run.add_argument("--recompute", action="append", default=[], metavar="STAGE", help="recompute every row of this stage, current or not (repeatable)")
    run.add_argument("--then", action="append", default=[], metavar="RECIPE", help="run this recipe next, in the same session under the same run id (repeatable)")
    run.add_argument("--then-set", dest="then_overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key of every --then recipe")
    run.add_argument("--job", help=argparse.SUPPRESS)
    run.add_argument("--verbose", action="store_true", help="also print spark-mm's INFO messages (why each skipped model was skipped, ...)")

    sql = sub.add_parser("sql", help="run Spark SQL against the catalog")
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "json"), default="table")
    sql.add_argument("--limit", type=int, default=1000, help="rows to print at most")
    sql.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings, e.g. --set lake.catalog=prod")
    sql.add_argument("--verbose", action="store_true", help="on a query error, also print Spark's full trace")

    cur = sub.add_parser("curate", help="run a curation query into a tagged curated table; export shards")
    cur.add_argument("query_file", help="SQL file over the signal tables (${namespace}, ${catalog} substituted)")
    cur.add_argument("--recipe", help="recipe whose namespace, lake and spark settings apply")
    cur.add_argument("--namespace", help="namespace of the input tables (default: the recipe's)")
    cur.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="recipe keys with --recipe; else lake.*, spark.*, namespace")
    cur.add_argument("--into", help="curated table <ns>.curated_<INTO> (default: query file name without _curate)")
    cur.add_argument(
        "--export", dest="export_dir", nargs="?", const=DEFAULT_EXPORT, metavar="DIR",
        help="write shards and manifest.json into DIR; without DIR into <home>/exports/<namespace>/<name> (outside the checkout's sources)",
    )
    cur.add_argument("--format", dest="formats", action="append", choices=("parquet", "webdataset"), help="export format, repeatable (default: both)")
    cur.add_argument("--shard-size", type=int, default=10_000, help="target rows per shard")
    cur.add_argument(
        "--image-format", choices=("auto", "keep", "jpg", "png", "webp"), default="auto",
        help="the one image extension of the WebDataset export (HF datasets needs one): auto = the most common of jpg/png/webp "
        "(ties: jpg), only the others re-encoded; jpg|png|webp = that one; keep = every image's own bytes and extension (default: auto)",
    )
    cur.add_argument("--run-id", help="re-using an id re-exports its curated snapshot without committing again")

    for name, text in (("runs", "list runs from snapshot summaries (pyiceberg, no Spark)"), ("lineage", "list a table's snapshots with lineage and time-travel ids")):
        ins = sub.add_parser(name, help=text)
        if name == "lineage":
            ins.add_argument("table", help="NAMESPACE.TABLE")
        else:
            ins.add_argument("--namespace", help="only this namespace (default: all)")
        ins.add_argument("--format", choices=("table", "json"), default="table")
        ins.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake.* settings")
    trc = sub.add_parser("trace", help="what one operator dropped, changed or grouped as duplicates (Data-Juicer's tracer)")
    trc.add_argument("namespace")
    trc.add_argument("--op", required=True, help="operator name (txt_length, txt_line_corrections, ...) or dedup step table dedup_<name>")
    trc.add_argument("--run-id", help="only rows this run wrote (default: every row of the current tables)")
    trc.add_argument("--limit", type=int, default=10, help="rows (dedup: groups) shown per view")
    trc.add_argument("--max-chars", type=int, default=2000, help="clip texts longer than this in the output")
    trc.add_argument("--format", choices=("text", "json"), default="text")
    trc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings")
    unl = sub.add_parser("unlock", help="release a namespace's run lease left by a dead or stuck run")
    unl.add_argument("namespace")
    unl.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings")
    tr = sub.add_parser("train-aigc", help="fit the AIGC detector head from labelled embeddings in an Iceberg table")
    tr.add_argument("table", help="NAMESPACE.TABLE with an embedding column and a 0/1 label column")
    tr.add_argument("--embedding-column", default="img_siglip2_emb")
    tr.add_argument("--label-column", default="label")
    tr.add_argument("--where", help="optional SQL filter on the table")
    tr.add_argument("--out", required=True, help="where to write the head (.safetensors); give it to img_aigc as weights.path")
    tr.add_argument("--hidden", type=int, default=256, help="hidden width; 0 fits a logistic regression")
    tr.add_argument("--epochs", type=int, default=200)
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings")
    tf = sub.add_parser("train-fasttext", help="train a DCLM-style fastText quality classifier from two queries (positives, negatives)")
    tf.add_argument("--positive", required=True, metavar="SQL", help="query (or a .sql file) selecting the high-quality texts")
    tf.add_argument("--negative", required=True, metavar="SQL", help="query (or a .sql file) selecting the other texts")
    tf.add_argument("--out", required=True, help="the .bin to write (with <out>.lineage.json); give it to txt_fasttext_quality as weights.path")
    tf.add_argument("--text-column", default="txt_content", help="text column of both queries (a one-column query needs none)")
    tf.add_argument("--val-fraction", type=float, default=0.1, help="share of texts held out for validation (hash of seed and text)")
    tf.add_argument("--seed", type=int, default=42, help="seed of the validation split and training order")
    tf.add_argument("--positive-label", default="__label__hq")
    tf.add_argument("--negative-label", default="__label__cc")
    tf.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="fastText hyperparameter (epoch, lr, word_ngrams, dim, thread, ...); DCLM's by default")
    tf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings")
    ana = sub.add_parser("analyze", help="per-signal stats, quantiles and histograms of a table into <ns>.analysis (Data-Juicer's analyzer)")
    ana.add_argument("table", help="NAMESPACE.TABLE, e.g. demo.signals_cpu")
    ana.add_argument("--columns", nargs="+", help="signal columns to analyse (default: every numeric signal and derived threshold signal)")
    ana.add_argument("--run-id", help="name the analysis run")
    ana.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings")
    sug = sub.add_parser("suggest", help="k-sigma thresholds for a recipe's filters from the analysed tables; writes a --set-file")
    sug.add_argument("recipe", help="recipe YAML file")
    sug.add_argument("--k", type=float, default=3.0, help="proposal = mean ± k·std of each threshold's signal (default 3)")
    sug.add_argument("--out", help="override file to write (default: <recipe stem>.k<k>.yaml beside the recipe)")
    sug.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override recipe keys first")
    return p


def cmd_analyze(args: argparse.Namespace) -> int:
    from spark_mm.engine.session import build_session
    from spark_mm.lake.analysis import analyze
    from spark_mm.lake.lineage import new_run_id
    from spark_mm.report.html import write_analysis_report

    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm analyze")
    a = analyze(spark, lake, args.table, args.run_id or new_run_id(), args.columns)
    for c in a.columns.values():
        h = c.histogram
        print(f"{c.column}: n={h.count} nulls={h.nulls} mean={h.mean} std={h.std} min={h.minimum} p50={h.p50} max={h.maximum}")
    print(f"{a.table} @ {a.snapshot_id}: {len(a.columns)} signals written to {a.table.split('.')[0]}.analysis (run {a.run_id})")
    print(f"report: {write_analysis_report(a.table, a.snapshot_id, a.run_id, [c.histogram for c in a.columns.values()])}")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from spark_mm import recipe as recipes
    from spark_mm.engine.session import build_session
    from spark_mm.recipe_tuning import format_suggestion, suggest, write_overrides

    loaded = recipes.load(args.recipe, args.overrides)
    spark = build_session(loaded.recipe.lake, loaded.recipe.spark, app_name="spark-mm suggest")
    s = suggest(spark, loaded, args.k)
    print(format_suggestion(s))
    out = args.out or str(Path(args.recipe).with_suffix(f".k{args.k:g}.yaml"))
    print(f"overrides: {write_overrides(s, out, args.recipe)} (spark-mm run {args.recipe} --set-file {out})")
    return 0


def cmd_train_aigc(args: argparse.Namespace) -> int:
    from spark_mm.engine.session import build_session
    from spark_mm.models.aigc_table import train_from_table

    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm train-aigc")
    path = train_from_table(spark, args.table, args.embedding_column, args.label_column, args.out, where=args.where, hidden=args.hidden, epochs=args.epochs)
    print(f"AIGC head written to {path}")
    return 0


def _sql_argument(value: str) -> str:
    """A query given inline, or the text of a ``.sql`` file."""
    path = Path(value)
    if value.endswith(".sql"):
        if not path.is_file():
            raise SparkMMError(f"query file {value} not found")
        return path.read_text()
    return value


def cmd_train_fasttext(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from spark_mm.engine.session import build_session
    from spark_mm.errors import ConfigError
    from spark_mm.models.fasttext_table import train_from_queries
    from spark_mm.models.fasttext_train import FasttextHyperparams

    raw = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--param takes KEY=VALUE; got {item!r}")
        raw[key.strip()] = yaml.safe_load(value)
    try:
        params = FasttextHyperparams(**raw)
    except ValidationError as exc:
        raise ConfigError(f"--param: {exc}") from None
    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm train-fasttext")
    res = train_from_queries(
        spark, _sql_argument(args.positive), _sql_argument(args.negative), args.out, text_column=args.text_column, params=params,
        val_fraction=args.val_fraction, split_seed=args.seed, positive_label=args.positive_label, negative_label=args.negative_label,
    )
    for label, c in res.counts.items():
        tables = ", ".join(f"{t.table}@{t.snapshot_id}" for t in res.inputs[label].tables)
        print(f"{label}: {c.rows} rows ({c.blank} blank), {c.train} train, {c.val} validation; from {tables}")
    v = res.validation
    print(f"validation: n={v.n} accuracy={v.accuracy} precision={v.precision} recall={v.recall} ({args.positive_label})")
    print(f"fastText classifier written to {res.model}; lineage {res.lineage}")
    return 0


def _lake_and_spark(overrides: list[str]):  # type: ignore[no-untyped-def]
    from spark_mm.lake.settings import LakeSettings, SparkSettings, parse_settings
    from spark_mm.recipe import apply_overrides

    raw = apply_overrides({"lake": {}, "spark": {}}, overrides)
    unknown = set(raw) - {"lake", "spark"}
    if unknown:
        raise SparkMMError(f"--set: only lake.* and spark.* keys apply to sql; got {sorted(unknown)}")
    return parse_settings(LakeSettings, raw["lake"], "lake"), parse_settings(SparkSettings, raw["spark"], "spark")


def check_identifiers(args: argparse.Namespace) -> None:
    """Refuse a hostile ``--run-id``, ``--namespace`` or ``--into`` before any recipe, session or table.

    These reach WAP ids, tags, SQL and MLflow filters; see ``spark_mm/lake/identifiers.py``.
    """
    from spark_mm.lake.identifiers import check_name, check_run_id

    if getattr(args, "run_id", None) is not None:
        check_run_id(args.run_id)
    for flag in ("namespace", "into"):
        if getattr(args, flag, None) is not None:
            check_name(getattr(args, flag), f"--{flag}")


def run_overrides(args: argparse.Namespace) -> list[str]:
    """``run``'s overrides: the ``--set-file`` entries first, then every ``--set`` (which wins)."""
    from spark_mm.recipe import read_set_file

    return (read_set_file(args.set_file) if args.set_file else []) + args.overrides


def cmd_run(args: argparse.Namespace) -> int:
    from spark_mm import recipe as recipes
    from spark_mm.engine.progress import StageProgress
    from spark_mm.engine.runner import Runner
    from spark_mm.report.mlflow_log import publish_run, require_mlflow
    from spark_mm.report.summary import format_summary

    path = args.recipe_flag or args.recipe_path or (DEFAULT_RECIPES.get(args.job) if args.job else None)
    if not path:
        raise SparkMMError("spark-mm run: give a recipe file, e.g. spark-mm run conf/z_image.yaml")
    if args.verbose:
        logging.getLogger("spark_mm").setLevel(logging.INFO)
    then = args.then or list(DEFAULT_THEN.get(args.job or "", ()))
    chain = [recipes.load(path, run_overrides(args))] + [recipes.load(p, args.then_overrides) for p in then]  # validated before Spark starts
    if any(loaded.recipe.tracking.enabled for loaded in chain):
        require_mlflow()
    if len(chain) == 1:
        runners = [Runner(chain[0], run_id=args.run_id, recompute=args.recompute)]
        results = [runners[0].run()]
    else:
        from spark_mm.engine.chain import run_chain

        pairs = run_chain(chain, run_id=args.run_id, recompute=args.recompute)
        runners, results = [r for r, _ in pairs], [res for _, res in pairs]
    for loaded, runner, result in zip(chain, runners, results):
        print(format_summary(result, loaded.recipe.lake.resolved_warehouse()), flush=True)
        with StageProgress(runner.spark, "report"):  # the report's queries take a while: a live line on a terminal
            published = publish_run(runner.spark, result, loaded)
        print(f"report: {published.report}")
        if published.mlflow:
            print(f"mlflow: run {published.mlflow.mlflow_run_id} (experiment {published.mlflow.experiment_id}) in {published.mlflow.tracking_uri}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from spark_mm.engine.session import build_session

    lake, spark_settings = _lake_and_spark(args.overrides)
    from pyspark.errors import PySparkException

    spark = build_session(lake, spark_settings, app_name="spark-mm sql")
    _query_context_logs(enabled=args.verbose)
    try:
        frame = spark.sql(args.query)
        if args.format == "json":
            for row in frame.limit(args.limit).toJSON().collect():
                print(row)
        else:
            frame.show(args.limit, truncate=80)
    except PySparkException as err:  # a typo is the user's, not a crash: Spark's first line, the trace on --verbose
        if args.verbose:
            traceback.print_exc()
        raise QueryError(query_error_line(err)) from None
    return 0


def _query_context_logs(enabled: bool) -> None:
    """PySpark logs every analysis error with its JVM trace as JSON (~14 KB) when the error is made;
    the one ``error:`` line replaces that unless ``--verbose``."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = not enabled


def query_error_line(err: BaseException) -> str:
    """The first line of Spark's message (error class, text, "Did you mean ...", position), without the plan.

    >>> query_error_line(Exception("[UNRESOLVED_COLUMN] `x` cannot be resolved. SQLSTATE: 42703; line 1 pos 7;\\n'Project [x]"))
    '[UNRESOLVED_COLUMN] `x` cannot be resolved. SQLSTATE: 42703; line 1 pos 7 (--verbose shows the trace)'
    """
    first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return first.rstrip(";") + " (--verbose shows the trace)"


def cmd_curate(args: argparse.Namespace) -> int:
    from spark_mm.engine.session import build_session
    from spark_mm.lake.curate import ExportFormat, curate, default_name
    from spark_mm.lake.export_images import ImagePolicy
    from spark_mm.lake.identifiers import check_name
    from spark_mm.lake.lineage import new_run_id
    from spark_mm.lake.settings import LakeSettings, SparkSettings, parse_settings
    from spark_mm.recipe import apply_overrides

    if args.recipe:
        from spark_mm import recipe as recipes

        r = recipes.load(args.recipe, args.overrides).recipe
        lake, spark_settings, namespace, job = r.lake, r.spark, args.namespace or r.namespace, r.job
    else:
        raw = apply_overrides({"lake": {}, "spark": {}}, args.overrides)
        unknown = set(raw) - {"lake", "spark", "namespace"}
        if unknown:
            raise SparkMMError(f"--set without --recipe: only lake.*, spark.* and namespace apply; got {sorted(unknown)}")
        lake, spark_settings, namespace, job = parse_settings(LakeSettings, raw["lake"], "lake"), parse_settings(SparkSettings, raw["spark"], "spark"), args.namespace or raw.get("namespace"), "curate"
    if not namespace:
        raise SparkMMError("spark-mm curate: give --recipe or --namespace")
    check_name(namespace, "namespace")  # also when it came from --set namespace=...
    if not Path(args.query_file).is_file():
        raise SparkMMError(f"curation query file not found: {args.query_file}")
    spark = build_session(lake, spark_settings, app_name="spark-mm curate")
    formats = tuple(ExportFormat(f) for f in dict.fromkeys(args.formats or ["parquet", "webdataset"]))
    out = export_dir(args.export_dir, namespace, args.into or default_name(args.query_file))
    res = curate(spark, lake, namespace, args.query_file, args.run_id or new_run_id(), args.into, job, out, formats, args.shard_size, ImagePolicy(args.image_format))
    print(f"{res.table} @ {res.snapshot_id} (tag {res.tag}): {res.rows} rows{' (already committed by this run id)' if res.reused else ''}")
    print("inputs: " + ", ".join(f"{t}@{s}" for t, s in res.inputs.items()))
    if res.manifest:
        print(f"export: {len(res.shards)} shards, manifest {res.manifest}")
        manifest = json.loads(res.manifest.read_text())
        if manifest.get("reencoded"):
            print(f"images: {manifest['reencoded']} re-encoded to {manifest['image_target']} (--image-format {manifest['image_format']}); the others kept their bytes")
        if len(manifest.get("image_extensions", [])) > 1:
            exts = ", ".join(manifest["image_extensions"])
            print(f"note: the WebDataset shards mix image extensions ({exts}): the webdataset library reads them, HF datasets does not; --image-format auto (the default) re-encodes the minority to one")
        if manifest.get("reencode_failures"):
            print(f"note: {manifest['reencode_failures']} images could not be decoded for --image-format and were exported without an image member")
    return 0


def export_dir(flag: str | None, namespace: str, name: str) -> Path | None:
    """Where ``--export`` writes: the given directory, or ``<home>/exports/<namespace>/<name>`` for a bare ``--export``.

    The default sits in the project home (ignored by git, beside the catalog), not in the checkout.
    """
    from spark_mm.paths import home

    if flag is None:
        return None
    return home() / "exports" / namespace / name if flag == DEFAULT_EXPORT else Path(flag)


def cmd_inspect(args: argparse.Namespace) -> int:
    from spark_mm.lake import inspect

    lake, _ = _lake_and_spark(args.overrides)
    if args.command == "runs":
        print(inspect.format_runs(inspect.runs(args.namespace, lake), args.format))
    else:
        print(inspect.format_lineage(inspect.lineage(args.table, lake), args.format))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """``spark-mm trace``: the stage table comes from lineage (``docs/operations.md``, Tracing one operator)."""
    from spark_mm.engine.session import build_session
    from spark_mm.lake.trace import format_traces, trace

    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm trace")
    print(format_traces(trace(spark, lake, args.namespace, args.op, args.run_id, args.limit, args.max_chars), args.format))
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    """Release the newest lease generation of a namespace (``docs/operations.md``, Concurrency)."""
    from spark_mm.engine.session import build_session
    from spark_mm.lake.lease import Verdict, unlock

    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm unlock")
    done = unlock(spark, lake.catalog, args.namespace)
    if done is None:
        print(f"no lease is held on {args.namespace}")
        return 0
    print(f"released the lease on {args.namespace} held by {done.record.describe()}")
    if done.verdict is Verdict.HELD:
        print(f"warning: its last heartbeat was {done.record.heartbeat_at.isoformat(timespec='seconds')}: if that run is still alive it keeps writing, and the next run will not wait for it")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_python_loggers()  # known-harmless messages, listed in spark_mm/engine/console.py
    args = _parser().parse_args(argv)
    try:
        check_identifiers(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sql":
            return cmd_sql(args)
        if args.command == "curate":
            return cmd_curate(args)
        if args.command in ("runs", "lineage"):
            return cmd_inspect(args)
        if args.command == "train-aigc":
            return cmd_train_aigc(args)
        if args.command == "train-fasttext":
            return cmd_train_fasttext(args)
        if args.command == "unlock":
            return cmd_unlock(args)
        if args.command == "trace":
            return cmd_trace(args)
        if args.command == "analyze":
            return cmd_analyze(args)
        if args.command == "suggest":
            return cmd_suggest(args)
    except SparkMMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
