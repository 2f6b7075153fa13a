"""Bulk runs on Ray (model actors, one killed mid-run) and on Dask (CPU stages on a LocalCluster)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from test_bulk import _jobs

from heygem_ops.results_store import ResultsStore
from heygem_ops.settings import get_settings

pytestmark = pytest.mark.media


def _kill_first_actor_when_rendering(work_dir: Path, killed: list[str], stop: threading.Event) -> None:
    """Wait for the first rendered segment (the batch is mid-run), then kill model actor 0 once."""
    import ray

    while not stop.is_set() and not list(work_dir.glob("*/segments/*.mp4")):
        time.sleep(0.05)
    if stop.is_set():
        return
    actor = ray.get_actor("heygem-model-0", namespace="heygem")
    ray.kill(actor, no_restart=False)
    killed.append("heygem-model-0")


def drive_ray_batch(manifest: str, out_dir: str) -> None:
    """Run in a fresh process: a bulk run on a local Ray cluster whose model actor 0 is killed mid-run.

    A separate process, because a Ray cluster started inside pytest cannot be shut down cleanly
    while Prefect's worker threads still hold actor handles; at process exit Ray tears it all down.
    """
    import ray

    from heygem_flows.bulk import bulk

    killed: list[str] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_first_actor_when_rendering, args=(get_settings().resolved_work_dir, killed, stop)
    )
    killer.start()
    summary = bulk(out_dir=out_dir, manifest=manifest, ray_address="local")
    stop.set()
    killer.join()
    ray.get_actor("heygem-model-1", namespace="heygem")  # raises unless chunks went to the second actor too
    print(json.dumps({"summary": summary, "killed": killed}))


@pytest.mark.ray
@pytest.mark.slow
def test_ray_batch_survives_a_killed_model_actor(media_dir, tmp_path):
    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 4, seconds=2.0)
    out = tmp_path / "out"
    env = {
        **os.environ, "HEYGEM_RAY_ACTORS": "2", "HEYGEM_RAY_ACTOR_CPUS": "0.5", "HEYGEM_CHUNK_FRAMES": "10",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(Path(__file__).parent),
    }  # fmt: skip
    code = f"from test_scale_out import drive_ray_batch; drive_ray_batch({str(manifest)!r}, {str(out)!r})"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["killed"] == ["heygem-model-0"]
    assert report["summary"]["succeeded"] == 4 and report["summary"]["failed"] == 0
    assert "moving its work to another actor" in run.stdout + run.stderr
    latest = ResultsStore(out).latest()
    assert (latest["status"] == "succeeded").all() and len(latest) == 4


@pytest.mark.slow
def test_dask_local_cluster_runs_the_cpu_stages(media_dir, tmp_path):
    from distributed import LocalCluster

    from heygem_flows.bulk import with_dask

    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        summary = with_dask(cluster.scheduler_address)(out_dir=str(tmp_path / "out"), manifest=str(manifest))
        errors = pd.read_parquet(summary["results"])["error_message"].dropna().tolist()
        assert summary["succeeded"] == 2, errors
        assert cluster.scheduler.task_prefixes, "no task reached the Dask cluster"


def _actor_pid(address: str, env: dict[str, str]) -> int:
    code = (
        "import ray\n"
        f"ray.init(address={address!r}, namespace='heygem', log_to_driver=False)\n"
        "print(ray.get(ray.get_actor('heygem-model-0').pid.remote()))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return int(run.stdout.strip().splitlines()[-1])


@pytest.mark.ray
@pytest.mark.slow
def test_a_second_batch_on_a_running_cluster_reuses_the_model_actors(media_dir, tmp_path):
    """Actors are named and detached: the next batch on the cluster finds them instead of loading again."""
    from face_clips import make_face_clip, make_speech

    ray_bin = Path(sys.executable).with_name("ray")
    address = "127.0.0.1:6391"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    ray_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    start = [str(ray_bin), "start", "--head", "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
             "--port", "6391", "--node-ip-address", "127.0.0.1", "--temp-dir", ray_dir]  # fmt: skip
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=120)
    try:
        template = make_face_clip(tmp_path / "t.mp4", media_dir / "sadtalker_people_0.png")
        pids = []
        for seed in (1, 2):
            audio = make_speech(tmp_path / f"a{seed}.wav", 1.0, seed=seed)
            command = [str(ray_bin.with_name("heygem")), "batch", "--out", str(tmp_path / "out"),
                       "--template", str(template), "--audio", str(audio), "--ray", address]  # fmt: skip
            run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
            pids.append(_actor_pid(address, env))
        assert pids[0] == pids[1]  # the same actor process served both batches: models loaded once
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(ray_dir, ignore_errors=True)
