"""``spark-mm sql``: a query typo ends as one short ``error:`` line keeping Spark's suggestion, exit 2;
``--verbose`` adds the trace. Runs the real CLI against the shared session's catalog."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_mm import cli

NS = "cli_sql"


@pytest.fixture(scope="module")
def table(spark: SparkSession) -> str:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS lake.{NS}")
    spark.createDataFrame([("a", 3)], "sample_id string, img_width int").writeTo(f"lake.{NS}.signals_image_cpu").createOrReplace()
    return f"{NS}.signals_image_cpu"


def test_typo_is_one_line_with_the_suggestion(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", f"SELECT img_widht FROM {table}"]) == 2
    out = capsys.readouterr()
    err = out.err.strip()
    assert err.startswith("error: [UNRESOLVED_COLUMN") and "Did you mean" in err and "`img_width`" in err, err
    assert err.count("\n") == 0 and len(err) < 600 and "Traceback" not in err and "Project" not in err, err
    assert cli.main(["sql", f"SELECT * FORM {table}"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: [PARSE_SYNTAX_ERROR]")


def test_verbose_shows_the_trace_and_a_good_query_still_prints(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", f"SELECT img_widht FROM {table}", "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: [UNRESOLVED_COLUMN")
    assert cli.main(["sql", f"SELECT img_width FROM {table}", "--format", "json"]) == 0
    assert capsys.readouterr().out.strip() == '{"img_width":3}'
