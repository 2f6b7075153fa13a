"""Face tracker backends by name (a registry, like the engines'); each turns frames into a `FaceTrack`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from heygem_ops.face.track import FaceTrack
from heygem_ops.registry import LazyRegistry


@dataclass(frozen=True)
class TrackerSpec:
    """Which tracker follows which face: the key under which a host keeps one loaded tracker."""

    name: str = "mesh"
    face: str = "largest"
    weights: str | None = None  # folder of the fan tracker's weight files (default: the torch hub cache)


class Tracker(Protocol):
    name: str

    def track(self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> FaceTrack: ...


TrackerFactory = Callable[..., Tracker]  # factory(face=..., weights=...) -> Tracker

# Built-in trackers by module, imported on first use: a mesh job never loads torch for fan's sake.
_TRACKERS: LazyRegistry[TrackerFactory] = LazyRegistry(
    "face tracker",
    {"mesh": ("heygem_ops.face.tracking", "mesh_tracker"), "fan": ("heygem_ops.face.fan", "FanTracker")},
)


def register_tracker(name: str, factory: TrackerFactory) -> None:
    """Make `factory(face=..., weights=...)` available as tracker `name` (e.g. from a plugin's import)."""
    _TRACKERS.register(name, factory)


def available_trackers() -> list[str]:
    return _TRACKERS.names()


def create_tracker(name: str, *, face: str = "largest", weights: str | None = None) -> Tracker:
    """Build tracker `name`, following the face chosen by `face` (largest, center or a size rank).

    weights: a folder holding the tracker's weight files, for trackers that have them (fan: default
    the torch hub cache).
    """
    return _TRACKERS.get(name)(face=face, weights=weights)
