"""The engine interface: what a lip-sync model needs, and the one call that runs it on a batch.

An engine sees small arrays only (landmarks, audio features, at most small face crops) and returns a
`MouthUpdate`; compositing the update into full frames is compose's job. That split keeps the GPU
stage free of full-resolution pixels, so it can live in a remote model host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from heygem_ops.articulation.analysis import ArticulationTrack
from heygem_ops.audio import AudioFeatures

if TYPE_CHECKING:  # torch loads only where a model runs: compose workers start without it
    import torch


@dataclass(frozen=True)
class SpeechNeeds:
    """Raw speech an engine wants around each batch, in whole segments aligned to the recording's start.

    segment:  samples (16 kHz) per segment: the engine's audio model reads whole segments (whisper: 30 s).
    before_s, after_s: how far before a batch's first frame and after its last the engine's
              per-frame windows reach, in seconds.
    """

    segment: int
    before_s: float
    after_s: float


@dataclass(frozen=True)
class SpeechWindow:
    """The whole segments of the job's 16 kHz speech that cover one batch (see `SpeechNeeds`).

    samples:     float32 samples from `offset` on (a whole number of segments; the last may be short).
    offset:      index in the job's speech of samples[0]; a multiple of the segment length.
    total:       samples in the job's whole speech.
    fps:         output frame rate.
    first_frame: output frame index of the batch's first frame.
    """

    samples: np.ndarray
    offset: int
    total: int
    fps: Fraction
    first_frame: int


@dataclass(frozen=True)
class EngineNeeds:
    """Inputs an engine asks the pipeline to prepare for it.

    crop_size: side in pixels of face crops per template frame; None for engines that work from
               landmarks alone.
    crop_box:  which box rule cuts the crops (`face.crops.BOX_RULES`): "wav2lip" or "musetalk".
    mel:       whether the engine wants Wav2Lip-style mel windows per output frame.
    speech:    raw speech segments around each batch, for engines with their own audio model.
    prepares:  whether the engine precomputes per-crop arrays (`Engine.prepare`), cached with the
               template's crops, so later jobs on the template skip that work.
    weights:   "file" for engines loading one checkpoint file (`--checkpoint`), "folder" for a
               set of files (`--checkpoint-dir`), None for engines without weights.
    articulation: whether it wants the speech's articulation track (`heygem_ops.articulation`) per frame.
    mouths:    whether its landmark targets may be drawn with the template's own mouths (`heygem_ops.mouths`)
               rather than by moving the shown frame's lips alone.
    device:    whether it runs a torch model and so wants a device chosen (CUDA when there is
               one); False for plain CPU code, which then never loads torch.
    """

    crop_size: int | None = None
    crop_box: str = "wav2lip"
    mel: bool = False
    speech: SpeechNeeds | None = None
    prepares: bool = False
    weights: str | None = None
    device: bool = True
    articulation: bool = False
    mouths: bool = False


@dataclass(frozen=True)
class InferenceBatch:
    """One chunk's worth of engine input; N output frames.

    landmarks:   (N, 68, 2) float32 template landmarks for each output frame, NaN where no face.
    features:    audio features of the N output frames.
    mouth_width: the template's typical mouth width (fraction of interocular distance), so every
                 chunk of a job shapes the mouth against the same reference.
    crops:       (N, S, S, 3) uint8 face crops when the engine asked for them.
    mel:         (N, 80, 16) float32 mel windows when the engine asked for them.
    speech:      the speech segments around the batch, when the engine asked for them.
    prepared:    (N, ...) the engine's own `prepare` output for each frame's crop, from the cache.
    articulation: what the mouth articulates at the N output frames, when the engine asked for it.
    """

    landmarks: np.ndarray
    features: AudioFeatures
    mouth_width: float
    crops: np.ndarray | None = None
    mel: np.ndarray | None = None
    speech: SpeechWindow | None = None
    prepared: np.ndarray | None = None
    articulation: ArticulationTrack | None = None

    @property
    def size(self) -> int:
        return len(self.landmarks)


@dataclass(frozen=True)
class MouthUpdate:
    """What compose must change in the N frames of a chunk.

    present:   (N,) bool, frames that get a new mouth; others pass through untouched.
    landmarks: (N, 68, 2) float32 target landmarks (landmark-driven engines such as warp).
    activity:  (N,) float32 0..1 how open the synthesised mouth interior should look.
    patches:   (N, S, S, 3) uint8 generated face crops (image engines such as Wav2Lip),
    boxes:     (N, 4) float32 x0, y0, x1, y1 where each patch goes in the template frame.
    blend:     where in the face a patch is blended in (`compose.paste.BLEND_REGIONS`): the job's choice.
    """

    present: np.ndarray
    landmarks: np.ndarray | None = None
    activity: np.ndarray | None = None
    patches: np.ndarray | None = None
    boxes: np.ndarray | None = None
    blend: str = "jaw"


class Engine(ABC):
    """A lip-sync model. Weights load in ``__init__`` (once per host); ``__call__`` runs a batch."""

    name: ClassVar[str]
    needs: ClassVar[EngineNeeds] = EngineNeeds()

    def __init__(self, device: torch.device | None) -> None:
        self.device = device  # None for an engine that runs no model (`needs.device` False): the CPU

    @abstractmethod
    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        """Turn one batch of inputs into mouth updates for the same frames."""

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 template crops -> (N, ...) arrays that `__call__` finds in `batch.prepared`.

        Only engines whose `needs.prepares` is True implement it (MuseTalk: the crops' VAE latents).
        """
        raise NotImplementedError(f"engine {self.name!r} prepares nothing")

    @classmethod
    def weight_files(cls, checkpoint_dir: Path) -> tuple[Path, ...]:
        """The files of a weights folder that change the output (hashed into job ids); engines with one."""
        return ()
