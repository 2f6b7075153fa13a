"""The `wav2lip` engine: the Wav2Lip generator on 96×96 face crops and 80×16 mel windows.

GPU first: the model and every input live on the chosen device; CUDA runs under fp16 autocast
(fp32 on request) with channels-last tensors, batches as large as free GPU memory allows and halves
the batch on out-of-memory, and copies inputs from pinned host memory without blocking. Crops go up
and patches come back as uint8, so the bus carries a quarter of the bytes. On the CPU it runs in
fp32 at the batch size that measured fastest. BatchNorm is folded into the convolutions after the
strict checkpoint load: the same numbers with fewer kernels.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from heygem_ops.engines.base import Engine, EngineNeeds, InferenceBatch, MouthUpdate
from heygem_ops.engines.batching import DTYPES, Batches, choose_precision, fit_batch, upload
from heygem_ops.engines.wav2lip.checkpoint import GET_WEIGHTS, load_wav2lip
from heygem_ops.engines.wav2lip.model import FACE_SIZE, MEL_BINS, MEL_STEPS, Wav2Lip
from heygem_ops.errors import CheckpointError, EngineError
from heygem_ops.i18n import Message
from heygem_ops.logs import get_logger
from heygem_ops.settings import get_settings

log = get_logger(__name__)

CPU_BATCH = 32  # faces per forward on the CPU: throughput measured flat from here up, memory is not
MAX_BATCH = 512
BYTES_PER_FACE = {"fp32": 32 * 2**20, "fp16": 16 * 2**20, "bf16": 16 * 2**20}  # peak activations, generous


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """The weights file to load: the one given, else HEYGEM_WAV2LIP_CHECKPOINT."""
    chosen = checkpoint or get_settings().wav2lip_checkpoint
    if not chosen:
        raise CheckpointError(
            "the wav2lip engine needs a checkpoint",
            hint="pass --checkpoint PATH or set HEYGEM_WAV2LIP_CHECKPOINT; {weights}",
            weights=Message(GET_WEIGHTS),
        )
    return Path(chosen).expanduser()


def initial_batch_size(device: torch.device, precision: str) -> int:
    """Faces per forward: CPU_BATCH on the CPU; on a GPU what half its free memory holds (power of two)."""
    return fit_batch(device, BYTES_PER_FACE[precision], CPU_BATCH, MAX_BATCH)


class Wav2LipEngine(Engine):
    """Lip sync by the Wav2Lip generator; weights from a public `wav2lip*.pth` checkpoint."""

    name = "wav2lip"
    needs = EngineNeeds(crop_size=FACE_SIZE, mel=True, weights="file")

    def __init__(
        self,
        device: torch.device | None = None,
        checkpoint: str | Path | None = None,
        precision: str = "auto",
        batch_size: int | None = None,
    ) -> None:
        super().__init__(device or torch.device("cpu"))
        self.checkpoint = resolve_checkpoint(checkpoint)
        self.precision = choose_precision(precision, self.device)
        self.model = self._place(load_wav2lip(self.checkpoint).fuse_batchnorm())
        self.batches = Batches(self.device, batch_size or initial_batch_size(self.device, self.precision), "Wav2Lip")
        self._lock = threading.Lock()  # one forward at a time: chunks of a job call from several threads
        log.info("Wav2Lip %s on %s, %s, batch %d", self.checkpoint.name, self.device, self.precision, self.batch_size)

    def _place(self, model: Wav2Lip) -> Wav2Lip:
        model = model.to(self.device)
        if self.device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        return model

    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        """Patches (N, 96, 96, 3) uint8 RGB for the frames with a face; compose adds where they go."""
        if batch.crops is None or batch.mel is None:
            raise EngineError("the wav2lip engine got no face crops or mel windows", hint="this is a bug; report it")
        present = ~np.isnan(batch.landmarks).any(axis=(1, 2))
        patches = np.zeros((batch.size, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
        if present.any():
            patches[present] = self.generate(batch.crops[present], batch.mel[present])
        return MouthUpdate(present=present, patches=patches)

    @property
    def batch_size(self) -> int:
        return self.batches.batch_size

    @batch_size.setter
    def batch_size(self, size: int) -> None:
        self.batches.batch_size = size

    def generate(self, crops: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """(N, 96, 96, 3) uint8 RGB crops + (N, 80, 16) float32 mel windows -> (N, 96, 96, 3) uint8 RGB.

        Runs in batches of `batch_size`; an out-of-memory error halves it (for this and every later
        call) and retries the same faces, down to one face at a time.
        """
        with self._lock, torch.inference_mode():
            out = self.batches.run(len(crops), lambda rows: self._forward(crops[rows], mels[rows]))
        return np.concatenate(out) if out else np.zeros((0, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)

    def _forward(self, crops: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """One batch through the network; pre- and post-processing run on the device."""
        faces = upload(crops, self.device)  # (B, 96, 96, 3) uint8 RGB
        audio = upload(mels.astype(np.float32, copy=False), self.device).reshape(-1, 1, MEL_BINS, MEL_STEPS)
        reference = faces.permute(0, 3, 1, 2).flip(1).float().div_(255.0)  # RGB -> BGR, as in training
        masked = reference.clone()
        masked[:, :, FACE_SIZE // 2 :] = 0.0  # the network must draw the lower half from the audio
        inputs = torch.cat((masked, reference), dim=1)
        if self.device.type == "cuda":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            predicted = self.model(audio, inputs)
        pixels = predicted.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
        return pixels.flip(1).permute(0, 2, 3, 1).contiguous().cpu().numpy()

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.precision == "fp32":
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=DTYPES[self.precision]):
            yield
