#!/usr/bin/env bash
# Idempotent setup: Java check, virtualenv, Python deps + Rust kernels (maturin), Spark jars.
#   scripts/setup.sh          what the demo job needs
#   scripts/setup.sh --dev    plus test and benchmark dependencies
# Re-running is cheap: the install step is skipped while pyproject/Cargo/native sources are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="demo"
if [[ "${1:-}" == "--dev" ]]; then extras="dev"; fi
PYTHON="${PYTHON:-python3}"

say() { echo "[setup] $*"; }
die() { echo "[setup] error: $*" >&2; exit 1; }

# Java 17+ (Spark 4.1). JAVA_HOME wins over PATH, as Spark's own scripts do.
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/java}"
JAVA="${JAVA:-$(command -v java || true)}"
[[ -n "$JAVA" && -x "$JAVA" ]] || die "Java 17+ is required by Spark 4.1 but no java was found. Install a JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
jver=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
jmajor=${jver%%.*}; [[ "$jmajor" == "1" ]] && jmajor=$(echo "$jver" | cut -d. -f2)
[[ "$jmajor" =~ ^[0-9]+$ && "$jmajor" -ge 17 ]] || die "Spark 4.1 needs Java 17+, found '$jver' at $JAVA. Install a newer JDK or point JAVA_HOME at one."

# Rust builds the native kernels (maturin calls cargo).
command -v cargo >/dev/null || die "Rust (cargo) is required to build the native kernels: install it with rustup (https://rustup.rs)."

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || die "Python 3.10+ is required (found $("$PYTHON" --version 2>&1))."
[[ -x .venv/bin/python ]] || { say "creating .venv"; "$PYTHON" -m venv .venv; }

# Everything that changes what gets installed or built.
stamp=$( { cat pyproject.toml Cargo.toml native/Cargo.toml Cargo.lock 2>/dev/null; find native/src -type f | sort | xargs cat; } | sha256sum | cut -c1-16)
have_dev=$(cat .venv/.setup-dev 2>/dev/null || true)
have_demo=$(cat .venv/.setup-demo 2>/dev/null || true)
if [[ "$have_dev" == "$stamp" || ( "$extras" == "demo" && "$have_demo" == "$stamp" ) ]]; then
  say "python deps and native build up to date"
else
  say "installing spark-mm[$extras] (builds the Rust kernels; first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$stamp" > ".venv/.setup-$extras"
fi

# fasttext-numpy2 (extra train) and fasttext-predict both install the module `fasttext`; whichever
# pip wrote last owns the files. Training needs the full library (its load_model/predict serve
# scoring too), so --dev makes sure it won, whatever order the resolver installed them in.
if [[ "$extras" == "dev" ]] && ! .venv/bin/python -c 'import fasttext, sys; sys.exit(0 if hasattr(fasttext, "train_supervised") else 1)' 2>/dev/null; then
  say "reinstalling fasttext-numpy2 over fasttext-predict (same module name; train-fasttext needs the trainer)"
  .venv/bin/python -m pip install -q --force-reinstall --no-deps "fasttext-numpy2>=0.10.4"
fi

# Iceberg runtime + SQLite JDBC driver into .cache/jars, and spark-defaults for spark-submit.
.venv/bin/python -m spark_mm.engine.jars >/dev/null
if [[ "$extras" == "dev" ]]; then
  # Iceberg's AWS bundle and the REST catalog server's classpath: tests/integration/test_rest_object_store.py
  .venv/bin/python -m spark_mm.engine.jars --s3 >/dev/null
  .venv/bin/python -c 'from spark_mm.devstack.rest_catalog import resolve_classpath; resolve_classpath()'
fi

# Headless Chromium for the report rendering test (--dev only): installed when missing and we are
# root with apt; otherwise that one test skips and says why.
if [[ "$extras" == "dev" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    say "installing chromium (headless report test)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
      || say "warning: apt-get install chromium failed; the report rendering test will skip"
  else
    say "chromium not found and not root: the report rendering test will skip (Debian: apt-get install chromium)"
  fi
fi
# Airflow: its own virtualenv (.venv-airflow), never this .venv -- see scripts/setup_airflow.sh and
# docs/airflow.md. --dev installs it so tests/airflow run (they migrate a temporary AIRFLOW_HOME).
if [[ "$extras" == "dev" ]]; then
  bash scripts/setup_airflow.sh --venv
fi
say "ready: .venv, native kernels, Spark jars in .cache/jars"
