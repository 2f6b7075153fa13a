"""Audio features aligned to output video frames: how loud the speech is and how it sounds.

All features are computed from 16 kHz mono float32 audio (`media.decode_audio`) and come back as
one value per output frame, so engines and quality metrics index them like video frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from heygem_ops.constants import SAMPLE_RATE

HOP = 160  # samples: 10 ms between analysis frames
WINDOW = 400  # samples: 25 ms analysis window
SPEECH_BAND = (300.0, 3400.0)  # Hz: where vowel formants carry the energy that moves the jaw
SILENCE_DBFS = -55.0  # band level below which a frame counts as silence, whatever the recording
SMOOTH_MS = 50  # half-width of the triangular window that samples features at a frame
DYNAMIC_RANGE_DB = 30.0  # span mapped onto 0..1 speech activity below the recording's loud level
# Parseval for a windowed one-sided spectrum: a full-scale sine then reads 0 dBFS.
_PARSEVAL = WINDOW * float((np.hanning(WINDOW) ** 2).sum()) / 4.0


@dataclass(frozen=True)
class AudioFeatures:
    """Per-output-frame description of the driving audio.

    energy_db:  (F,) float32 speech-band level in dBFS (≈ -100 for digital silence).
    activity:   (F,) float32 in [0, 1]: 0 silent, 1 as loud as this recording's loud speech.
    brightness: (F,) float32 in [0, 1]: spectral centroid within the speech band; high for
                spread vowels (/i/, /e/) and fricatives, low for rounded ones (/u/, /o/).
    """

    energy_db: np.ndarray
    activity: np.ndarray
    brightness: np.ndarray

    @property
    def frame_count(self) -> int:
        return len(self.energy_db)

    def window(self, start: int, stop: int) -> AudioFeatures:
        """The features of output frames [start, stop)."""
        return AudioFeatures(self.energy_db[start:stop], self.activity[start:stop], self.brightness[start:stop])


def analysis_frames(audio: np.ndarray) -> np.ndarray:
    """(N,) samples -> (T, WINDOW) float32 frames, one per 10 ms hop, centred on the hop (a view).

    The one framing of the audio analyses here and in `heygem_ops.articulation`, so their rows line up.
    """
    padded = np.pad(audio.astype(np.float32), (WINDOW // 2, WINDOW // 2))
    count = max(1, 1 + (len(padded) - WINDOW) // HOP)
    if len(padded) < WINDOW:
        padded = np.pad(padded, (0, WINDOW - len(padded)))
    return np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP][:count]


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(N,) float32 samples -> (T, WINDOW // 2 + 1) power, one row per 10 ms hop, centred frames."""
    spectrum = np.fft.rfft(analysis_frames(audio) * np.hanning(WINDOW).astype(np.float32), axis=1)
    return (np.abs(spectrum) ** 2).astype(np.float32)


def band_level_db(power: np.ndarray) -> np.ndarray:
    """(T, bins) power rows -> (T,) speech-band level in dBFS, unsmoothed (a full-scale sine reads 0)."""
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    return 10.0 * np.log10(power[:, band].sum(axis=1) / _PARSEVAL + 1e-10)


def _at_frames(values: np.ndarray, fps: Fraction, n_frames: int) -> np.ndarray:
    """Sample 10 ms analysis rows at each output frame's centre, over a ±SMOOTH_MS triangle.

    The triangle spans more than one 40 ms video frame on purpose: lips move with the syllable,
    not with every 10 ms flicker of the signal. (T,) -> (n_frames,) float64.
    """
    half = SMOOTH_MS // 10
    kernel = np.bartlett(2 * half + 3)[1:-1]
    smoothed = np.convolve(values, kernel / kernel.sum(), mode="same")
    centres = np.floor((np.arange(n_frames) + 0.5) * (SAMPLE_RATE / HOP) / float(fps)).astype(np.int64)
    return smoothed[np.clip(centres, 0, len(values) - 1)]


def audio_features(audio: np.ndarray, fps: Fraction, n_frames: int) -> AudioFeatures:
    """Describe 16 kHz mono `audio` once per output frame at `fps` (n_frames frames)."""
    power = power_spectrogram(audio)
    freqs = np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    band_power = _at_frames(power[:, band].sum(axis=1) / _PARSEVAL, fps, n_frames)
    weighted = _at_frames((power[:, band] * freqs[band]).sum(axis=1) / _PARSEVAL, fps, n_frames)
    energy_db = 10.0 * np.log10(band_power + 1e-10)
    centroid = weighted / np.maximum(band_power, 1e-12)
    brightness = (centroid - SPEECH_BAND[0]) / (SPEECH_BAND[1] - SPEECH_BAND[0])
    return AudioFeatures(
        energy_db=energy_db.astype(np.float32),
        activity=speech_activity(energy_db).astype(np.float32),
        brightness=np.clip(brightness, 0.0, 1.0).astype(np.float32),
    )


def speech_activity(energy_db: np.ndarray) -> np.ndarray:
    """Map levels onto 0..1 relative to this recording's loud speech, with an absolute silence floor.

    Relative, so a quiet and a loud recording of the same words drive the same mouth; floored, so
    a silent recording or a pause reads 0 rather than its own noise stretched to full scale.
    """
    voiced = energy_db[energy_db > SILENCE_DBFS]
    if voiced.size == 0:
        return np.zeros_like(energy_db)
    loud = max(float(np.percentile(voiced, 95)), SILENCE_DBFS + 10.0)
    floor = max(loud - DYNAMIC_RANGE_DB, SILENCE_DBFS)
    return np.clip((energy_db - floor) / (loud - floor), 0.0, 1.0)
