"""``python -m spark_mm.devstack.moto_server -p PORT [--replay FILE]``: moto's S3 server that first
restores its objects from a recording, then listens.

moto's own ``python -m moto.server`` listens at once; replaying into it over HTTP would leave a
window in which a client retrying against the port (a job whose store was restarted under it)
reads an empty or half-restored bucket. Here the recorded writes go through the WSGI app in-process
(werkzeug's test client, no socket), with moto's recorder paused so they are not recorded twice,
and only then is the port bound: the store answers with all of its objects or not at all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def _in_process(app: Any, port: int) -> Any:
    """A :data:`recording.Send` over ``app`` with the Host the recorded requests had."""
    from werkzeug.test import Client

    client = Client(app)

    def send(method: str, path: str, headers: dict[str, str], body: bytes | str) -> tuple[int, bytes]:
        answer = client.open(path, method=method, headers=headers, data=body, base_url=f"http://127.0.0.1:{port}")
        return answer.status_code, answer.get_data()

    return send


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_mm.devstack.moto_server", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--replay", type=Path, help="a recording (recording.compact'ed) to restore before listening")
    args = parser.parse_args(argv)

    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    from spark_mm.devstack import recording

    app = DomainDispatcherApplication(create_backend_app)
    if args.replay is not None:
        t0 = time.monotonic()
        entries = recording.compact(args.replay)
        recorder.stop_recording()
        try:
            recording.replay(entries, _in_process(app, args.port))
        finally:
            recorder.start_recording()
        print(f"replayed {len(entries)} recorded requests in {time.monotonic() - t0:.2f} s", flush=True)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
