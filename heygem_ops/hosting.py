"""Model hosts: where engines and face trackers live, loaded once and reused by every job.

`LocalHost` keeps them in this process (the embedded default). `RayHost` keeps them in named Ray
actors shared by every flow run on a cluster (`heygem_ops.ray_host`, imported only when asked for).
Both answer the `host.ModelHost` calls, so flows never know which one they talk to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

from heygem_ops.device import choose_device, describe, no_model_device
from heygem_ops.engines.base import Engine, InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec, create_engine, engine_needs
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import Tracker, TrackerSpec, create_tracker
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo


class LocalHost:
    """Engines and trackers held by this process, built on first use and kept for the next job.

    Each loaded model has its own lock, held while it runs: one batch fills a device, and one
    tracker's interpreter must not interleave the frames of two videos. The host's own lock guards
    only the tables, so a long tracking pass never holds up another job's inference.
    """

    def __init__(self) -> None:
        self._engines: dict[EngineSpec, Engine] = {}
        self._trackers: dict[TrackerSpec, Tracker] = {}
        self._running: dict[EngineSpec | TrackerSpec, threading.Lock] = {}
        self._lock = threading.Lock()

    def engine(self, spec: EngineSpec) -> Engine:
        with self._lock:
            if spec not in self._engines:
                options = {"checkpoint": spec.checkpoint} if spec.checkpoint else {}
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
                self._running[spec] = threading.Lock()
            return self._trackers[spec]

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate:
        engine = self.engine(spec)
        with self._running[spec]:  # one batch fills the device; two at once only contend and double the memory
            return engine(batch)

    def track(self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None) -> FaceTrack:
        tracker = self.tracker(spec)
        with self._running[spec]:  # one interpreter per tracker: frames of two videos must not interleave
            return tracker.track(iter_frames(video), progress=progress)

    def device_name(self, spec: EngineSpec) -> str:
        return describe(self.engine(spec).device)


@lru_cache(maxsize=1)
def local_host() -> LocalHost:
    """The process-wide host, so every job in this process reuses the same loaded models."""
    return LocalHost()
