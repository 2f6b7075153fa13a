"""The inference stage: gather one chunk's engine inputs and run them through a model host."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from heygem_ops.engines.base import InferenceBatch, MouthUpdate
from heygem_ops.engines.registry import EngineSpec, engine_needs
from heygem_ops.face.crops import load_template_crops, take_rows
from heygem_ops.face.prepared import prepared_rows
from heygem_ops.features import JobFeatures, load_track
from heygem_ops.mel import mel_windows
from heygem_ops.plan import JobPlan
from heygem_ops.speech import speech_window
from heygem_ops.timeline import Chunk

if TYPE_CHECKING:
    from heygem_ops.hosting import ModelHost


def engine_spec(plan: JobPlan) -> EngineSpec:
    return plan.engine


def chunk_batch(plan: JobPlan, features: JobFeatures, chunk: Chunk) -> InferenceBatch:
    """The engine inputs for the output frames of `chunk` (small arrays only)."""
    track = load_track(features.track_path)
    frames = plan.schedule[chunk.start : chunk.stop]
    landmarks, crops, mel, speech, prepared = track.landmarks[frames], None, None, None, None
    needs = engine_needs(plan.options.engine)
    if features.crops_path is not None:  # a frame whose face is too small to crop counts as faceless
        template_crops = load_template_crops(features.crops_path)
        crops = template_crops.take(frames)
        unusable = np.isnan(template_crops.boxes[frames]).any(axis=1)
        landmarks = np.where(unusable[:, None, None], np.float32(np.nan), landmarks)
    if features.prepared_path is not None:  # the engine works from its cached preparation, not the pixels
        prepared, crops = take_rows(prepared_rows(features.prepared_path), frames), None
    if needs.mel:
        mel = mel_windows(np.load(plan.audio_16k, mmap_mode="r"), plan.fps, chunk.start, chunk.stop)
    if needs.speech is not None:
        speech = speech_window(plan.audio_16k, plan.fps, chunk.start, chunk.stop, needs.speech)
    return InferenceBatch(
        landmarks=landmarks,
        features=features.audio.window(chunk.start, chunk.stop),
        mouth_width=features.mouth_width,
        crops=crops,
        mel=mel,
        speech=speech,
        prepared=prepared,
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
    if update.patches is not None and update.boxes is None and features.crops_path is not None:
        # an image engine does not know where its patches go: at the boxes the crops were cut from
        boxes = load_template_crops(features.crops_path).boxes[plan.schedule[chunk.start : chunk.stop]]
        update = dataclasses.replace(update, boxes=boxes, blend=plan.options.parsing_mode)
    return ChunkInference(chunk, update, time.perf_counter() - started)
