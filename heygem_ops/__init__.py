"""HeyGem-Ops: lip-sync a template video or portrait to a speech recording.

    >>> from heygem_ops import generate
    >>> result = generate("template.mp4", "speech.wav", "out.mp4")
    >>> result.stage_seconds

The library runs without Prefect, Ray or a GPU; those layers only decide where these same stages run.
"""

from heygem_ops.engines.base import Engine, EngineNeeds, InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import available_engines, create_engine, register_engine
from heygem_ops.errors import (
    CheckpointError,
    EngineError,
    HeyGemError,
    InputError,
    InternalError,
    NoFaceError,
    ResourceError,
)
from heygem_ops.generate import generate
from heygem_ops.options import GenerateOptions
from heygem_ops.results import JobResult

__all__ = [
    "CheckpointError",
    "Engine",
    "EngineError",
    "EngineNeeds",
    "GenerateOptions",
    "HeyGemError",
    "InferenceBatch",
    "InputError",
    "InternalError",
    "JobResult",
    "MouthUpdate",
    "NoFaceError",
    "ResourceError",
    "available_engines",
    "create_engine",
    "generate",
    "register_engine",
]
