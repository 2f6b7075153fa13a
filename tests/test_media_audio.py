"""decode_audio: any format, rate and channel count to float32 mono at the requested rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_factory import AudioTrack, make_audio, make_video, tone

from heygem_ops.errors import EmptyAudioError, NoAudioStreamError, UnreadableMediaError
from heygem_ops.media import decode_audio


def test_wav_at_16k_decodes_exactly(tmp_path: Path) -> None:
    path = make_audio(tmp_path / "a.wav", duration_s=0.5, sample_rate=16000)
    samples = decode_audio(path)
    assert samples.dtype == np.float32 and samples.shape == (8000,)
    np.testing.assert_allclose(samples, tone(0.5, 16000)[0], atol=1 / 16000)


def test_stereo_with_equal_channels_matches_mono(tmp_path: Path) -> None:
    mono = tone(0.3, 16000)
    stereo = np.vstack([mono, mono])
    one = decode_audio(make_audio(tmp_path / "mono.wav", samples=mono, sample_rate=16000))
    two = decode_audio(make_audio(tmp_path / "stereo.wav", samples=stereo, sample_rate=16000))
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "codec"),
    [
        ("a.wav", 8000, 1, None),
        ("b.wav", 48000, 2, "pcm_s24le"),
        ("a.mp3", 44100, 2, None),
        ("a.m4a", 22050, 1, None),
        ("a.flac", 32000, 2, None),
        ("a.ogg", 24000, 1, None),
        ("b.ogg", 48000, 2, None),
    ],
)
def test_formats_rates_and_channels(tmp_path: Path, name: str, rate: int, channels: int, codec: str | None) -> None:
    path = make_audio(tmp_path / name, duration_s=0.5, sample_rate=rate, channels=channels, codec=codec)
    samples = decode_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) / 16000 == pytest.approx(0.5, abs=0.08)  # lossy codecs pad whole frames
    assert 0.2 < np.abs(samples).max() <= 1.0
    assert len(decode_audio(path, sample_rate=8000)) == pytest.approx(len(samples) / 2, abs=2)


@pytest.mark.parametrize(("name", "track"), [("v.mp4", AudioTrack()), ("v.mkv", AudioTrack("flac", 44100, 2))])
def test_audio_track_of_a_video(tmp_path: Path, name: str, track: AudioTrack) -> None:
    samples = decode_audio(make_video(tmp_path / name, frames=25, audio=track))
    assert len(samples) / 16000 == pytest.approx(1.0, abs=0.1)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(NoAudioStreamError):
        decode_audio(make_video(tmp_path / "silent.mp4"))
    with pytest.raises(EmptyAudioError):
        decode_audio(make_audio(tmp_path / "empty.wav", duration_s=0))
    with pytest.raises(UnreadableMediaError):
        decode_audio(tmp_path / "missing.wav")


@pytest.mark.media
def test_real_24bit_48k_stereo(media_dir: Path) -> None:
    samples = decode_audio(media_dir / "sadtalker_japanese.wav")
    assert len(samples) == pytest.approx(9.0924 * 16000, abs=16)
    assert 0.05 < np.abs(samples).max() <= 1.0
