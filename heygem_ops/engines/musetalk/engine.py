"""The `musetalk` engine: MuseTalk 1.5 latent inpainting of a 256×256 face in one UNet pass.

Per face: the crop with its lower half blacked out and the crop itself are encoded by the SD VAE
(4×32×32 latents each, the posterior's mean times the VAE's scaling factor), concatenated to 8
channels; the UNet runs once at timestep 0 with the frame's whisper window as its cross-attention
states, and the VAE decodes its 4 channels back to the face. The template's latents depend only on
its crops, so the pipeline asks for them once per template (`prepare`, MuseTalk's "avatar
preparation") and caches them; a job then only runs whisper, the UNet and the decoder.

GPU first: the networks live on the chosen device in fp16 on CUDA (fp32 on request, bf16 too),
batches are sized from free GPU memory and halved on out-of-memory. On the CPU everything runs in
fp32, slowly, which is enough for tests.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from heygem_ops.engines.base import Engine, EngineNeeds, InferenceBatch, MouthUpdate, SpeechNeeds, SpeechWindow
from heygem_ops.engines.batching import DTYPES, Batches, choose_precision, fit_batch, upload
from heygem_ops.engines.musetalk.audio import (
    SEGMENT,
    WINDOW,
    frame_windows,
    needed_segments,
    positional_encoding,
    segment_states,
    window_starts,
)
from heygem_ops.engines.musetalk.checkpoint import LATENT_CHANNELS, load_musetalk
from heygem_ops.engines.musetalk.layout import DOWNLOAD, locate
from heygem_ops.errors import CheckpointError, EngineError
from heygem_ops.i18n import Message
from heygem_ops.logs import get_logger
from heygem_ops.settings import get_settings

log = get_logger(__name__)

FACE_SIZE = 256  # px: MuseTalk's crop
CPU_BATCH = 4  # faces per forward on the CPU
MAX_BATCH = 256
BYTES_PER_FACE = {"fp32": 1024 * 2**20, "fp16": 512 * 2**20, "bf16": 512 * 2**20}  # VAE decode peak, generous
SEGMENTS_KEPT = 8  # whisper states of this many 30-s segments stay on the device (chunks share segments)
LOOK_BEFORE_S = 5.0  # a frame's whisper window starts up to 2·ceil(50/fps) positions earlier: 4 s at 0.5 fps
LOOK_AFTER_S = 0.5  # and ends at most 0.2 s after the frame


def resolve_checkpoint_dir(checkpoint_dir: str | Path | None) -> Path:
    """The models folder to load: the one given, else HEYGEM_MUSETALK_DIR."""
    chosen = checkpoint_dir or get_settings().musetalk_dir
    if not chosen:
        raise CheckpointError(
            "the musetalk engine needs its weights folder",
            hint="pass --checkpoint-dir DIR or set HEYGEM_MUSETALK_DIR; {download}",
            download=Message(DOWNLOAD, where=""),
        )
    return Path(chosen).expanduser()


class MuseTalkEngine(Engine):
    """Lip sync by MuseTalk 1.5; weights from MuseTalk's models folder (see `layout`)."""

    name = "musetalk"
    needs = EngineNeeds(
        crop_size=FACE_SIZE,
        crop_box="musetalk",
        speech=SpeechNeeds(SEGMENT, LOOK_BEFORE_S, LOOK_AFTER_S),
        prepares=True,
        weights="folder",
    )

    def __init__(
        self,
        device: torch.device | None = None,
        checkpoint_dir: str | Path | None = None,
        precision: str = "auto",
        batch_size: int | None = None,
    ) -> None:
        super().__init__(device or torch.device("cpu"))
        self.checkpoint_dir = resolve_checkpoint_dir(checkpoint_dir)
        self.precision = choose_precision(precision, self.device)
        self.dtype = DTYPES[self.precision]
        models = load_musetalk(self.checkpoint_dir)
        self.unet, self.vae, self.whisper = (
            model.to(self.device, self.dtype) for model in (models.unet, models.vae, models.whisper)
        )
        self.features = models.features
        self.scale = float(self.vae.config.scaling_factor)
        layers = self.whisper.config.encoder_layers + 1  # the embedding and every layer
        self.positions = positional_encoding(WINDOW * layers, self.whisper.config.d_model).to(self.device, self.dtype)
        size = batch_size or fit_batch(self.device, BYTES_PER_FACE[self.precision], CPU_BATCH, MAX_BATCH)
        self.batches = Batches(self.device, size, "MuseTalk")
        self._segments: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()  # one forward at a time: chunks of a job call from several threads
        log.info("MuseTalk 1.5 from %s on %s, %s, batch %d", self.checkpoint_dir, self.device, self.precision, size)

    @classmethod
    def weight_files(cls, checkpoint_dir: Path) -> tuple[Path, ...]:
        return locate(checkpoint_dir).weights

    @property
    def batch_size(self) -> int:
        return self.batches.batch_size

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """(N, 256, 256, 3) uint8 RGB crops -> (N, 8, 32, 32) float16 latents: masked crop, then crop."""
        with self._lock, torch.inference_mode():
            out = self.batches.run(len(crops), lambda rows: self._encode(crops[rows]))
        return np.concatenate(out) if out else np.zeros((0, 2 * LATENT_CHANNELS, 32, 32), dtype=np.float16)

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        faces = upload(crops, self.device).permute(0, 3, 1, 2).to(self.dtype).div_(255.0)  # (B, 3, 256, 256) RGB 0..1
        masked = faces.clone()
        masked[:, :, FACE_SIZE // 2 :] = 0.0  # the lower half is what the UNet must draw
        both = torch.cat((masked, faces)).mul_(2.0).sub_(1.0)  # VAE input range -1..1
        latents = self.vae.encode(both).latent_dist.mean * self.scale
        masked_latents, reference = latents.chunk(2)
        return torch.cat((masked_latents, reference), dim=1).to(torch.float16).cpu().numpy()

    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        """Patches (N, 256, 256, 3) uint8 RGB for the frames with a face; compose adds where they go."""
        if batch.speech is None or (batch.prepared is None and batch.crops is None):
            raise EngineError("the musetalk engine got no speech or no face crops", hint="this is a bug; report it")
        present = ~np.isnan(batch.landmarks).any(axis=(1, 2))
        patches = np.zeros((batch.size, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
        if present.any():
            latents = batch.prepared[present] if batch.prepared is not None else self.prepare(batch.crops[present])
            frames = batch.speech.first_frame + np.flatnonzero(present)
            patches[present] = self.generate(latents, batch.speech, frames)
        return MouthUpdate(present=present, patches=patches)

    def generate(self, latents: np.ndarray, speech: SpeechWindow, frames: np.ndarray) -> np.ndarray:
        """(M, 8, 32, 32) latents of the template crops + speech -> (M, 256, 256, 3) uint8 RGB faces
        for output frames `frames`; in batches of `batch_size`, halved on out-of-memory."""
        with self._lock, torch.inference_mode():
            audio = self.audio_windows(speech, frames)
            out = self.batches.run(len(latents), lambda rows: self._forward(latents[rows], audio[rows]))
        return np.concatenate(out) if out else np.zeros((0, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)

    def audio_windows(self, speech: SpeechWindow, frames: np.ndarray) -> torch.Tensor:
        """(M, 50, 384) whisper windows of output frames `frames`, without the positional encoding."""
        starts = window_starts(frames, speech.fps)
        wanted = needed_segments(starts, speech.total)
        pieces = {index: self._segment_samples(speech, index) for index in wanted}
        keys = {
            index: hashlib.blake2b(samples.tobytes(), digest_size=16).hexdigest() for index, samples in pieces.items()
        }
        fresh = [index for index in wanted if keys[index] not in self._segments]
        if fresh:
            states = segment_states([pieces[i] for i in fresh], self.features, self.whisper, self.device, self.dtype)
            for index, state in zip(fresh, states, strict=True):
                self._segments[keys[index]] = state
        for index in wanted:
            self._segments.move_to_end(keys[index])
        while len(self._segments) > max(SEGMENTS_KEPT, len(wanted)):
            self._segments.popitem(last=False)
        if not wanted:  # every window lies outside the speech: silence
            width = (self.whisper.config.encoder_layers + 1) * WINDOW
            return torch.zeros((len(frames), width, self.whisper.config.d_model), device=self.device, dtype=self.dtype)
        return frame_windows({index: self._segments[keys[index]] for index in wanted}, starts, speech.total)

    @staticmethod
    def _segment_samples(speech: SpeechWindow, index: int) -> np.ndarray:
        start = index * SEGMENT - speech.offset
        if start < 0 or start >= len(speech.samples):
            raise EngineError(
                "speech segment {index} was not sent with the batch (it starts at sample {offset})",
                index=index,
                offset=speech.offset,
                hint="this is a bug; report it",
            )
        return speech.samples[start : start + SEGMENT]

    def _forward(self, latents: np.ndarray, audio: torch.Tensor) -> np.ndarray:
        """One batch: UNet at timestep 0 on the latents with the audio as encoder states, then decode."""
        inputs = upload(latents, self.device).to(self.dtype)
        states = audio + self.positions
        timestep = torch.zeros((), device=self.device, dtype=torch.long)
        predicted = self.unet(inputs, timestep, encoder_hidden_states=states).sample
        image = self.vae.decode(predicted / self.scale).sample
        pixels = image.float().div_(2.0).add_(0.5).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def _digest(samples: np.ndarray) -> str:
    """Content key of a speech segment: the same audio gives the same whisper states, whichever job sent it."""
    return hashlib.blake2b(samples.tobytes(), digest_size=16).hexdigest()
