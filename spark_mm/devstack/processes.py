"""Start, wait for and stop the stack's server processes (each its own process group, a log file each)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from spark_mm.errors import ConfigError


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, cmd: list[str], log: Path, env: Mapping[str, str] | None = None, inherit: bool = True) -> subprocess.Popen[bytes]:
    """Launch ``cmd`` in a new session (so :func:`stop` can end its children too), output to ``log``.

    ``env`` is added to the caller's environment, or is the whole environment when ``inherit`` is
    False (a cluster node's JVM must not see the caller's ``PYTHONPATH``).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, **(env or {})} if inherit else dict(env or {})
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full, start_new_session=True)


def wait_http(name: str, url: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout_s: float = 60.0) -> float:
    """Poll ``url`` until it answers (any HTTP status); seconds waited.

    Raises:
        ConfigError: the process exited or the time ran out; names the server and its log.
    """
    t0 = time.monotonic()
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return time.monotonic() - t0
        except urllib.error.HTTPError:
            return time.monotonic() - t0
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise ConfigError(f"{name} exited with code {proc.returncode} before answering at {url}; see {log}")
        if time.monotonic() - t0 > timeout_s:
            raise ConfigError(f"{name} did not answer at {url} within {timeout_s:.0f} s; see {log}")
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL what is left after ``timeout_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child: poll instead
                if not alive(pid):
                    return
            time.sleep(0.1)
