"""Ship spark_mm to a cluster's executors as an archive: ``spark-submit --archives X#name``.

Executors of a real cluster see neither the driver's checkout nor its virtualenv, and spark_mm
has a native module (``spark_mm/_native*.so``), which Python cannot import from a zip on
``--py-files``. So the package goes as an archive that Spark unpacks into every executor's
working directory, and ``spark.executorEnv.PYTHONPATH`` puts that folder first on the Python
workers' path (before site-packages, so it also wins over an editable install there).

Two sources, one archive layout (``spark_mm/`` at the top, no ``__pycache__``):

* the package this interpreter imports (default): right when the nodes have the same platform and
  Python as the driver (this machine, a homogeneous cluster);
* a wheel built for the nodes (``maturin build --release``): its ``spark_mm/`` tree, native module
  included.

Third-party dependencies (pyarrow, pillow, ...) come from the nodes' interpreter
(``spark.pyspark.python``) or a packed virtualenv shipped the same way.

    python -m spark_mm.devstack.ship dist/spark_mm_pkg.zip [--wheel W.whl]   # prints the spark-submit flags
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from spark_mm.errors import ConfigError

PACKAGE = "spark_mm"
ARCHIVE_NAME = "spark_mm_pkg"  # the folder the archive unpacks to in each executor's working directory
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same package gives the same archive bytes


def package_dir() -> Path:
    """The folder of the spark_mm this interpreter imports."""
    import spark_mm

    return Path(spark_mm.__file__).resolve().parent


def _shipped(rel: str) -> bool:
    parts = rel.split("/")
    return "__pycache__" not in parts and not rel.endswith((".pyc", ".pyo"))


def _check_native(names: list[str], where: str) -> None:
    if not any(n.startswith(f"{PACKAGE}/_native") and n.endswith((".so", ".pyd")) for n in names):
        raise ConfigError(f"{where} has no native module {PACKAGE}/_native*.so: build it first (maturin develop or maturin build)")


def pack(out: Path, wheel: Path | None = None) -> Path:
    """Write the archive ``out`` (a .zip) from the imported package, or from ``wheel``.

    Raises:
        ConfigError: the source lacks the native module, or the wheel holds no spark_mm package.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if wheel is None:
        root = package_dir()
        files = sorted(p for p in root.rglob("*") if p.is_file() and _shipped(p.relative_to(root).as_posix()))
        entries = [(f"{PACKAGE}/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files]
        where = str(root)
    else:
        with zipfile.ZipFile(wheel) as whl:
            entries = [(n, whl.read(n)) for n in sorted(whl.namelist()) if n.startswith(f"{PACKAGE}/") and not n.endswith("/") and _shipped(n)]
        where = str(wheel)
        if not entries:
            raise ConfigError(f"{wheel} holds no {PACKAGE}/ package")
    _check_native([n for n, _ in entries], where)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp.replace(out)
    return out


def submit_args(archive: Path, name: str = ARCHIVE_NAME, python: str | None = None) -> list[str]:
    """The spark-submit flags that ship ``archive`` and put it first on the executors' Python path.

    ``python`` is the nodes' interpreter with the third-party dependencies (``spark.pyspark.python``).

    >>> submit_args(Path("/d/p.zip"))
    ['--archives', '/d/p.zip#spark_mm_pkg', '--conf', 'spark.executorEnv.PYTHONPATH=spark_mm_pkg']
    """
    args = ["--archives", f"{archive}#{name}", "--conf", f"spark.executorEnv.PYTHONPATH={name}"]
    if python:
        args += ["--conf", f"spark.pyspark.python={python}"]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_mm.devstack.ship", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="archive to write (.zip)")
    parser.add_argument("--wheel", type=Path, help="take spark_mm from this wheel instead of the imported package")
    args = parser.parse_args(argv)
    try:
        archive = pack(args.out.resolve(), args.wheel)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(" ".join(submit_args(archive)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
