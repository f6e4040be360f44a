#!/usr/bin/env bash
# The whole test suite: Rust kernel tests, then pytest (unit + Spark/Iceberg integration).
# Extra arguments go to pytest (e.g. scripts/test.sh -k recipe).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
cargo test -q --manifest-path native/Cargo.toml
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when nothing was collected: that is a failure of the suite, not a pass.
exit $rc
