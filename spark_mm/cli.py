"""The ``spark-mm`` command: run recipes and query the lake.

    spark-mm run conf/z_image.yaml [--set key=value ...] [--run-id ID]
    spark-mm sql "SELECT ..." [--format table|json] [--set lake.catalog=...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from spark_mm.errors import SparkMMError

DEFAULT_RECIPES = {"z_image": "conf/z_image.yaml", "refinedweb": "conf/refinedweb.yaml", "fineweb": "conf/fineweb.yaml"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spark-mm", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a recipe")
    run.add_argument("recipe_path", nargs="?", help="recipe YAML file")
    run.add_argument("--recipe", dest="recipe_flag", help="recipe YAML file (same as the positional argument)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key, e.g. --set namespace=test")
    run.add_argument("--run-id", help="name the run; re-using an id resumes it without appending twice")
    run.add_argument("--job", help=argparse.SUPPRESS)

    sql = sub.add_parser("sql", help="run Spark SQL against the catalog")
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "json"), default="table")
    sql.add_argument("--limit", type=int, default=1000, help="rows to print at most")
    sql.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="lake./spark. settings, e.g. --set lake.catalog=prod")
    return p


def _lake_and_spark(overrides: list[str]):  # type: ignore[no-untyped-def]
    from spark_mm.lake.settings import LakeSettings, SparkSettings
    from spark_mm.recipe import apply_overrides

    raw = apply_overrides({"lake": {}, "spark": {}}, overrides)
    unknown = set(raw) - {"lake", "spark"}
    if unknown:
        raise SparkMMError(f"--set: only lake.* and spark.* keys apply to sql; got {sorted(unknown)}")
    return LakeSettings(**raw["lake"]), SparkSettings(**raw["spark"])


def cmd_run(args: argparse.Namespace) -> int:
    from spark_mm import recipe as recipes
    from spark_mm.engine.runner import Runner
    from spark_mm.report.mlflow_log import publish_run, require_mlflow
    from spark_mm.report.summary import format_summary

    path = args.recipe_flag or args.recipe_path or (DEFAULT_RECIPES.get(args.job) if args.job else None)
    if not path:
        raise SparkMMError("spark-mm run: give a recipe file, e.g. spark-mm run conf/z_image.yaml")
    loaded = recipes.load(path, args.overrides)  # validated before Spark starts
    if loaded.recipe.tracking.enabled:
        require_mlflow()
    runner = Runner(loaded, run_id=args.run_id)
    result = runner.run()
    print(format_summary(result, loaded.recipe.lake.resolved_warehouse()))
    published = publish_run(runner.spark, result, loaded)
    print(f"report: {published.report}")
    if published.mlflow:
        print(f"mlflow: run {published.mlflow.mlflow_run_id} (experiment {published.mlflow.experiment_id}) in {published.mlflow.tracking_uri}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from spark_mm.engine.session import build_session

    lake, spark_settings = _lake_and_spark(args.overrides)
    spark = build_session(lake, spark_settings, app_name="spark-mm sql")
    frame = spark.sql(args.query)
    if args.format == "json":
        for row in frame.limit(args.limit).toJSON().collect():
            print(row)
    else:
        frame.show(args.limit, truncate=80)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sql":
            return cmd_sql(args)
    except SparkMMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
