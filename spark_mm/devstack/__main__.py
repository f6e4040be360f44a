"""``python -m spark_mm.devstack up [--cluster] [--no-tracking]|down|status|env|restart-catalog|restart-store``:
the local object store + REST catalog + MLflow server (+ a Spark standalone master and two workers
with ``--cluster``); a restart keeps the port and the state (catalog: its SQLite file; store: its
recording, replayed)."""

from __future__ import annotations

import argparse
import shlex
import sys

from spark_mm.devstack import object_store, processes, stack
from spark_mm.paths import home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_mm.devstack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env", "restart-catalog", "restart-store"))
    parser.add_argument("--no-tracking", action="store_true", help="up: without the MLflow tracking server")
    parser.add_argument("--cluster", action="store_true", help="up: also start a Spark standalone master and two workers")
    args = parser.parse_args(argv)
    root = home() / "devstack"
    current = stack.load(root)
    if args.command == "up":
        if current is not None and processes.alive(current.catalog.pid):
            print(f"already up: catalog {current.catalog.uri}, object store {current.store.endpoint}")
            return 0
        current = stack.up(root, tracking=not args.no_tracking, cluster=args.cluster)
        tracking = f", MLflow {current.tracking.uri}" if current.tracking else ""
        print(f"up in {current.started_s} s: catalog {current.catalog.uri}, object store {current.store.endpoint}{tracking}, logs {root / 'logs'}")
        if current.cluster is not None:
            c = current.cluster
            print(f"spark standalone in {c.started_s} s: master {c.master_url} (UI {c.ui_url}), {len(c.workers)} workers, logs {root / 'spark' / 'logs'}")
        print("use it: eval \"$(python -m spark_mm.devstack env)\", then spark-mm run RECIPE $SPARK_MM_STACK_SET")
        return 0
    if args.command == "down":
        print("stopped" if stack.down(root) else "no stack recorded under " + str(root))
        return 0
    if current is None:
        print(f"no stack recorded under {root}; start one with: python -m spark_mm.devstack up", file=sys.stderr)
        return 1
    if args.command == "restart-catalog":
        current, seconds = stack.restart_catalog(root)
        print(f"REST catalog restarted in {seconds} s at {current.catalog.uri} (pid {current.catalog.pid})")
        return 0
    if args.command == "restart-store":
        current, restarted = stack.restart_store(root)
        print(f"object store restarted at {current.store.endpoint} (pid {current.store.pid}) in {restarted.start_s} s, "
              f"{restarted.replayed} recorded writes restored before it listened")
        return 0
    if args.command == "status":
        parts = [("catalog", current.catalog.pid, current.catalog.uri), ("object store", current.store.pid, current.store.endpoint)]
        if current.tracking:
            parts.append(("MLflow", current.tracking.pid, f"{current.tracking.uri} (artifacts {current.tracking.artifacts})"))
        if current.cluster is not None:
            parts.append(("spark master", current.cluster.master_pid, current.cluster.master_url))
            parts += [(f"spark worker {i}", w.pid, w.work_dir) for i, w in enumerate(current.cluster.workers)]
        for name, pid, where in parts:
            print(f"{name}: {'up' if processes.alive(pid) else 'DOWN'} pid {pid} {where}")
        return 0
    for key, value in object_store.credentials_env().items():
        print(f"export {key}={shlex.quote(value)}")
    if current.tracking:
        print(f"export MLFLOW_TRACKING_URI={shlex.quote(current.tracking.uri)}")
    if current.cluster is not None:
        print(f"export SPARK_MM_STACK_MASTER={current.cluster.master_url}")
    # s3:// sources read through pyarrow, which takes the store's address from the standard variable
    print(f"export AWS_ENDPOINT_URL={shlex.quote(current.store.endpoint)}")
    print("export SPARK_MM_STACK_SET=" + shlex.quote(" ".join(f"--set {f}" for f in current.set_flags())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
