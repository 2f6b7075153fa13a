"""The engine interface: what a lip-sync model needs, and the one call that runs it on a batch.

An engine sees small arrays only (landmarks, audio features, at most small face crops) and returns a
`MouthUpdate`; compositing the update into full frames is compose's job. That split keeps the GPU
stage free of full-resolution pixels, so it can live in a remote model host.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from heygem_ops.audio import AudioFeatures

if TYPE_CHECKING:  # torch loads only where a model runs: compose workers start without it
    import torch


@dataclass(frozen=True)
class EngineNeeds:
    """Inputs an engine asks the pipeline to prepare for it.

    crop_size: side in pixels of square face crops per template frame; None for engines that
               work from landmarks alone.
    mel:       whether the engine wants Wav2Lip-style mel windows per output frame.
    device:    whether it runs a torch model and so wants a device chosen (CUDA when there is
               one); False for plain CPU code, which then never loads torch.
    """

    crop_size: int | None = None
    mel: bool = False
    device: bool = True


@dataclass(frozen=True)
class InferenceBatch:
    """One chunk's worth of engine input; N output frames.

    landmarks:   (N, 68, 2) float32 template landmarks for each output frame, NaN where no face.
    features:    audio features of the N output frames.
    mouth_width: the template's typical mouth width (fraction of interocular distance), so every
                 chunk of a job shapes the mouth against the same reference.
    crops:       (N, S, S, 3) uint8 face crops when the engine asked for them.
    mel:         (N, 80, 16) float32 mel windows when the engine asked for them.
    """

    landmarks: np.ndarray
    features: AudioFeatures
    mouth_width: float
    crops: np.ndarray | None = None
    mel: np.ndarray | None = None

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
    """

    present: np.ndarray
    landmarks: np.ndarray | None = None
    activity: np.ndarray | None = None
    patches: np.ndarray | None = None
    boxes: np.ndarray | None = None


class Engine(ABC):
    """A lip-sync model. Weights load in ``__init__`` (once per host); ``__call__`` runs a batch."""

    name: ClassVar[str]
    needs: ClassVar[EngineNeeds] = EngineNeeds()

    def __init__(self, device: torch.device | None) -> None:
        self.device = device  # None for an engine that runs no model (`needs.device` False): the CPU

    @abstractmethod
    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        """Turn one batch of inputs into mouth updates for the same frames."""
