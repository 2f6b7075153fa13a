"""A temporary Prefect API for the CLI, started the moment a command starts.

With no PREFECT_API_URL configured, Prefect starts a temporary API server itself, but only when the
flow is first called, after importing the whole server into this process (2.4 s): a single job's
fixed start-up was mostly that. Here the same server (Prefect's own app under uvicorn, as Prefect
runs it) starts in its own process before anything else is imported, so its four seconds of start
run beside our imports and the compose workers' spawn instead of after them. Like Prefect's own, it
serves this process until it exits (Prefect's background services keep talking to the server they
first met) and dies with it. A server configured by the user (environment, profile or
prefect.toml) is always used instead.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from heygem_ops.errors import ResourceError
from heygem_ops.i18n import Message

START_TIMEOUT_S = 60.0  # a loaded machine can take a while; Prefect's own default is 20


@dataclass
class _Server:
    process: subprocess.Popen
    url: str


_server: _Server | None = None  # this process's temporary API, once started


@contextmanager
def temporary_prefect_api() -> Iterator[None]:
    """Start Prefect's API now; inside the block, Prefect (imported later) talks to it once it is up.

    Enter before importing Prefect; nothing is started when PREFECT_API_URL is already set. A second
    block in the same process uses the same server.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    server = _server or _start()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():  # the user's profile or prefect.toml names a server: use theirs
        _stop()
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: server.url}):
        _wait_until_healthy(server.process, server.url)
        yield


def share_with_threads() -> None:
    """Inside the block: make its API the process-wide default, for threads that did not start in it.

    Prefect reads a thread's settings from its context, and a thread the block did not start (a
    server's job workers) has none: it falls back to the process-global settings, which this resets.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        refresh_global_settings_context()


def _start() -> _Server:
    global _server
    port = _free_port()
    process = subprocess.Popen(_server_command(port), env=_server_environment(), preexec_fn=_die_with_parent)
    _server = _Server(process, f"http://127.0.0.1:{port}/api")
    atexit.register(_stop)  # before Prefect registers its own exit handlers, so it runs after them
    return _server


def _stop() -> None:
    global _server
    if _server is None:
        return
    process, _server = _server.process, None
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _server_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def _server_environment() -> dict[str, str]:
    """This process's environment plus what Prefect sets for its own temporary server."""
    return {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the server's process, before exec: a SIGKILLed command must not leave its server behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_until_healthy(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                break
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise ResourceError(
        "Prefect's temporary API server did not start"
        if server.returncode is None
        else Message(
            "Prefect's temporary API server did not start (it exited with code {code})", code=server.returncode
        ),
        hint="run `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api, or rerun with --debug",
    )
