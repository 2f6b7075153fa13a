"""Language-independent acoustics of articulation, one row per 10 ms: formants, voicing, level.

The first formant rises as the jaw opens; the second is high for front (spread) vowels and low for
back ones, and lip rounding lowers both the second and the third. These hold in every language, so
they steer the mouth where the phone recogniser (English) cannot be trusted. Formants come from
LPC: the resonances of an all-pole model of each voiced frame, found as the roots of its polynomial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heygem_ops.audio import WINDOW, analysis_frames, band_level_db, power_spectrogram
from heygem_ops.constants import SAMPLE_RATE

LPC_ORDER = 14  # poles: two per kHz of the 8 kHz band, minus two (a glottal/lip-radiation pair is pre-emphasised away)
PRE_EMPHASIS = 0.97  # flattens the voice's -6 dB/octave tilt so the higher formants are found
MAX_BANDWIDTH_HZ = 500.0  # wider resonances are the spectrum's slope, not a formant
PITCH_RANGE_HZ = (70.0, 400.0)  # fundamental frequencies a speaking voice uses
VOICED = 0.45  # normalised autocorrelation at the pitch period above which a frame is voiced
MURMUR_HZ = 500.0  # below this the closed-lips hum of a nasal keeps its energy
# Where each formant is looked for (Hz): the lowest root in a range, above the previous formant.
_RANGES = ((200.0, 1100.0), (600.0, 2900.0), (1700.0, 3800.0))


@dataclass(frozen=True)
class Acoustics:
    """Per 10 ms analysis row (T rows, `audio.HOP` apart, centred like `audio.power_spectrogram`).

    formants: (T, 3) float32 F1..F3 in Hz, NaN where a frame is unvoiced or a formant was not found.
    voicing:  (T,) float32 0..1 normalised autocorrelation at the pitch period (periodicity).
    level_db: (T,) float32 speech-band level in dBFS (300-3400 Hz).
    low_share: (T,) float32 share of the energy below MURMUR_HZ: near 1 in a nasal murmur.
    """

    formants: np.ndarray
    voicing: np.ndarray
    level_db: np.ndarray
    low_share: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return self.voicing >= VOICED


def lpc(frames: np.ndarray, order: int = LPC_ORDER) -> np.ndarray:
    """(T, W) windowed frames -> (T, order + 1) prediction polynomials [1, a1, ...] (Levinson-Durbin).

    All frames are solved together: the recursion runs over the order, not over the frames.
    """
    spectrum = np.fft.rfft(frames, n=2 * frames.shape[1], axis=1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : order + 1]
    r[:, 0] = r[:, 0] * (1.0 + 1e-9) + 1e-12  # white-noise floor: silent frames stay solvable
    a = np.zeros((len(frames), order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        k = -(a[:, :i] * r[:, i:0:-1]).sum(axis=1) / error
        a[:, 1 : i + 1] = a[:, 1 : i + 1] + k[:, None] * a[:, i - 1 :: -1][:, :i]
        error = error * (1.0 - k**2)
    return a


def _roots_to_formants(polynomials: np.ndarray) -> np.ndarray:
    """(T, order + 1) LPC polynomials -> (T, 3) formant frequencies (Hz), NaN where none fits."""
    order = polynomials.shape[1] - 1
    companion = np.zeros((len(polynomials), order, order))
    companion[:, 0, :] = -polynomials[:, 1:]
    companion[:, np.arange(1, order), np.arange(order - 1)] = 1.0
    roots = np.linalg.eigvals(companion)  # batched: the roots of every frame's polynomial at once
    freq = np.angle(roots) * SAMPLE_RATE / (2.0 * np.pi)
    bandwidth = -np.log(np.maximum(np.abs(roots), 1e-9)) * SAMPLE_RATE / np.pi
    usable = (freq > 90.0) & (bandwidth < MAX_BANDWIDTH_HZ)
    freq = np.sort(np.where(usable, freq, np.inf), axis=1)
    out = np.full((len(polynomials), 3), np.nan)
    floor = np.zeros(len(polynomials))
    for slot, (low, high) in enumerate(_RANGES):
        candidates = np.where((freq >= np.maximum(low, floor + 150.0)[:, None]) & (freq <= high), freq, np.inf)
        found = candidates.min(axis=1)
        out[:, slot] = np.where(np.isfinite(found), found, np.nan)
        floor = np.where(np.isfinite(found), found, floor)
    return out


def _voicing(frames: np.ndarray) -> np.ndarray:
    """(T, W) frames -> (T,) normalised autocorrelation peak within the speaking pitch range."""
    centred = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * frames.shape[1], axis=1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)
    lo, hi = int(SAMPLE_RATE / PITCH_RANGE_HZ[1]), int(SAMPLE_RATE / PITCH_RANGE_HZ[0])
    overlap = (frames.shape[1] - np.arange(lo, hi)) / frames.shape[1]  # unbiased: long lags overlap less
    peak = (r[:, lo:hi] / overlap[None, :]).max(axis=1)
    return np.clip(peak / np.maximum(r[:, 0], 1e-12), 0.0, 1.0)


def acoustics(audio: np.ndarray) -> Acoustics:
    """Formants, voicing, level and murmur of 16 kHz mono `audio`, one row per 10 ms."""
    frames = analysis_frames(audio).astype(np.float64)
    power = power_spectrogram(audio)
    level = band_level_db(power)
    voicing = _voicing(frames)
    emphasised = np.concatenate([frames[:, :1], frames[:, 1:] - PRE_EMPHASIS * frames[:, :-1]], axis=1)
    formants = np.full((len(frames), 3), np.nan)
    voiced = (voicing >= VOICED) & (level > -60.0)
    if voiced.any():
        formants[voiced] = _roots_to_formants(lpc(emphasised[voiced] * np.hamming(WINDOW)))
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)
    low = power[:, (freqs > 60.0) & (freqs < MURMUR_HZ)].sum(axis=1)
    total = power[:, freqs > 60.0].sum(axis=1)
    return Acoustics(
        formants=formants.astype(np.float32),
        voicing=voicing.astype(np.float32),
        level_db=level.astype(np.float32),
        low_share=(low / np.maximum(total, 1e-12)).astype(np.float32),
    )
