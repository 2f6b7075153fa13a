"""The inference stage: gather one chunk's engine inputs from its order and run them through a model host."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from heygem_ops.engines.base import InferenceBatch
from heygem_ops.engines.registry import engine_needs
from heygem_ops.face.crops import load_template_crops, take_rows
from heygem_ops.face.prepared import prepared_rows
from heygem_ops.face.track import load_track
from heygem_ops.host import ModelHost
from heygem_ops.mel import mel_windows
from heygem_ops.orders import ChunkInference, ChunkOrder
from heygem_ops.speech import speech_window


def chunk_batch(order: ChunkOrder) -> InferenceBatch:
    """The engine inputs for the output frames of the chunk (small arrays only)."""
    inputs, frames, chunk = order.inputs, order.frames, order.chunk
    landmarks, crops, mel, speech, prepared = load_track(order.track_path).landmarks[frames], None, None, None, None
    needs = engine_needs(order.engine.name)
    if inputs.crops_path is not None:  # a frame whose face is too small to crop counts as faceless
        template_crops = load_template_crops(inputs.crops_path)
        crops = template_crops.take(frames)
        unusable = np.isnan(template_crops.boxes[frames]).any(axis=1)
        landmarks = np.where(unusable[:, None, None], np.float32(np.nan), landmarks)
    if inputs.prepared_path is not None:  # the engine works from its cached preparation, not the pixels
        prepared, crops = take_rows(prepared_rows(inputs.prepared_path), frames), None
    if needs.mel:
        mel = mel_windows(np.load(inputs.audio_16k, mmap_mode="r"), order.fps, chunk.start, chunk.stop)
    if needs.speech is not None:
        speech = speech_window(inputs.audio_16k, order.fps, chunk.start, chunk.stop, needs.speech)
    return InferenceBatch(
        landmarks=landmarks, features=inputs.audio, mouth_width=inputs.mouth_width, crops=crops, mel=mel,
        speech=speech, prepared=prepared, articulation=inputs.articulation,
    )  # fmt: skip


def infer_chunk(order: ChunkOrder, host: ModelHost) -> ChunkInference:
    """Run the job's engine on one chunk and return the mouths compose will draw."""
    started = time.perf_counter()
    update = host.infer(order.engine, chunk_batch(order))
    if update.patches is not None and update.boxes is None and order.inputs.crops_path is not None:
        # an image engine does not know where its patches go: at the boxes the crops were cut from
        boxes = load_template_crops(order.inputs.crops_path).boxes[order.frames]
        update = dataclasses.replace(update, boxes=boxes, blend=order.blend)
    return ChunkInference(order.chunk, update, time.perf_counter() - started)
