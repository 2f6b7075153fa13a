"""The CLI's temporary Prefect API: up inside the block, shared by later blocks of the process, gone
when the command exits or is killed, and never started when the user has a server configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from heygem_flows.cli.prefect_api import temporary_prefect_api

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(180)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def gone_within(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while healthy(url):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


COMMAND = (
    "import sys, time\n"
    "from heygem_flows.cli.prefect_api import temporary_prefect_api\n"
    "from prefect.settings import PREFECT_API_URL\n"
    "urls = []\n"
    "for _ in range(2):\n"
    "    with temporary_prefect_api():\n"
    "        urls.append(PREFECT_API_URL.value())\n"
    "print(*urls, flush=True)\n"
    "time.sleep(float(sys.argv[1]))\n"
)


def command(linger_s: float) -> tuple[subprocess.Popen, list[str]]:
    """A process that enters the block twice, prints the URLs it got, then lingers `linger_s` seconds."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    process = subprocess.Popen(
        [sys.executable, "-c", COMMAND, str(linger_s)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    return process, process.stdout.readline().split()


def test_one_server_serves_the_process_and_goes_when_it_exits() -> None:
    process, urls = command(linger_s=1.0)
    try:
        assert len(urls) == 2 and urls[0] == urls[1] and urls[0].startswith("http://127.0.0.1:")
        assert healthy(urls[0])  # still up after the blocks: Prefect's services may still report to it
        assert process.wait(30) == 0
        assert gone_within(urls[0], 15)
    finally:
        process.kill()
        process.stdout.close()


def test_a_killed_command_takes_its_server_with_it() -> None:
    process, urls = command(linger_s=600)
    try:
        assert healthy(urls[0])
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert gone_within(urls[0], 15), "the temporary server outlived the command that started it"
    finally:
        process.kill()
        process.stdout.close()


def test_a_configured_server_is_used_and_none_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    before = {child.pid for child in psutil.Process().children()}
    with temporary_prefect_api():
        assert {child.pid for child in psutil.Process().children()} == before
