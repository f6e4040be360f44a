"""Bad input on the command line ends as one ``error:`` message and exit code 2, with nothing written.

Each case runs ``spark_mm.cli.main`` in-process with a fresh, empty ``SPARK_MM_HOME``; after the
refusal that folder must still be empty (no catalog, warehouse, namespace or table) and no Spark
session may have been started for it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spark_mm import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SPARK_MM_HOME", str(home))
    return home


def refused(argv: list[str], home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, assert a clean refusal that wrote nothing, return the message."""
    from pyspark import SparkContext

    had_spark = SparkContext._active_spark_context is not None
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert list(home.iterdir()) == [], "a refused command wrote into the project home"
    if not had_spark:
        assert SparkContext._active_spark_context is None, "a refused command started Spark"
    return err


@pytest.mark.parametrize("run_id", ["x'y", "a;DROP TABLE z_image.samples", "../../etc"])
def test_hostile_run_id_is_refused_before_anything_is_written(run_id: str, empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["run", str(REPO / "conf" / "z_image.yaml"), "--set", "tracking.enabled=false", "--run-id", run_id], empty_home, capsys)
    assert err.count("\n") == 1 and "--run-id" in err and "letters, digits, '.', '_' and '-'" in err


def test_curate_refuses_hostile_run_id_and_namespace(empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = str(REPO / "conf" / "z_image_curate.sql")
    assert "--run-id" in refused(["curate", query, "--namespace", "z_image", "--run-id", "r'1"], empty_home, capsys)
    assert "--namespace 'z; DROP'" in refused(["curate", query, "--namespace", "z; DROP"], empty_home, capsys)
    assert "namespace 'a.b'" in refused(["curate", query, "--set", "namespace=a.b"], empty_home, capsys)
    assert "--into" in refused(["curate", query, "--namespace", "z_image", "--into", "x`y"], empty_home, capsys)


@pytest.mark.parametrize("column", ["a`b", "caption; DROP TABLE x", "meta.caption", "it's"])
def test_hostile_source_column_is_refused_before_spark_starts(column: str, empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", str(REPO / "conf" / "z_image.yaml"), "--set", "source.type=parquet", "--set", "source.path=/nonexistent.parquet",
            "--set", "source.image_column=image", "--set", f"source.caption_column={column}"]
    err = refused(argv, empty_home, capsys)
    assert "source.caption_column" in err and "is not a usable column name" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["runs", "--set", "lake.buckets=many"], "--set lake.buckets: Input should be a valid integer"),
        (["runs", "--set", "lake.bucket=4"], "--set lake.bucket: unknown key; accepted keys here: buckets, catalog"),
        (["sql", "SELECT 1", "--set", "lake.catalog=x;y"], "--set lake.catalog: String should match pattern"),
        (["sql", "SELECT 1", "--set", "spark=local"], "--set spark: expected spark.<setting>=value"),
        (["lineage", "z_image.bad-name"], "table 'bad-name'"),
        (["runs", "--namespace", "Z;"], "--namespace 'Z;'"),
    ],
)
def test_bad_settings_are_one_line_errors_not_tracebacks(argv: list[str], expected: str, empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(argv, empty_home, capsys)
    assert expected in err and err.count("\n") == 1, err


def test_url_filter_without_datatrove_fails_at_recipe_validation_with_the_install_hint(
    empty_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datatrove.utils._import_utils", None)  # import now raises ImportError
    err = refused(["run", str(REPO / "conf" / "refinedweb.yaml"), "--set", "tracking.enabled=false", "--set", "source.path=/nonexistent"], empty_home, capsys)
    assert "url_filter's default lists come from datatrove: pip install 'datatrove'" in err


def test_curate_with_a_missing_query_file_is_refused_before_spark_starts(empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "curation query file not found" in refused(["curate", "/nonexistent_curate.sql", "--namespace", "z_image"], empty_home, capsys)


@pytest.mark.parametrize("argv", [["runs"], ["runs", "--namespace", "z_image"], ["lineage", "z_image.samples"]])
def test_read_only_commands_without_a_catalog_name_the_home_and_the_fix(argv: list[str], empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(argv, empty_home, capsys)
    assert err.count("\n") == 1, err
    assert f"no catalog at {empty_home / 'catalog.db'} (project home {empty_home} (SPARK_MM_HOME))" in err and "set SPARK_MM_HOME" in err


def test_default_home_is_said_to_be_under_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from spark_mm.errors import ConfigError
    from spark_mm.lake.settings import LakeSettings

    monkeypatch.delenv("SPARK_MM_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"default: \./lakehouse under the current directory; SPARK_MM_HOME overrides it"):
        LakeSettings().pyiceberg_properties()  # the README's pyiceberg snippet
    assert cli.main(["runs"]) == 2 and f"no catalog at {tmp_path / 'lakehouse' / 'catalog.db'}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "a read-only command created a lakehouse"


@pytest.fixture()
def parquet_dir(tmp_path: Path) -> Path:
    """A Parquet source with WebDataset-style column names (jpg, txt) and one non-Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"key": ["a"], "jpg": [b"\xff\xd8\xff"], "txt": ["a caption"], "caption": ["c"]}), data / "part-0.parquet")
    (data / "notes.txt").write_text("not parquet")
    return data


def _parquet_run(path: Path | str, *sets: str) -> list[str]:
    argv = ["run", str(REPO / "conf" / "z_image.yaml"), "--set", "tracking.enabled=false", "--set", "source.type=parquet", "--set", f"source.path={path}"]
    for s in sets:
        argv += ["--set", s]
    return argv


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["source.image_column=image"], "source.image_column 'image' is not a column of {file}; columns: key, jpg, txt, caption: did you mean --set source.image_column=jpg?"),
        (["source.image_column=jpg", "source.caption_column=captoin"], "source.caption_column 'captoin' is not a column of {file}; columns: key, jpg, txt, caption: did you mean --set source.caption_column=caption?"),
        (["source.image_column=txt"], "source.image_column 'txt' is string in {file}; expected binary or a struct with a 'bytes' field: did you mean --set source.image_column=jpg?"),
    ],
)
def test_parquet_columns_are_checked_before_spark_starts_with_a_suggestion(
    sets: list[str], expected: str, parquet_dir: Path, empty_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(_parquet_run(parquet_dir, *sets), empty_home, capsys)
    assert expected.format(file=parquet_dir / "part-0.parquet") in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (["source.type=parquet", "source.path={tmp}/missing"], "source path does not exist: {tmp}/missing"),
        (["source.type=parquet", "source.path={tmp}/empty"], "no .parquet files found at {tmp}/empty"),
        (["source.type=image_files", "source.path={tmp}/empty"], "no .jpg/.jpeg/"),
        (["source.type=jsonl", "source.path={tmp}/missing.jsonl"], "source path does not exist: {tmp}/missing.jsonl"),
        (["source.type=parquet", "source.path={tmp}/data/*.parquet", "source.image_column=image"], "did you mean --set source.image_column=jpg?"),
    ],
)
def test_missing_paths_and_files_are_refused_before_spark_starts(
    source: list[str], expected: str, parquet_dir: Path, empty_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = parquet_dir.parent
    (tmp / "empty").mkdir()
    argv = ["run", str(REPO / "conf" / "z_image.yaml"), "--set", "tracking.enabled=false"]
    for s in source:
        argv += ["--set", s.format(tmp=tmp)]
    err = refused(argv, empty_home, capsys)
    assert expected.format(tmp=tmp) in err, err


def test_warc_recipe_with_a_missing_path_is_refused_before_spark_starts(empty_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = refused(["run", str(REPO / "conf" / "fineweb.yaml"), "--set", "tracking.enabled=false", "--set", f"source.path={tmp_path}/crawl"], empty_home, capsys)
    assert f"source path does not exist: {tmp_path}/crawl" in err


def test_an_export_into_the_checkout_is_ignored_by_git() -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None or subprocess.run(["git", "-C", str(REPO), "rev-parse"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "out/shard-000000.tar"]).returncode == 0
    assert subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "lakehouse/exports/z_image/z_image/manifest.json"]).returncode == 0
