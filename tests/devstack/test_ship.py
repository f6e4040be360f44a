"""The shipped archive: spark_mm with its native module at the top, no bytecode, from the imported
package or from a wheel; and it imports from where it is unpacked."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from spark_mm.devstack import ship
from spark_mm.errors import ConfigError


def test_pack_the_imported_package_and_import_it_from_the_unpacked_folder(tmp_path: Path) -> None:
    archive = ship.pack(tmp_path / "pkg.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "spark_mm/__init__.py" in names and "spark_mm/engine/log4j2.properties" in names
    assert any(n.startswith("spark_mm/_native") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert ship.pack(tmp_path / "again.zip").read_bytes() == archive.read_bytes()  # reproducible

    unpacked = tmp_path / ship.ARCHIVE_NAME
    zipfile.ZipFile(archive).extractall(unpacked)
    # as on an executor: the folder first on PYTHONPATH wins over the editable install in site-packages
    probe = "import spark_mm, spark_mm._native as n; print(spark_mm.__file__); print(n.__file__)"
    env = {"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert all(Path(p).is_relative_to(unpacked) for p in out), out


def _wheel(path: Path, native: bool) -> Path:
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("spark_mm/__init__.py", "")
        whl.writestr("spark_mm/__pycache__/__init__.cpython-311.pyc", b"x")
        if native:
            whl.writestr("spark_mm/_native.abi3.so", b"\x7fELF")
        whl.writestr("spark_mm-0.1.0.dist-info/METADATA", "Name: spark-mm\n")
    return path


def test_pack_a_wheel_keeps_only_the_package(tmp_path: Path) -> None:
    archive = ship.pack(tmp_path / "pkg.zip", wheel=_wheel(tmp_path / "spark_mm-0.1.0-cp310-abi3-linux_x86_64.whl", native=True))
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["spark_mm/__init__.py", "spark_mm/_native.abi3.so"]


def test_a_wheel_without_the_native_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no native module"):
        ship.pack(tmp_path / "pkg.zip", wheel=_wheel(tmp_path / "w.whl", native=False))
    assert not (tmp_path / "pkg.zip").exists()


def test_the_cli_prints_the_submit_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ship.main([str(tmp_path / "p.zip")]) == 0
    assert capsys.readouterr().out.split() == ship.submit_args((tmp_path / "p.zip").resolve())
