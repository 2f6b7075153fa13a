"""Model hosts: where engines and face trackers live, loaded once and reused by every job.

`LocalHost` keeps them in this process (the embedded default) and renders in worker processes of this
machine. `RayHost` keeps them in named Ray actors shared by every flow run on a cluster
(`heygem_ops.ray_host`, imported only when asked for). Both answer the same calls, so flows never know
which one they talk to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from heygem_ops.compose.chunk import Segment, render_chunk
from heygem_ops.compose.workers import ComposeWorkers, can_start_workers, worker_count
from heygem_ops.device import choose_device, describe, no_model_device
from heygem_ops.engines.base import Engine, InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec, create_engine, engine_needs
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import Tracker, TrackerSpec, create_tracker
from heygem_ops.features import load_track
from heygem_ops.inference import ChunkInference
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo
from heygem_ops.plan import JobPlan


class ModelHost(Protocol):
    """Where models run. Implementations: LocalHost (this process), ray_host.RayHost (a cluster)."""

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate: ...

    def prepare(self, spec: EngineSpec, crops: np.ndarray) -> np.ndarray: ...

    def render(
        self, plan: JobPlan, track_path: Path, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment: ...

    def track(
        self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None
    ) -> FaceTrack: ...

    def device_name(self, spec: EngineSpec) -> str: ...


class LocalHost:
    """Engines and trackers held by this process, built on first use and kept for the next job.

    `compose_workers` processes render chunks (default HEYGEM_COMPOSE_WORKERS, else one per CPU);
    0, or a daemonic process that may not start children, renders in the calling thread instead.
    """

    def __init__(self, compose_workers: int | None = None) -> None:
        self._engines: dict[EngineSpec, Engine] = {}
        self._trackers: dict[TrackerSpec, Tracker] = {}
        self._running: dict[EngineSpec, threading.Lock] = {}
        self._lock = threading.Lock()
        compose_workers = worker_count() if compose_workers is None else compose_workers
        self._compose = ComposeWorkers(compose_workers) if compose_workers and can_start_workers() else None

    def engine(self, spec: EngineSpec) -> Engine:
        with self._lock:
            if spec not in self._engines:
                options = spec.weight_options()
                if engine_needs(spec.name).device:
                    device = choose_device(spec.device)
                else:
                    device = no_model_device(spec.device, spec.name)
                self._engines[spec] = create_engine(spec.name, device, **options)
                self._running[spec] = threading.Lock()
            return self._engines[spec]

    def tracker(self, spec: TrackerSpec) -> Tracker:
        with self._lock:
            if spec not in self._trackers:
                self._trackers[spec] = create_tracker(spec.name, face=spec.face, weights=spec.weights)
            return self._trackers[spec]

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate:
        engine = self.engine(spec)
        with self._running[spec]:  # one batch fills the device; two at once only contend and double the memory
            return engine(batch)

    def prepare(self, spec: EngineSpec, crops: np.ndarray) -> np.ndarray:
        """The engine's per-template preparation of `crops` (`Engine.prepare`)."""
        engine = self.engine(spec)
        with self._running[spec]:
            return engine.prepare(crops)

    def track(self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None) -> FaceTrack:
        tracker = self.tracker(spec)
        with self._lock:  # one interpreter per tracker: frames of two videos must not interleave
            return tracker.track(iter_frames(video), progress=progress)

    def device_name(self, spec: EngineSpec) -> str:
        return describe(self.engine(spec).device)

    def render(
        self, plan: JobPlan, track_path: Path, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment:
        if self._compose:
            return self._compose.render(plan, track_path, inference, progress)
        return render_chunk(plan, load_track(track_path), inference, progress)


@lru_cache(maxsize=1)
def local_host() -> LocalHost:
    """The process-wide host, so every job in this process reuses the same loaded models."""
    return LocalHost()


def host_for(ray_address: str | None) -> ModelHost:
    """The host a flow should use: this process, or the Ray cluster at `ray_address` ("local" starts one)."""
    if not ray_address:
        return local_host()
    from heygem_ops.ray_host import ray_host

    return ray_host(ray_address)
