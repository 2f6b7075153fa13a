"""A real `heygem serve` process for tests: started on a free loopback port, talked to over HTTP, killed.

with ServiceProcess.start(tmp / "home", tmp / "data", workers=2) as service:
    service.client.post("/easy/submit", json={...})
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0  # imports and Prefect's API on a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from heygem_flows.cli import main; main()", "serve", *args]


@dataclass
class ServiceProcess:
    """One `heygem serve` in its own process group (so a kill takes its Prefect API and workers too)."""

    process: subprocess.Popen
    url: str
    home: Path
    data: Path
    log: Path
    token: str | None = None
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @classmethod
    def start(
        cls, home: Path, data: Path, *, workers: int = 1, token: str | None = None, extra: dict[str, str] | None = None
    ) -> ServiceProcess:
        port = free_port()
        env = {
            **os.environ,
            "HEYGEM_HOME": str(home),
            "HEYGEM_DATA_ROOT": str(data),
            "HEYGEM_API_WORKERS": str(workers),
            "HEYGEM_QA": "false",  # the service is under test here, not the quality measure
            "HEYGEM_COMPOSE_WORKERS": "0",  # render in threads: no worker processes to spawn per server
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(extra or {}),
        }
        if token:
            env["HEYGEM_API_TOKEN"] = token
        else:
            env.pop("HEYGEM_API_TOKEN", None)
        home.mkdir(parents=True, exist_ok=True)
        log = home / f"serve-{port}.log"
        with open(log, "ab") as sink:
            process = subprocess.Popen(
                serve_command("--port", str(port)), cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        service = cls(process, f"http://127.0.0.1:{port}", home, data, log, token)
        service.wait_until_up()
        return service

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"heygem serve exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"heygem serve did not answer /healthz in {START_TIMEOUT_S:g} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs, as in a crash."""
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def submit(self, **body: Any) -> dict[str, Any]:
        """POST /easy/submit with HeyGem's defaults for the fields not given."""
        payload = {"chaofen": 0, "watermark_switch": 0, "pn": 1, **body}
        response = self.client.post("/easy/submit", json=payload)
        assert response.status_code == 200, response.text  # HeyGem answers 200 whatever happened
        return response.json()

    def query(self, code: str) -> dict[str, Any]:
        response = self.client.get("/easy/query", params={"code": code})
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_jobs(self, ids: list[str], timeout_s: float = 120.0, poll_s: float = 0.5) -> list[dict[str, Any]]:
        """Poll GET /v1/jobs/{id} until every job has ended; returns their final views."""
        deadline = time.monotonic() + timeout_s
        while True:
            views = [self.client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
            if all(view["state"] not in ("queued", "running") for view in views):
                return views
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still active after {timeout_s:g} s: {views}\n{self.log_text()}")
            time.sleep(poll_s)
