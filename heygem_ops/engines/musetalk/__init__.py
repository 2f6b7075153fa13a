"""The MuseTalk 1.5 engine: its files' layout, strict loading, whisper windows, and the engine.

Names load on first use (PEP 562): reading the file layout (`heygem doctor`, the web UI's System
tab) must not import diffusers and transformers, which takes seconds.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "MuseTalkModels": "checkpoint",
    "load_musetalk": "checkpoint",
    "FACE_SIZE": "engine",
    "MuseTalkEngine": "engine",
    "MuseTalkFiles": "layout",
    "locate": "layout",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
