"""The model-host protocol: where engines and face trackers run, whichever machine that is.

Implementations: `hosting.LocalHost` (this process) and `ray_host.RayHost` (named Ray actors).
Rendering chunks is another role (`rendering.Renderer`): it needs no model and runs where the
pixels are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from heygem_ops.engines.base import InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import TrackerSpec
from heygem_ops.media.probe import VideoInfo


class ModelHost(Protocol):
    """Runs loaded models: an engine on a batch, a tracker over a template."""

    def infer(self, spec: EngineSpec, batch: InferenceBatch) -> MouthUpdate: ...

    def track(
        self, spec: TrackerSpec, video: VideoInfo, progress: Callable[[int], None] | None = None
    ) -> FaceTrack: ...

    def device_name(self, spec: EngineSpec) -> str: ...
