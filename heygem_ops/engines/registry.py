"""Engines by name: the built-in ones, plus any a third party registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from heygem_ops.engines.base import Engine, EngineNeeds
from heygem_ops.errors import InputError

EngineFactory = Callable[..., Engine]


@dataclass(frozen=True)
class EngineSpec:
    """Which engine to run where: the key under which a host keeps one loaded instance."""

    name: str
    device: str = "auto"
    checkpoint: str | None = None
_ENGINES: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make `factory(device, **options)` available as engine `name` (e.g. from a plugin's import)."""
    _ENGINES[name] = factory


def available_engines() -> list[str]:
    _register_builtins()
    return sorted(_ENGINES)


def engine_needs(name: str) -> EngineNeeds:
    """What engine `name` asks the pipeline to prepare, read from its class without loading weights."""
    _register_builtins()
    return getattr(_ENGINES.get(name), "needs", EngineNeeds())


def create_engine(name: str, device: torch.device, **options: Any) -> Engine:
    """Build engine `name` on `device`; an unknown name lists the valid ones."""
    _register_builtins()
    try:
        factory = _ENGINES[name]
    except KeyError:
        raise InputError(
            f"unknown engine {name!r}", hint=f"choose one of: {', '.join(sorted(_ENGINES))}"
        ) from None
    return factory(device, **options)


def _register_builtins() -> None:
    # Imported lazily so that listing engines never pays for a model library it does not use.
    if "warp" not in _ENGINES:
        from heygem_ops.engines.warp import WarpEngine

        register_engine("warp", WarpEngine)
    if "wav2lip" not in _ENGINES:
        from heygem_ops.engines.wav2lip import Wav2LipEngine

        register_engine("wav2lip", Wav2LipEngine)
