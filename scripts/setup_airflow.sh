#!/usr/bin/env bash
# Idempotent Airflow setup, kept apart from the main .venv (the Spark provider pulls pyspark-client,
# which overwrites pyspark's files):
#   1. .venv-airflow with the pins in airflow_dags/requirements.txt, constrained by
#      airflow_dags/constraints.txt (everything comes from PyPI; no GitHub constraints URL);
#   2. a project-local AIRFLOW_HOME (default lakehouse/airflow): minimal airflow.cfg pointing at
#      airflow_dags/, `airflow db migrate` (SQLite), a local `spark_default` connection (local[*])
#      unless one exists, `airflow dags reserialize`, and env.sh to source before airflow commands.
#   scripts/setup_airflow.sh            both steps
#   scripts/setup_airflow.sh --venv     only the virtualenv
# Re-running is cheap: each step is skipped while its stamp (pins, Python, home) is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

only_venv=0
if [[ "${1:-}" == "--venv" ]]; then only_venv=1; fi
PYTHON="${PYTHON:-python3}"
VENV="$REPO/.venv-airflow"

say() { echo "[setup-airflow] $*"; }
die() { echo "[setup-airflow] error: $*" >&2; exit 1; }

"$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' \
  || die "Airflow 3.3 needs Python 3.10-3.13 (found $("$PYTHON" --version 2>&1)); set PYTHON=python3.x."

# 1. The virtualenv. The stamp covers the pins and the interpreter that built it.
stamp=$( { cat airflow_dags/requirements.txt airflow_dags/constraints.txt; "$PYTHON" --version 2>&1; } | sha256sum | cut -c1-16)
if [[ -x "$VENV/bin/airflow" && "$(cat "$VENV/.setup-stamp" 2>/dev/null || true)" == "$stamp" ]]; then
  say ".venv-airflow up to date"
else
  [[ -x "$VENV/bin/python" ]] || { say "creating .venv-airflow"; "$PYTHON" -m venv "$VENV"; }
  say "installing Airflow into .venv-airflow (first run takes 2-3 minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r airflow_dags/requirements.txt -c airflow_dags/constraints.txt
  # The whole point of the separate venv: spark_mm and the real pyspark must not be importable here.
  if (cd / && "$VENV/bin/python" -c "import spark_mm" 2>/dev/null); then die ".venv-airflow can import spark_mm; it must stay separate from .venv"; fi
  echo "$stamp" > "$VENV/.setup-stamp"
fi
[[ $only_venv == 1 ]] && { say "ready: .venv-airflow"; exit 0; }

# 2. AIRFLOW_HOME: config, metadata DB, local Spark connection.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$REPO/lakehouse/airflow}"
mkdir -p "$AIRFLOW_HOME"
AIRFLOW_HOME="$(cd "$AIRFLOW_HOME" && pwd)"
if [[ ! -f "$AIRFLOW_HOME/airflow.cfg" ]]; then
  say "writing $AIRFLOW_HOME/airflow.cfg"
  cat > "$AIRFLOW_HOME/airflow.cfg" <<EOF
# Written by scripts/setup_airflow.sh; Airflow fills every other option with its defaults.
[core]
dags_folder = $REPO/airflow_dags
load_examples = False

[database]
sql_alchemy_conn = sqlite:///$AIRFLOW_HOME/airflow.db
EOF
fi
cat > "$AIRFLOW_HOME/env.sh" <<EOF
# source this before running airflow commands against the project-local Airflow
export AIRFLOW_HOME="$AIRFLOW_HOME"
export SPARK_MM_REPO="\${SPARK_MM_REPO:-$REPO}"
export PATH="$VENV/bin:\$PATH"
EOF

home_stamp=$( { echo "$stamp"; cat "$AIRFLOW_HOME/airflow.cfg"; } | sha256sum | cut -c1-16)
if [[ -f "$AIRFLOW_HOME/airflow.db" && "$(cat "$AIRFLOW_HOME/.setup-stamp" 2>/dev/null || true)" == "$home_stamp" ]]; then
  say "Airflow metadata DB up to date"
else
  say "airflow db migrate ($AIRFLOW_HOME)"
  "$VENV/bin/airflow" db migrate >/dev/null
  if ! "$VENV/bin/airflow" connections get spark_default >/dev/null 2>&1; then
    say "adding connection spark_default (master local[*])"
    "$VENV/bin/airflow" connections add spark_default --conn-type spark --conn-host 'local[*]' \
      --conn-description "spark-mm embedded default; point it at a cluster master for production" >/dev/null
  fi
  # Parse airflow_dags/ into the DB now so `airflow dags list` shows them before a DAG processor runs.
  "$VENV/bin/airflow" dags reserialize >/dev/null 2>&1 || say "warning: airflow dags reserialize failed; run it to see the import errors"
  echo "$home_stamp" > "$AIRFLOW_HOME/.setup-stamp"
fi
say "ready: .venv-airflow, AIRFLOW_HOME=$AIRFLOW_HOME (source $AIRFLOW_HOME/env.sh)"
