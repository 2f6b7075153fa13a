from fractions import Fraction

import numpy as np

from heygem_ops.audio import SAMPLE_RATE, audio_features


def _tone(seconds: float, frequency: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_level_is_calibrated_in_dbfs():
    features = audio_features(_tone(1.0, 1000.0, 0.5), Fraction(25), 25)
    assert np.allclose(features.energy_db[5:20], 20 * np.log10(0.5), atol=0.3)


def test_activity_follows_sound_and_silence_frame_by_frame():
    audio = np.concatenate([_tone(1.0, 500.0), np.zeros(SAMPLE_RATE, np.float32), _tone(1.0, 500.0, 0.05)])
    features = audio_features(audio, Fraction(25), 75)
    assert features.activity[:20].min() > 0.95
    assert features.activity[30:45].max() == 0.0  # the pause closes the mouth
    assert 0.1 < features.activity[55:70].mean() < 0.9  # a quieter passage opens it less


def test_silent_recording_has_no_activity():
    features = audio_features(np.zeros(SAMPLE_RATE, np.float32), Fraction(30), 30)
    assert features.activity.max() == 0.0
    assert np.isfinite(features.energy_db).all()


def test_brightness_orders_low_and_high_sounds():
    low = audio_features(_tone(0.5, 400.0), Fraction(25), 12).brightness[3:9].mean()
    high = audio_features(_tone(0.5, 3000.0), Fraction(25), 12).brightness[3:9].mean()
    assert low < 0.1 < 0.8 < high


def test_any_frame_rate_gives_one_value_per_frame():
    features = audio_features(_tone(2.0, 700.0), Fraction(1350, 61), 44)
    assert features.frame_count == 44
    assert features.window(10, 20).frame_count == 10
