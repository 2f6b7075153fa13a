"""Short template clips and speech-like recordings made from one real portrait, for batch tests.

Each clip slowly pans and zooms the portrait, so every template is distinct content (its own hash)
while keeping a real face the tracker can follow.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from heygem_ops.audio import SAMPLE_RATE


def make_face_clip(path: Path, portrait: Path, *, frames: int = 25, size: int = 256, seed: int = 0) -> Path:
    """An H.264 clip of `frames` frames at 25 fps, a drifting crop of `portrait`."""
    image = Image.open(portrait).convert("RGB")
    width, height = image.size
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.85, 0.95)
    crop = int(min(width, height) * scale)
    start = rng.uniform(0, min(width, height) - crop, 2)
    drift = rng.uniform(-0.3, 0.3, 2)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options={"preset": "ultrafast"})
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            x, y = np.clip(start + drift * index, 0, min(width, height) - crop)
            picture = image.crop((int(x), int(y), int(x) + crop, int(y) + crop)).resize((size, size))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate bursts of voiced sound with pauses: drives a mouth like speech does. float32 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = rng.uniform(110, 220)
    voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)), 0, None) ** 2
    return (0.2 * voice * syllables).astype(np.float32)


def make_speech(path: Path, seconds: float, seed: int = 0) -> Path:
    """A mono 16 kHz WAV of `speech_like` sound."""
    return write_wav(path, speech_like(seconds, seed))


def write_wav(path: Path, speech: np.ndarray) -> Path:
    """A mono 16 kHz 16-bit WAV of float samples in [-1, 1]."""
    samples = (np.clip(speech, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
