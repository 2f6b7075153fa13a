"""The inference stage: gather one chunk's engine inputs and run them through a model host."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heygem_ops.engines.base import InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec
from heygem_ops.features import JobFeatures, load_track
from heygem_ops.plan import JobPlan
from heygem_ops.timeline import Chunk

if TYPE_CHECKING:
    from heygem_ops.hosting import ModelHost


def engine_spec(plan: JobPlan) -> EngineSpec:
    options = plan.options
    return EngineSpec(options.engine, options.device, options.checkpoint)


def chunk_batch(plan: JobPlan, features: JobFeatures, chunk: Chunk) -> InferenceBatch:
    """The engine inputs for the output frames of `chunk` (small arrays only)."""
    track = load_track(features.track_path)
    frames = plan.schedule[chunk.start : chunk.stop]
    return InferenceBatch(
        landmarks=track.landmarks[frames],
        features=features.audio.window(chunk.start, chunk.stop),
        mouth_width=features.mouth_width,
    )


@dataclass(frozen=True)
class ChunkInference:
    """An engine's answer for one chunk, with the seconds it took (batch building included)."""

    chunk: Chunk
    update: MouthUpdate
    seconds: float


def infer_chunk(plan: JobPlan, features: JobFeatures, chunk: Chunk, host: ModelHost) -> ChunkInference:
    """Run the job's engine on one chunk and return the mouths compose will draw."""
    started = time.perf_counter()
    update = host.infer(engine_spec(plan), chunk_batch(plan, features, chunk))
    return ChunkInference(chunk, update, time.perf_counter() - started)

