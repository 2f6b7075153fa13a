"""Wav2Lip's mel features against an independent librosa computation, and the per-frame windows."""

from __future__ import annotations

from fractions import Fraction

import librosa
import numpy as np
import pytest
import scipy.signal

from heygem_ops.mel import (
    COLUMNS_PER_SECOND,
    SAMPLE_RATE,
    WINDOW_COLUMNS,
    column_count,
    mel_spectrogram,
    mel_windows,
    window_starts,
)


def known_signal(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A 220 Hz tone, a 300 -> 3000 Hz chirp and a little noise: energy in many mel bands, float32."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    chirp = scipy.signal.chirp(t, 300, t[-1], 3000)
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * chirp + 0.01 * noise).astype(np.float32)


def librosa_reference(audio: np.ndarray) -> np.ndarray:
    """The Wav2Lip hparams recipe written with librosa and scipy (librosa 0.7 padded by reflection)."""
    emphasised = scipy.signal.lfilter([1, -0.97], [1], audio)
    spectrum = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    level = 20 * np.log10(np.maximum(1e-5, basis @ spectrum)) - 20
    return np.clip(8 * (level + 100) / 100 - 4, -4, 4)


def test_mel_matches_an_independent_librosa_computation():
    audio = known_signal()
    ours, reference = mel_spectrogram(audio), librosa_reference(audio)
    assert ours.shape == reference.shape == (80, column_count(len(audio)))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert ours.min() >= -4 and ours.max() <= 4 and ours.std() > 0.5


def test_a_pure_tone_lights_its_own_mel_band():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    mel = mel_spectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    centres = librosa.mel_frequencies(n_mels=82, fmin=55, fmax=7600)[1:-1]
    assert abs(centres[int(np.argmax(mel[:, 40]))] - 1000) < 60


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001), Fraction(24), Fraction(50)])
def test_chunk_windows_equal_the_whole_file_windows(fps):
    audio = known_signal(2.0, seed=1)
    whole = mel_spectrogram(audio)
    frames = round(2.0 * float(fps))
    starts = [min(int(i * COLUMNS_PER_SECOND / fps), whole.shape[1] - WINDOW_COLUMNS) for i in range(frames)]
    expected = np.stack([whole[:, s : s + WINDOW_COLUMNS] for s in starts])
    chunks = [mel_windows(audio, fps, a, min(a + 7, frames)) for a in range(0, frames, 7)]
    assert np.array_equal(np.concatenate(chunks), expected)
    assert expected.shape == (frames, 80, 16)


def test_window_starts_follow_wav2lip_and_clamp_at_the_end():
    assert window_starts(np.arange(6), Fraction(25), 1000).tolist() == [0, 3, 6, 9, 12, 16]
    assert window_starts(np.array([0, 1, 2]), Fraction(30000, 1001), 1000).tolist() == [0, 2, 5]
    assert window_starts(np.array([500]), Fraction(25), 100).tolist() == [100 - WINDOW_COLUMNS]


def test_audio_shorter_than_one_window_is_padded_with_silence():
    windows = mel_windows(known_signal(0.05), Fraction(25), 0, 2)
    assert windows.shape == (2, 80, 16)
    assert (windows[:, :, -1] == -4).all()
