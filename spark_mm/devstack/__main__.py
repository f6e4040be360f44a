"""``python -m spark_mm.devstack up|down|status|env``: the local object store + REST catalog."""

from __future__ import annotations

import argparse
import shlex
import sys

from spark_mm.devstack import object_store, processes, stack
from spark_mm.paths import home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_mm.devstack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    args = parser.parse_args(argv)
    root = home() / "devstack"
    current = stack.load(root)
    if args.command == "up":
        if current is not None and processes.alive(current.catalog.pid):
            print(f"already up: catalog {current.catalog.uri}, object store {current.store.endpoint}")
            return 0
        current = stack.up(root)
        print(f"up in {current.started_s} s: catalog {current.catalog.uri}, object store {current.store.endpoint}, logs {root / 'logs'}")
        print("use it: eval \"$(python -m spark_mm.devstack env)\", then spark-mm run RECIPE $SPARK_MM_STACK_SET")
        return 0
    if args.command == "down":
        print("stopped" if stack.down(root) else "no stack recorded under " + str(root))
        return 0
    if current is None:
        print(f"no stack recorded under {root}; start one with: python -m spark_mm.devstack up", file=sys.stderr)
        return 1
    if args.command == "status":
        for name, pid, where in (("catalog", current.catalog.pid, current.catalog.uri), ("object store", current.store.pid, current.store.endpoint)):
            print(f"{name}: {'up' if processes.alive(pid) else 'DOWN'} pid {pid} {where}")
        return 0
    for key, value in object_store.credentials_env().items():
        print(f"export {key}={shlex.quote(value)}")
    # s3:// sources read through pyarrow, which takes the store's address from the standard variable
    print(f"export AWS_ENDPOINT_URL={shlex.quote(current.store.endpoint)}")
    print("export SPARK_MM_STACK_SET=" + shlex.quote(" ".join(f"--set {f}" for f in current.set_flags())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
