"""Wav2Lip's mel spectrogram, and the 80×16 window of it that drives each video frame.

The recipe is the public Wav2Lip `audio.py` one (librosa 0.7 era), because the released checkpoints
were trained on exactly these numbers: pre-emphasis, a centred reflect-padded STFT with a periodic
Hann window, a Slaney mel filterbank, dB with a −100 dB floor, minus the reference level, then a
symmetric normalisation to ±4 with clipping.

It is computed with NumPy alone (librosa stays a test dependency) and per range of columns: a chunk
of a long job computes only the columns its frames need, straight from the memory-mapped audio,
and still gets exactly the values a whole-file computation would give.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

from heygem_ops.constants import SAMPLE_RATE


def exact_div(x: int, y: int) -> int:
    """x / y, asserting that it divides exactly (constants below must line up with each other)."""
    assert x % y == 0, f"{x} is not a multiple of {y}"
    return x // y


N_FFT = 800  # samples per FFT: 50 ms
WIN_LENGTH = 800  # samples: the Hann window spans the whole FFT
HOP = 200  # samples between columns: 12.5 ms
COLUMNS_PER_SECOND = exact_div(SAMPLE_RATE, HOP)  # 80 mel columns per second of audio
N_MELS = 80
FMIN, FMAX = 55.0, 7600.0  # Hz, edges of the mel filterbank
PREEMPHASIS = 0.97  # y[n] = x[n] - 0.97 x[n-1]
REF_LEVEL_DB = 20.0  # dB subtracted from the mel level
MIN_LEVEL_DB = -100.0  # dB floor (an amplitude of 1e-5)
MAX_ABS_VALUE = 4.0  # normalised values lie in [-4, 4]
WINDOW_COLUMNS = 16  # mel columns per video frame: 0.2 s of audio
BLOCK_COLUMNS = 4096  # columns computed at once for a whole file, bounding memory to ~30 MB


def column_count(n_samples: int) -> int:
    """Mel columns of a signal of `n_samples` (centred frames: one per hop, plus one)."""
    return 1 + n_samples // HOP


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3.0)
    log_step = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `_hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3.0))


@lru_cache(maxsize=1)
def mel_basis() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) float64 triangular filters, area-normalised ("slaney" norm)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2.0, N_FFT // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(FMIN), _hz_to_mel(FMAX), N_MELS + 2))
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    """Periodic Hann window of WIN_LENGTH samples (as used for spectral analysis)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH)


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Map indices outside [0, n) back into it by mirror reflection (edge sample not repeated)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded < n, folded, period - folded)


def _frames(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Pre-emphasised analysis frames of columns [start, stop): (stop - start, N_FFT) float64.

    Column c covers samples c·HOP − N_FFT/2 … c·HOP + N_FFT/2 of the pre-emphasised signal,
    reflected at both ends, which is what a centred reflect-padded STFT sees.
    """
    n = len(audio)
    index = (np.arange(start, stop) * HOP)[:, None] + np.arange(N_FFT)[None, :] - N_FFT // 2
    at = _reflect(index, n)
    current = np.asarray(audio[at.ravel()], dtype=np.float64).reshape(at.shape)
    previous = np.asarray(audio[np.maximum(at - 1, 0).ravel()], dtype=np.float64).reshape(at.shape)
    return current - PREEMPHASIS * np.where(at > 0, previous, 0.0)


def _normalise(mel_amplitude: np.ndarray) -> np.ndarray:
    """Mel amplitudes -> dB relative to REF_LEVEL_DB -> [-MAX_ABS_VALUE, MAX_ABS_VALUE]."""
    floor = 10.0 ** (MIN_LEVEL_DB / 20.0)
    level_db = 20.0 * np.log10(np.maximum(floor, mel_amplitude)) - REF_LEVEL_DB
    scaled = 2.0 * MAX_ABS_VALUE * (level_db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return np.clip(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)


def mel_columns(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Columns [start, stop) of the Wav2Lip mel of 16 kHz mono `audio`: (N_MELS, stop - start) float32.

    `audio` may be a memory map; only the samples these columns need are read.
    """
    if len(audio) == 0:
        raise ValueError("cannot compute a mel spectrogram of an empty signal")
    spectrum = np.abs(np.fft.rfft(_frames(audio, start, stop) * _hann(), n=N_FFT, axis=1))
    return _normalise(mel_basis() @ spectrum.T).astype(np.float32)


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """The whole Wav2Lip mel of 16 kHz mono float `audio`: (N_MELS, column_count(len)) float32."""
    total = column_count(len(audio))
    blocks = [mel_columns(audio, a, min(a + BLOCK_COLUMNS, total)) for a in range(0, total, BLOCK_COLUMNS)]
    return np.concatenate(blocks, axis=1)


def window_starts(frames: np.ndarray, fps: Fraction, total_columns: int) -> np.ndarray:
    """First mel column of each video frame's window: floor(i · 80 / fps), exactly.

    Windows that would run past the end take the last WINDOW_COLUMNS columns, as Wav2Lip does.
    Exact rational arithmetic keeps frame i and column i·80/fps aligned at any frame rate (29.97 too).
    (N,) int frame indices -> (N,) int64 column indices.
    """
    fps = Fraction(fps)
    frames = np.asarray(frames, dtype=np.int64)
    starts = (frames * COLUMNS_PER_SECOND * fps.denominator) // fps.numerator
    return np.clip(starts, 0, max(total_columns - WINDOW_COLUMNS, 0))


def mel_windows(audio: np.ndarray, fps: Fraction, start: int, stop: int) -> np.ndarray:
    """Mel windows of output frames [start, stop) at `fps`: (stop - start, N_MELS, WINDOW_COLUMNS) float32.

    Audio shorter than one window (0.2 s) is padded with silence (the normalised floor, −4).
    """
    total = column_count(len(audio))
    starts = window_starts(np.arange(start, stop), fps, total)
    if len(starts) == 0:
        return np.zeros((0, N_MELS, WINDOW_COLUMNS), dtype=np.float32)
    low, high = int(starts.min()), min(int(starts.max()) + WINDOW_COLUMNS, total)
    columns = mel_columns(audio, low, high)
    if columns.shape[1] < WINDOW_COLUMNS + int(starts.max()) - low:
        pad = WINDOW_COLUMNS + int(starts.max()) - low - columns.shape[1]
        columns = np.pad(columns, ((0, 0), (0, pad)), constant_values=-MAX_ABS_VALUE)
    offsets = (starts - low)[:, None] + np.arange(WINDOW_COLUMNS)[None, :]
    return np.ascontiguousarray(columns[:, offsets].transpose(1, 0, 2))
