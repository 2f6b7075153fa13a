"""The Prefect server path on loopback: server, work pool, `prefect deploy`, worker, a bulk deployment run.

Every Prefect process runs from this venv with its own PREFECT_HOME and port under the test's
temporary folder, and every process the test starts is stopped in `finally`, its whole process
group (the worker's flow-run subprocesses included): SIGINT first (the worker may ignore SIGTERM),
then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import pytest
import yaml

from heygem_ops.results_store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).parent / "prefect"
SERVER_START_S = 90  # healthy in ~10-15 s on a 2-core machine
RUN_TIMEOUT_S = 150  # the run itself takes ~20 s, worker polling included

pytestmark = [pytest.mark.prefect_server, pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prefect_env(tmp_path: Path, port: int) -> dict[str, str]:
    """This process's environment (HEYGEM_HOME included) pointed at a private server on `port`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    return env | {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "10",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }


def _start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own session (so its children can be stopped with it)."""
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGINT to the process group, SIGKILL if it outlives `grace_s`, then SIGKILL to any child left behind."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_healthy(api: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prefect server exited:\n{_tail(log)}"
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {SERVER_START_S} s:\n{_tail(log)}")


def _api_get(api: str, path: str) -> dict:
    with urllib.request.urlopen(f"{api}/{path}", timeout=10) as response:
        return json.load(response)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run a CLI step to completion; fail the test with its output when it exits non-zero."""
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


def _manifest(media_dir: Path, folder: Path) -> Path:
    """Two real jobs: two portraits speaking one short (3.4 s) recording."""
    speech = media_dir / "sadtalker_bus_chinese.wav"
    rows = [("portrait-a", media_dir / "sadtalker_people_0.png"), ("portrait-b", media_dir / "sadtalker_happy.png")]
    manifest = folder / "jobs.csv"
    lines = ["job_id,template,audio"] + [f"{job},{template},{speech}" for job, template in rows]
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _check_output(path: Path, seconds: float) -> None:
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio, f"{path}: needs video and audio"
        assert abs(container.duration / av.time_base - seconds) < 0.2, f"{path}: {container.duration} µs"


def test_bulk_deployment_runs_on_a_worker(media_dir: Path, tmp_path: Path) -> None:
    if not PREFECT.is_file():
        pytest.skip(f"no prefect CLI beside {sys.executable}")
    port = _free_port()
    env = _prefect_env(tmp_path, port)
    api = env["PREFECT_API_URL"]
    pool = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"][0]["work_pool"]["name"]
    manifest, out_dir = _manifest(media_dir, tmp_path), tmp_path / "out"
    started: list[subprocess.Popen[bytes]] = []
    timings: dict[str, float] = {}
    begin = time.monotonic()
    try:
        server_log = tmp_path / "server.log"
        started.append(_start([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env, server_log, tmp_path))  # fmt: skip
        _wait_healthy(api, started[-1], server_log)
        timings["server"] = time.monotonic() - begin

        # infra/prefect/setup.sh: `prefect work-pool create` then `prefect deploy --all`, from the repo root.
        _run(["bash", str(REPO / "infra" / "prefect" / "setup.sh")], env | {"PREFECT": str(PREFECT)}, tmp_path, 180)
        timings["pool+deploy"] = time.monotonic() - begin
        nightly = _api_get(api, "deployments/name/bulk/nightly")
        assert nightly["schedules"] and not any(schedule["active"] for schedule in nightly["schedules"])
        bulk = _api_get(api, "deployments/name/bulk/default")
        (pull,) = bulk["pull_steps"]
        assert Path(pull["prefect.deployments.steps.set_working_directory"]["directory"]) == REPO

        # The worker starts elsewhere: the pull step must bring the flow run back to the repository.
        worker_log = tmp_path / "worker.log"
        started.append(_start([str(PREFECT), "worker", "start", "--pool", pool, "--type", "process"],
                              env, worker_log, tmp_path))  # fmt: skip
        params = json.dumps({"manifest": str(manifest), "out_dir": str(out_dir)})
        run = ["deployment", "run", "bulk/default", "--params", params, "--watch", "--watch-interval", "1"]
        output = _run([str(PREFECT), *run, "--watch-timeout", str(RUN_TIMEOUT_S)], env, tmp_path, RUN_TIMEOUT_S + 30)
        timings["run"] = time.monotonic() - begin
        assert "Completed" in output, f"{output[-3000:]}\nworker:\n{_tail(worker_log)}"
    finally:
        for process in reversed(started):  # the worker before the server it reports to
            _stop(process)
    print(f"loopback deployment timings (s, cumulative): {timings}")

    latest = ResultsStore(out_dir).latest().set_index("job_id")
    assert sorted(latest.index) == ["portrait-a", "portrait-b"]
    assert (latest["status"] == "succeeded").all(), latest[["status", "error_message"]].to_string()
    assert latest["flow_run_id"].notna().all(), "rows should name the deployment's flow run"
    for output_path in latest["output"]:
        assert Path(output_path).parent == out_dir.resolve()
        _check_output(Path(output_path), seconds=3.38)
    assert all(process.poll() is not None for process in started)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on the server's port {port}"
