"""Face tracker backends by name (a registry, like the engines'); each turns frames into a `FaceTrack`."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from heygem_ops.errors import InputError
from heygem_ops.face.track import FaceTrack


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

_TRACKERS: dict[str, TrackerFactory] = {}

# Built-in trackers by module, imported on first use: a mesh job never loads torch for fan's sake.
_BUILTINS = {
    "mesh": ("heygem_ops.face.tracking", "mesh_tracker"),
    "fan": ("heygem_ops.face.fan", "FanTracker"),
}


def register_tracker(name: str, factory: TrackerFactory) -> None:
    """Make `factory(face=..., weights=...)` available as tracker `name` (e.g. from a plugin's import)."""
    _TRACKERS[name] = factory


def available_trackers() -> list[str]:
    return sorted(set(_TRACKERS) | set(_BUILTINS))


def check_tracker(name: str) -> None:
    """Refuse an unknown tracker name, listing the known ones."""
    if name not in available_trackers():
        raise InputError(f"unknown face tracker {name!r}", hint=f"choose one of: {', '.join(available_trackers())}")


def create_tracker(name: str, *, face: str = "largest", weights: str | None = None) -> Tracker:
    """Build tracker `name`, following the face chosen by `face` (largest, center or a size rank).

    weights: a folder holding the tracker's weight files, for trackers that have them (fan: default
    the torch hub cache).
    """
    check_tracker(name)
    if name not in _TRACKERS:
        module, attribute = _BUILTINS[name]
        register_tracker(name, getattr(importlib.import_module(module), attribute))
    return _TRACKERS[name](face=face, weights=weights)
