"""Engines by name: the built-in ones, plus any a third party registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heygem_ops.engines.base import Engine, EngineNeeds
from heygem_ops.registry import LazyRegistry

if TYPE_CHECKING:
    import torch

EngineFactory = Callable[..., Engine]


@dataclass(frozen=True)
class EngineSpec:
    """Which engine to run where: the key under which a host keeps one loaded instance."""

    name: str
    device: str = "auto"
    checkpoint: str | None = None  # weights file, for engines whose `needs.weights` is "file"
    checkpoint_dir: str | None = None  # weights folder, for engines whose `needs.weights` is "folder"

    def weight_options(self) -> dict[str, str]:
        """The weights argument the engine takes (`needs.weights`), when one is set."""
        kind = engine_needs(self.name).weights
        if kind == "file" and self.checkpoint:
            return {"checkpoint": self.checkpoint}
        if kind == "folder" and self.checkpoint_dir:
            return {"checkpoint_dir": self.checkpoint_dir}
        return {}


# Built-in engines by module, imported on first use: a warp job never loads torch for Wav2Lip's sake.
_ENGINES: LazyRegistry[EngineFactory] = LazyRegistry(
    "engine",
    {
        "warp": ("heygem_ops.engines.warp", "WarpEngine"),
        "wav2lip": ("heygem_ops.engines.wav2lip", "Wav2LipEngine"),
        "musetalk": ("heygem_ops.engines.musetalk", "MuseTalkEngine"),
    },
)


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make `factory(device, **options)` available as engine `name` (e.g. from a plugin's import)."""
    _ENGINES.register(name, factory)


def available_engines() -> list[str]:
    return _ENGINES.names()


def engine_needs(name: str) -> EngineNeeds:
    """What engine `name` asks the pipeline to prepare, read from its class without loading weights."""
    return getattr(_ENGINES.find(name), "needs", EngineNeeds())


def engine_weight_files(name: str, checkpoint_dir: str | Path) -> tuple[Path, ...]:
    """The files of a weights folder that engine `name` loads (see `Engine.weight_files`)."""
    files = getattr(_ENGINES.find(name), "weight_files", None)
    return tuple(files(Path(checkpoint_dir))) if files else ()


def create_engine(name: str, device: torch.device | None, **options: Any) -> Engine:
    """Build engine `name` on `device`; an unknown name lists the valid ones."""
    return _ENGINES.get(name)(device, **options)
