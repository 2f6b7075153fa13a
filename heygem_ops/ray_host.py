"""Model hosting on a Ray cluster: named actors that load models once and serve every flow run.

Each actor wraps a `LocalHost`, so it holds its engines and trackers exactly as a single process
would. Actors are named `heygem-<role>-<i>` in the `heygem` namespace and detached, so a second
batch on the same cluster finds them (`get_if_exists`) instead of loading the models again. Pixel
work (compose) runs as plain Ray tasks next to the data; only the GPU stage needs an actor. When an
actor dies mid-call, the call moves to the next actor and Ray restarts the dead one.

The work and cache folders (HEYGEM_HOME) must be on storage every node sees, because tasks hand
each other paths, not pixels.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from heygem_ops.compose.chunk import render_chunk
from heygem_ops.engines.base import InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec
from heygem_ops.errors import InputError, ResourceError
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import TrackerSpec
from heygem_ops.hosting import LocalHost
from heygem_ops.logs import get_logger
from heygem_ops.media.probe import VideoInfo
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.settings import Settings, get_settings

log = get_logger(__name__)
NAMESPACE = "heygem"
_LOST = (ActorDiedError, ActorUnavailableError, RayActorError)


@dataclass(frozen=True)
class ActorShape:
    """How many model actors to run and what each claims from the cluster."""

    count: int
    num_gpus: float
    num_cpus: float


class ModelActor:
    """The body of a model actor: a LocalHost living in a Ray worker process."""

    def __init__(self) -> None:
        self.host = LocalHost()

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate:
        return self.host.infer(spec, batch)

    def prepare(self, spec: EngineSpec, crops: np.ndarray) -> np.ndarray:
        return self.host.prepare(spec, crops)

    def track(self, spec: TrackerSpec, video: VideoInfo) -> FaceTrack:
        return self.host.track(spec, video)

    def device_name(self, spec: EngineSpec) -> str:
        return self.host.device_name(spec)

    def pid(self) -> int:
        import os

        return os.getpid()


def connect(address: str) -> None:
    """Join the cluster at `address` (``ray://host:10001``, ``auto``), or start one here for ``local``."""
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"namespace": NAMESPACE, "ignore_reinit_error": True, "log_to_driver": False}
    if address == "local":
        # "local" makes Ray start a private cluster even when another one runs on this machine.
        ray.init(address="local", include_dashboard=False, **options)
    else:
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError) as error:
            raise InputError(
                "cannot reach the Ray cluster at {address!r} ({error})",
                address=address,
                error=error,
                hint="check the address (ray://HOST:10001), that the cluster is up, or use --ray local",
            ) from error
    log.info("Connected to Ray (%s): %s", address, ray.cluster_resources())


def actor_shape(settings: Settings) -> ActorShape:
    """One actor per GPU (or per HEYGEM_RAY_GPUS_PER_ACTOR share), else CPU actors leaving cores for tasks.

    HEYGEM_RAY_ACTORS overrides the count. On CPUs at most half the cores go to actors: compose
    tasks need the rest, and a node whose every CPU is held by an actor starves its tasks.
    """
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    if gpus >= 1:
        share = settings.ray_gpus_per_actor or 1.0
        return ActorShape(settings.ray_actors or max(1, int(gpus / share)), share, settings.ray_actor_cpus)
    count = settings.ray_actors or max(1, int(cpus // 2 // settings.ray_actor_cpus))
    return ActorShape(count, 0.0, settings.ray_actor_cpus)


class RayHost:
    """A `ModelHost` whose models live in named Ray actors, shared by every driver on the cluster."""

    def __init__(self, shape: ActorShape) -> None:
        self.shape = shape
        self._actors: dict[int, Any] = {}
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def actor(self, index: int) -> Any:
        """Actor `index`, created with the cluster's resources or found by name if it exists."""
        with self._lock:
            if index not in self._actors:
                self._actors[index] = (
                    ray.remote(ModelActor)
                    .options(
                        name=f"heygem-model-{index}",
                        namespace=NAMESPACE,
                        get_if_exists=True,
                        lifetime="detached",
                        num_gpus=self.shape.num_gpus,
                        num_cpus=self.shape.num_cpus,
                        max_restarts=-1,
                        max_concurrency=4,
                    )
                    .remote()
                )
            return self._actors[index]

    def _call(self, method: str, *args: Any) -> Any:
        """Call `method` on the next actor in turn; on a lost actor try the others before giving up."""
        first = next(self._turn)
        for attempt in range(self.shape.count + 1):
            index = (first + attempt) % self.shape.count
            try:
                return ray.get(getattr(self.actor(index), method).remote(*args))
            except _LOST as error:
                log.warning("Model actor %d lost (%s); moving its work to another actor", index, error)
                with self._lock:
                    self._actors.pop(index, None)
        raise ResourceError(
            "every model actor failed for {method}", hint="check the Ray cluster's health; retry", method=method
        )

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate:
        return self._call("infer", spec, batch)

    def prepare(self, spec: EngineSpec, crops: np.ndarray) -> np.ndarray:
        return self._call("prepare", spec, crops)

    def track(self, spec: TrackerSpec, video: VideoInfo, progress: Any = None) -> FaceTrack:
        return self._call("track", spec, video)

    def device_name(self, spec: EngineSpec) -> str:
        return self._call("device_name", spec)


class RayRenderer:
    """A `rendering.Renderer` that composes each chunk as a plain Ray task on whichever node Ray picks.

    Only the chunk's order and its mouths travel; the task decodes the template frames where it runs.
    """

    def __init__(self) -> None:
        self._render = ray.remote(num_cpus=1, max_retries=2, retry_exceptions=[ResourceError])(render_chunk)

    def render(
        self, order: ChunkOrder, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment:
        segment = ray.get(self._render.remote(order, inference))
        if progress:
            progress(segment.frames)
        return segment


_CONNECT_LOCK = threading.Lock()


def ray_host(address: str) -> RayHost:
    """The host for the cluster at `address`, connected once per process (jobs call this from many threads)."""
    with _CONNECT_LOCK:
        return _ray_host(address)


def ray_renderer(address: str) -> RayRenderer:
    """The renderer for the cluster at `address`, connected once per process."""
    with _CONNECT_LOCK:
        return _ray_renderer(address)


@lru_cache(maxsize=4)
def _ray_host(address: str) -> RayHost:
    connect_from_lasting_thread(address)
    return RayHost(actor_shape(get_settings()))


@lru_cache(maxsize=4)
def _ray_renderer(address: str) -> RayRenderer:
    connect_from_lasting_thread(address)
    return RayRenderer()


def connect_from_lasting_thread(address: str) -> None:
    """`connect` from a thread that lives as long as the process.

    A local cluster's processes (GCS, raylet) are started with PR_SET_PDEATHSIG, which kills them
    when the *thread* that started them ends. Jobs connect from short-lived worker threads, so the
    start must happen on a thread that never ends.
    """
    started, failures = threading.Event(), []

    def keeper() -> None:
        try:
            connect(address)
        except BaseException as error:
            failures.append(error)
        finally:
            started.set()
        threading.Event().wait()

    threading.Thread(target=keeper, name="heygem-ray-keeper", daemon=True).start()
    started.wait()
    if failures:
        raise failures[0]


def shutdown_actors() -> None:
    """Kill this namespace's detached model actors (they otherwise outlive every driver)."""
    for index in itertools.count():
        try:
            ray.kill(ray.get_actor(f"heygem-model-{index}", namespace=NAMESPACE))
        except ValueError:
            return
