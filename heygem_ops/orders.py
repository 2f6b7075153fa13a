"""What travels for one chunk: its work order, the engine's answer, and the rendered segment.

A job's plan and features are cut into one `ChunkOrder` per chunk, once, before any chunk runs
(`features.chunk_orders`). Inference and compose take an order, never the whole plan or the whole
audio: an order is what gets pickled to a compose worker or a Ray task, so it holds the chunk's own
slices and paths only. A new per-frame input of the engine is one field of `ChunkInputs` and one
slice in `chunk_orders`; a new cache file the chunk reads is one path field.

This module is a leaf of the library: it describes data and imports no stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.articulation.analysis import ArticulationTrack
from heygem_ops.audio import AudioFeatures
from heygem_ops.engines.base import MouthUpdate
from heygem_ops.engines.registry import EngineSpec
from heygem_ops.media.probe import VideoInfo
from heygem_ops.media.segments import EncodeSettings
from heygem_ops.mouths.select import MouthPath
from heygem_ops.quality.chunk import ChunkQuality
from heygem_ops.timeline import Chunk


@dataclass(frozen=True)
class ChunkInputs:
    """The engine's inputs for the N output frames of one chunk, beyond the template's face track.

    audio:       audio features of the chunk's N output frames (a window of the job's).
    mouth_width: the template's typical mouth width, so every chunk shapes against the same reference.
    audio_16k:   the job's 16 kHz speech (.npy), for engines that cut their own windows (mel).
    crops_path:  the template's cached face crops, None unless the engine asks for crops.
    prepared_path: the engine's cached preparation of those crops (`face.prepared`), when it prepares.
    articulation: the articulation of the chunk's N output frames, for engines that ask for it.
    bank_path:   the template's cached mouth bank (`mouths.bank`), when the job draws banked mouths...
    mouths:      ...and which banked mouth each of the chunk's N output frames shows (`mouths.select`).
    """

    audio: AudioFeatures
    mouth_width: float
    audio_16k: Path
    crops_path: Path | None = None
    prepared_path: Path | None = None
    articulation: ArticulationTrack | None = None
    bank_path: Path | None = None
    mouths: MouthPath | None = None


@dataclass(frozen=True)
class ChunkOrder:
    """Everything inference and compose need for one chunk; small (its slices and paths only).

    frames:   (N,) int32 template frame shown at each output frame of the chunk.
    video:    the template, whose frames compose decodes next to the encoder.
    progress_key, job_frames: where the chunk reports rendered frames (`progress.board`), of how many.
    qa:       measure the output's mouth and pixels while composing (`quality.chunk.ChunkMeter`).
    blend:    where an image engine's patches are blended in (`compose.paste.BLEND_REGIONS`).
    """

    job_id: str
    chunk: Chunk
    frames: np.ndarray
    video: VideoInfo
    fps: Fraction
    encode: EncodeSettings
    work_dir: Path
    track_path: Path
    engine: EngineSpec
    inputs: ChunkInputs
    progress_key: str
    job_frames: int
    qa: bool = False
    blend: str = "jaw"

    @property
    def segment_path(self) -> Path:
        return self.work_dir / "segments" / f"{self.chunk.index:06d}.mp4"


@dataclass(frozen=True)
class ChunkInference:
    """An engine's answer for one chunk, with the seconds it took (batch building included)."""

    chunk: Chunk
    update: MouthUpdate
    seconds: float


@dataclass(frozen=True)
class Segment:
    """A rendered chunk: its video file, frames, and the seconds compose spent on it (0 if reused).

    quality: what compose measured on the way when the job asked for QA (None: not measured).
    """

    path: Path
    frames: int
    seconds: float
    quality: ChunkQuality | None = None
