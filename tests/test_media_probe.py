"""probe_video / probe_audio over containers, codecs, rates, rotations, stills and broken files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
from media_factory import (
    AudioTrack,
    make_audio,
    make_random_bytes,
    make_still,
    make_truncated,
    make_video,
    make_zero_byte,
)

from heygem_ops.errors import EmptyAudioError, NoAudioStreamError, NoVideoStreamError, UnreadableMediaError
from heygem_ops.media import probe_audio, probe_video

VIDEO_CASES = [
    ("h264.mp4", "libx264", Fraction(25), "h264"),
    ("h264.mov", "libx264", Fraction(30000, 1001), "h264"),
    ("h264.mkv", "libx264", Fraction(1350, 61), "h264"),
    ("vp9.webm", "libvpx-vp9", Fraction(25), "vp9"),
    ("mpeg4.avi", "mpeg4", Fraction(25), "mpeg4"),
    ("hevc.mp4", "libx265", Fraction(30000, 1001), "hevc"),
]


@pytest.mark.parametrize(("name", "codec", "fps", "expected_codec"), VIDEO_CASES)
def test_probe_video_reads_codec_rate_count_and_size(
    tmp_path: Path, name: str, codec: str, fps: Fraction, expected_codec: str
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this PyAV build")
    info = probe_video(make_video(tmp_path / name, frames=17, fps=fps, codec=codec, size=(64, 48)))
    assert (info.width, info.height, info.frame_count) == (64, 48, 17)
    assert info.fps == fps
    assert info.codec == expected_codec
    assert info.duration_s == pytest.approx(17 / fps, abs=0.002)
    assert (info.rotation, info.is_still, info.has_audio) == (0, False, False)


@pytest.mark.parametrize(("suffix", "rotation"), [(".mp4", 90), (".mov", 270), (".mkv", 90), (".mp4", 180)])
def test_probe_video_applies_rotation_metadata(tmp_path: Path, suffix: str, rotation: int) -> None:
    info = probe_video(make_video(tmp_path / f"r{suffix}", size=(64, 48), rotation=rotation))
    assert info.rotation == rotation
    assert (info.width, info.height) == (64, 48)  # displayed size; stored frames are 48x64 for 90/270


def test_probe_video_vfr_counts_frames_and_averages_rate(tmp_path: Path) -> None:
    stamps = [0.0, 0.04, 0.1, 0.13, 0.3, 0.31, 0.5]
    for suffix in (".mp4", ".mkv"):
        info = probe_video(make_video(tmp_path / f"vfr{suffix}", timestamps_s=stamps))
        assert info.frame_count == 7
        assert float(info.fps) == pytest.approx(7 / info.duration_s, rel=0.01)


def test_probe_video_odd_size_and_audio_track(tmp_path: Path) -> None:
    path = make_video(tmp_path / "odd.mp4", size=(65, 49), pix_fmt="yuv444p", audio=AudioTrack())
    info = probe_video(path)
    assert (info.width, info.height, info.has_audio) == (65, 49, True)


@pytest.mark.parametrize(("name", "orientation", "rotation"), [("p.png", 1, 0), ("p.jpg", 6, 90), ("p.webp", 8, 270)])
def test_probe_still(tmp_path: Path, name: str, orientation: int, rotation: int) -> None:
    info = probe_video(make_still(tmp_path / name, size=(64, 48), exif_orientation=orientation), Fraction(30))
    assert (info.is_still, info.frame_count, info.fps, info.rotation) == (True, 1, Fraction(30), rotation)
    assert (info.width, info.height) == (64, 48)


def test_probe_still_by_content_not_extension(tmp_path: Path) -> None:
    picture = make_still(tmp_path / "p.png")
    disguised = tmp_path / "portrait.mp4"
    picture.rename(disguised)
    assert probe_video(disguised).is_still


@pytest.mark.parametrize(
    ("name", "rate", "channels", "codec"),
    [
        ("a.wav", 8000, 1, "pcm_s16le"),
        ("a.mp3", 44100, 2, "mp3"),
        ("a.m4a", 22050, 1, "aac"),
        ("a.flac", 48000, 2, "flac"),
        ("a.ogg", 48000, 1, "opus"),
    ],
)
def test_probe_audio_formats(tmp_path: Path, name: str, rate: int, channels: int, codec: str) -> None:
    info = probe_audio(make_audio(tmp_path / name, duration_s=0.5, sample_rate=rate, channels=channels))
    assert (info.sample_rate, info.channels, info.codec) == (rate, channels, codec)
    assert info.duration_s == pytest.approx(0.5, abs=0.06)  # codecs pad to whole frames


def test_probe_audio_of_a_video_track(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mkv", frames=20, audio=AudioTrack("flac", 44100, 2))
    info = probe_audio(path)
    assert (info.sample_rate, info.channels, info.codec) == (44100, 2, "flac")
    assert info.duration_s == pytest.approx(0.8, abs=0.05)


@pytest.mark.parametrize("probe", [probe_video, probe_audio])
@pytest.mark.parametrize("make", ["zero", "random", "truncated", "missing"])
def test_broken_files_are_unreadable(tmp_path: Path, probe: object, make: str) -> None:
    path = tmp_path / "broken.mp4"
    if make == "zero":
        make_zero_byte(path)
    elif make == "random":
        make_random_bytes(path)
    elif make == "truncated":
        make_truncated(path, make_video(tmp_path / "whole.mp4", frames=20, audio=AudioTrack()))
    with pytest.raises(UnreadableMediaError) as caught:
        probe(path)
    assert caught.value.path == str(path)
    assert caught.value.hint
    assert make == "missing" or isinstance(caught.value.__cause__, av.FFmpegError)


def test_audio_file_as_template_has_no_video(tmp_path: Path) -> None:
    with pytest.raises(NoVideoStreamError, match="no video stream"):
        probe_video(make_audio(tmp_path / "speech.mp3"))


def test_silent_video_as_recording_has_no_audio(tmp_path: Path) -> None:
    with pytest.raises(NoAudioStreamError):
        probe_audio(make_video(tmp_path / "silent.mp4"))


@pytest.mark.parametrize("duration_s", [0.0, 0.02])
def test_empty_or_too_short_recording(tmp_path: Path, duration_s: float) -> None:
    with pytest.raises(EmptyAudioError):
        probe_audio(make_audio(tmp_path / "empty.wav", duration_s=duration_s))


@pytest.mark.media
def test_real_clips(media_dir: Path) -> None:
    video = probe_video(media_dir / "latentsync_demo1_video.mp4")
    assert (video.codec, video.width, video.height, video.fps, video.frame_count) == ("hevc", 1080, 1920, 25, 250)
    assert video.has_audio
    speech = probe_audio(media_dir / "sadtalker_japanese.wav")
    assert (speech.codec, speech.sample_rate, speech.channels) == ("pcm_s24le", 48000, 2)
    assert speech.duration_s == pytest.approx(9.09, abs=0.01)
