"""MuseTalk's audio features: whisper-tiny encoder states of every layer, one window per video frame.

The recording is read in 30-second segments from its start (whisper's fixed input); each segment
gives 1500 positions at 50 per second, each the stack of the embedding and every encoder layer's
output (5 × 384 for tiny). Positions past the end of the speech are zero. Output frame i reads the
WINDOW positions starting at floor(i·50/fps) − 2·ceil(50/fps) (zeros before the start), flattened to
(50, 384) position-major, plus a sinusoidal positional encoding: MuseTalk's recipe, except that the
frame rate is used exactly (MuseTalk truncates it to an integer, which drifts at 29.97 fps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch

from heygem_ops.constants import SAMPLE_RATE

POSITIONS_PER_SECOND = 50  # whisper encoder output rate
SEGMENT_SECONDS = 30  # whisper's input length
SEGMENT = SEGMENT_SECONDS * SAMPLE_RATE  # samples per segment
SEGMENT_POSITIONS = SEGMENT_SECONDS * POSITIONS_PER_SECOND
SAMPLES_PER_POSITION = SAMPLE_RATE // POSITIONS_PER_SECOND
PAD_FRAMES_BEFORE, PAD_FRAMES_AFTER = 2, 2  # MuseTalk's audio_padding_length_left / right
WINDOW = 2 * (PAD_FRAMES_BEFORE + PAD_FRAMES_AFTER + 1)  # 10 positions: 0.2 s


def window_starts(frames: np.ndarray, fps: Fraction) -> np.ndarray:
    """(N,) int64 first encoder position of each output frame's window (may be negative: zeros there)."""
    ratio = Fraction(POSITIONS_PER_SECOND) / Fraction(fps)
    lead = PAD_FRAMES_BEFORE * math.ceil(ratio)
    return np.array([(int(i) * ratio.numerator) // ratio.denominator - lead for i in frames], dtype=np.int64)


def positional_encoding(length: int, dim: int) -> torch.Tensor:
    """(length, dim) float32 sinusoids: sin on even channels, cos on odd, wavelengths up to 10000."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


def segment_states(
    segments: list[np.ndarray], features: Callable, encoder: torch.nn.Module, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(S, 1500, L, D) encoder states of every layer for S segments of ≤ 30 s (float32 samples)."""
    mel = features(segments, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
    states = encoder(mel.to(device=device, dtype=dtype), output_hidden_states=True).hidden_states
    return torch.stack(states, dim=2)


def frame_windows(states: dict[int, torch.Tensor], starts: np.ndarray, total: int) -> torch.Tensor:
    """(N, WINDOW·L, D) windows from per-segment states {segment index: (1500, L, D)}.

    `total` samples of speech: positions at or past floor(total / 320) are zero, as are negative ones.
    """
    some = next(iter(states.values()))
    valid = total // SAMPLES_PER_POSITION
    positions = starts[:, None] + np.arange(WINDOW)[None, :]  # (N, WINDOW)
    out = torch.zeros((*positions.shape, *some.shape[1:]), dtype=some.dtype, device=some.device)
    inside = (positions >= 0) & (positions < valid)
    for segment in np.unique(positions[inside] // SEGMENT_POSITIONS):
        hit = inside & (positions // SEGMENT_POSITIONS == segment)
        rows, cols = (torch.from_numpy(index).to(some.device) for index in np.nonzero(hit))
        local = torch.from_numpy(positions[hit] - segment * SEGMENT_POSITIONS).to(some.device)
        out[rows, cols] = states[int(segment)][local]
    return out.flatten(1, 2)


def needed_segments(starts: np.ndarray, total: int) -> list[int]:
    """Indices of the 30-s segments whose positions the windows starting at `starts` read."""
    valid = total // SAMPLES_PER_POSITION
    positions = (starts[:, None] + np.arange(WINDOW)[None, :]).ravel()
    positions = positions[(positions >= 0) & (positions < valid)]
    return sorted({int(p) // SEGMENT_POSITIONS for p in positions})
