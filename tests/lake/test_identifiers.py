"""Identifiers and literals that reach SQL, DDL and MLflow filters: validation and quoting."""

from __future__ import annotations

import pytest

from spark_mm.engine.context import RunContext
from spark_mm.errors import IdentifierError
from spark_mm.lake.identifiers import (
    check_name,
    check_run_id,
    column_name_problem,
    mlflow_string,
    quote_identifier,
    sql_string,
)
from spark_mm.lake.lineage import Lineage, new_run_id

HOSTILE_RUN_IDS = ["x'y", "a b", "run;DROP TABLE t", "-leading-dash", ".hidden", "", "a" * 129, "r`1", "r\n1", "ü"]
HOSTILE_STRINGS = ["it's", "a\\'b", "x' OR '1'='1", "back\\slash", "both ' and \"", "new\nline", "`tick`"]


@pytest.mark.parametrize("run_id", ["run-1", "2026-12-01T10.nightly_2", "A" * 128, new_run_id()])
def test_accepted_run_ids(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", HOSTILE_RUN_IDS)
def test_refused_run_ids_name_the_key_and_the_rule(run_id: str) -> None:
    with pytest.raises(IdentifierError, match=r"^--run-id .*: a run id is 1-128 characters of letters, digits"):
        check_run_id(run_id)


def test_every_entry_point_refuses_a_hostile_run_id() -> None:
    # RunContext is what Runner builds before any stage writes; Lineage is what every commit carries.
    with pytest.raises(IdentifierError, match="run_id"):
        RunContext(None, None, "x'y", "job", "0" * 64, 4)  # type: ignore[arg-type]
    with pytest.raises(IdentifierError, match="run id"):
        Lineage("x'y", "job", "0" * 64, "v", "stage", (), "input")


@pytest.mark.parametrize("name", ["Z", "1abc", "a-b", "a.b", "a b", "a`b", ""])
def test_names_are_lowercase_words(name: str) -> None:
    with pytest.raises(IdentifierError, match="namespace"):
        check_name(name, "namespace")


@pytest.mark.parametrize("column", ["image", "URL", "my caption", "alt-text", "_id"])
def test_plain_column_names_pass(column: str) -> None:
    assert column_name_problem(column) is None


@pytest.mark.parametrize("column", ["a.b", "a`b", "x'", 'x"', "a;b", "1st", "tab\there", "", "c" * 129])
def test_hostile_column_names_are_refused(column: str) -> None:
    assert "is not a usable column name" in (column_name_problem(column) or "")


def test_quote_identifier_doubles_backticks() -> None:
    assert quote_identifier("a`b") == "`a``b`"
    assert quote_identifier("curated-r.1") == "`curated-r.1`"


def test_mlflow_string_round_trips_through_mlflow_s_filter_parser() -> None:
    search_utils = pytest.importorskip("mlflow.utils.search_utils")
    for value in ("run-1", "it's", 'say "hi"'):
        parsed = search_utils.SearchUtils.parse_search_filter(f"tags.`spark-mm.run-id` = {mlflow_string(value)}")
        assert [(p["key"], p["value"]) for p in parsed] == [("spark-mm.run-id", value)]
    with pytest.raises(IdentifierError, match="both quote characters"):
        mlflow_string("both ' and \"")


def test_sql_string_and_quote_identifier_round_trip_through_spark_s_parser(spark) -> None:  # type: ignore[no-untyped-def]
    # the real parser: a literal comes back unchanged, and a quoted identifier names exactly one column
    literals = ", ".join(f"{sql_string(v)} AS c{i}" for i, v in enumerate(HOSTILE_STRINGS))
    assert list(spark.sql(f"SELECT {literals}").first()) == HOSTILE_STRINGS
    row = spark.sql(f"SELECT 1 AS {quote_identifier('we`ird; name')}").first()
    assert row.asDict() == {"we`ird; name": 1}
