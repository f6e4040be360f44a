#!/usr/bin/env bash
# The local cluster-style lakehouse: an S3 object store (moto), Iceberg's REST catalog and an MLflow server on 127.0.0.1.
#   up --no-tracking: without the MLflow server
#   scripts/dev_stack.sh up | down | status | env      (see docs/deploy.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev >/dev/null
exec .venv/bin/python -m spark_mm.devstack "$@"
