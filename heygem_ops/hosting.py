"""Model hosts: where engines and face trackers live, loaded once and reused by every job.

`LocalHost` keeps them in this process (the embedded default). `RayHost` keeps them in named Ray
actors shared by every flow run on a cluster (`heygem_ops.ray_host`, imported only when asked for).
Both answer the same calls, so flows never know which one they talk to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from heygem_ops.compose.chunk import Segment, render_chunk
from heygem_ops.device import choose_device, describe
from heygem_ops.engines.base import Engine, InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec, create_engine
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

    def render(
        self, plan: JobPlan, track_path: Path, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment: ...

    def track(
        self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None
    ) -> FaceTrack: ...

    def device_name(self, spec: EngineSpec) -> str: ...


class LocalHost:
    """Engines and trackers held by this process, built on first use and kept for the next job."""

    def __init__(self) -> None:
        self._engines: dict[EngineSpec, Engine] = {}
        self._trackers: dict[TrackerSpec, Tracker] = {}
        self._lock = threading.Lock()

    def engine(self, spec: EngineSpec) -> Engine:
        with self._lock:
            if spec not in self._engines:
                options = {"checkpoint": spec.checkpoint} if spec.checkpoint else {}
                self._engines[spec] = create_engine(spec.name, choose_device(spec.device), **options)
            return self._engines[spec]

    def tracker(self, spec: TrackerSpec) -> Tracker:
        with self._lock:
            if spec not in self._trackers:
                self._trackers[spec] = create_tracker(spec.name, face=spec.face, weights=spec.weights)
            return self._trackers[spec]

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate:
        return self.engine(spec)(batch)

    def track(
        self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None
    ) -> FaceTrack:
        tracker = self.tracker(spec)
        with self._lock:  # one interpreter per tracker: frames of two videos must not interleave
            return tracker.track(iter_frames(video), progress=progress)

    def device_name(self, spec: EngineSpec) -> str:
        return describe(self.engine(spec).device)

    def render(
        self, plan: JobPlan, track_path: Path, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment:
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
