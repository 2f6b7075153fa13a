"""Bulk runs on Ray (model actors, one killed mid-run) and on Dask (CPU stages on a LocalCluster)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

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


@pytest.mark.ray
@pytest.mark.slow
def test_ray_batch_survives_a_killed_model_actor(media_dir, tmp_path, monkeypatch):
    import ray

    from flows.bulk import bulk
    from heygem_ops import ray_host

    monkeypatch.setenv("HEYGEM_RAY_ACTORS", "2")
    monkeypatch.setenv("HEYGEM_RAY_ACTOR_CPUS", "0.5")
    monkeypatch.setenv("HEYGEM_CHUNK_FRAMES", "10")
    get_settings.cache_clear()
    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 4, seconds=2.0)
    killed: list[str] = []
    stop = threading.Event()
    killer = threading.Thread(
        target=_kill_first_actor_when_rendering, args=(get_settings().resolved_work_dir, killed, stop)
    )
    try:
        killer.start()
        summary = bulk(out_dir=str(tmp_path / "out"), manifest=str(manifest), ray_address="local")
        assert killed == ["heygem-model-0"]
        assert summary["succeeded"] == 4 and summary["failed"] == 0
        ray.get_actor("heygem-model-1", namespace="heygem")  # the chunks spread over both actors
        latest = ResultsStore(tmp_path / "out").latest()
        assert (latest["status"] == "succeeded").all()
    finally:
        stop.set()
        killer.join()
        ray_host.shutdown_actors()
        ray.shutdown()
        ray_host._ray_host.cache_clear()


@pytest.mark.slow
def test_dask_local_cluster_runs_the_cpu_stages(media_dir, tmp_path):
    from distributed import LocalCluster

    from flows.bulk import with_dask

    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        summary = with_dask(cluster.scheduler_address)(out_dir=str(tmp_path / "out"), manifest=str(manifest))
        assert summary["succeeded"] == 2
        assert cluster.scheduler.task_prefixes, "no task reached the Dask cluster"
