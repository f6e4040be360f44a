"""Identifiers and literals that reach SQL, DDL or an MLflow filter: validated or quoted here, once.

Names we choose (namespaces, tables, stages) are validated against a strict pattern when a recipe
or a command line is parsed, so nothing hostile reaches Spark. Names others choose (columns of a
source file) are validated as column names and, where they appear in SQL text, quoted. String
values inside SQL or MLflow filters go through one escaping helper each. A refusal raises
:class:`~spark_mm.errors.IdentifierError` naming the key and the rule, before anything is written.
"""

from __future__ import annotations

import re

from spark_mm.errors import IdentifierError

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")  # namespaces, tables, stages, jobs
# Source columns: letters, digits, '_', '-' and spaces; no dots (Spark reads them as struct
# access), quotes, backticks, semicolons or control characters.
COLUMN_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ -]{0,127}$")


def check_run_id(run_id: str, key: str = "--run-id") -> str:
    """Return ``run_id`` when it is safe in WAP ids, tags, SQL literals and MLflow filters.

    >>> check_run_id("2026-12-01.nightly_2")
    '2026-12-01.nightly_2'
    >>> check_run_id("x' OR '1'='1")
    Traceback (most recent call last):
    ...
    spark_mm.errors.IdentifierError: --run-id "x' OR '1'='1": a run id is 1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit
    """
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise IdentifierError(
            f"{key} {run_id!r}: a run id is 1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return run_id


def check_name(name: str, key: str) -> str:
    """Return ``name`` when it is a valid namespace/table/stage name (``^[a-z][a-z0-9_]*$``).

    >>> check_name("z_image", "namespace")
    'z_image'
    >>> check_name("z; DROP", "namespace")
    Traceback (most recent call last):
    ...
    spark_mm.errors.IdentifierError: namespace 'z; DROP': must match ^[a-z][a-z0-9_]*$ (lowercase letters, digits, '_')
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise IdentifierError(f"{key} {name!r}: must match {NAME_PATTERN.pattern} (lowercase letters, digits, '_')")
    return name


def column_name_problem(name: str) -> str | None:
    """Why ``name`` is refused as a source column, or None when it is fine.

    >>> column_name_problem("caption") is None
    True
    >>> column_name_problem("a`b")
    "'a`b' is not a usable column name: use letters, digits, '_', '-' or spaces (at most 128, not starting with a digit); no dots, quotes, backticks or semicolons"
    """
    if COLUMN_PATTERN.match(name):
        return None
    return (
        f"{name!r} is not a usable column name: use letters, digits, '_', '-' or spaces "
        "(at most 128, not starting with a digit); no dots, quotes, backticks or semicolons"
    )


def quote_identifier(name: str) -> str:
    """A Spark SQL identifier in backticks, embedded backticks doubled.

    >>> quote_identifier("curated-run.1")
    '`curated-run.1`'
    >>> quote_identifier("a`b")
    '`a``b`'
    """
    return "`" + name.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    """A Spark SQL string literal: backslashes and single quotes escaped, in single quotes.

    >>> sql_string("it's")
    "'it\\\\'s'"
    >>> sql_string("a\\\\b")
    "'a\\\\\\\\b'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mlflow_string(value: str) -> str:
    """A string literal for an MLflow search filter (``tags.x = <here>``).

    MLflow's filter grammar has no escape sequences inside quotes, so a value is put in whichever
    quote it does not contain; one holding both kinds cannot be quoted and is refused.

    >>> mlflow_string("run-1")
    "'run-1'"
    >>> mlflow_string("it's")
    '"it\\'s"'
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise IdentifierError(f"{value!r} holds both quote characters and cannot be used in an MLflow filter")
