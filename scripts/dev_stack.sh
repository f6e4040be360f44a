#!/usr/bin/env bash
# The local cluster-style lakehouse: an S3 object store (moto), Iceberg's REST catalog and an MLflow server on 127.0.0.1.
#   scripts/dev_stack.sh up [--cluster] [--no-tracking] | down | status | env | restart-catalog | restart-store   (see docs/deploy.md)
# --cluster adds a Spark standalone master and two workers (spark_mm/devstack/spark_cluster.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev >/dev/null
exec .venv/bin/python -m spark_mm.devstack "$@"
