"""Face tracker backends by name; each turns a stream of frames into a `FaceTrack`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from heygem_ops.errors import InputError
from heygem_ops.face.track import FaceTrack

TRACKERS = ("mesh", "fan")


@dataclass(frozen=True)
class TrackerSpec:
    """Which tracker follows which face: the key under which a host keeps one loaded tracker."""

    name: str = "mesh"
    face: str = "largest"
    weights: str | None = None  # folder of the fan tracker's weight files (default: the torch hub cache)


class Tracker(Protocol):
    name: str

    def track(self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> FaceTrack: ...


def create_tracker(name: str, *, face: str = "largest", weights: str | None = None) -> Tracker:
    """Build tracker `name`, following the face chosen by `face` (largest, center or a size rank).

    weights: a folder holding the fan tracker's weight files (default: the torch hub cache).
    """
    if name == "mesh":
        from heygem_ops.face.tracking import MeshTracker, TrackerOptions

        return MeshTracker(TrackerOptions(face=face))
    if name == "fan":
        from heygem_ops.face.fan import FanTracker

        return FanTracker(face=face, weights=weights)
    raise InputError(f"unknown face tracker {name!r}", hint=f"choose one of: {', '.join(TRACKERS)}")
