"""The segment encoder option: HEYGEM_ENCODER=auto|libx264|h264_nvenc.

On a machine without NVENC (CI, laptops) auto must fall back to libx264 and write the same segments as
before, libx264 by name must work, and h264_nvenc by name must fail at once with FFmpeg's reason and the
fix, leaving no file behind. On a machine where NVENC opens, auto must take it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_factory import index_frame, make_audio, read_index

from heygem_ops import generate
from heygem_ops.errors import InputError
from heygem_ops.media import SegmentWriter, decode_audio, iter_frames, probe_video
from heygem_ops.media.segments import choose_encoder, encoder_options, nvenc_failure
from heygem_ops.settings import get_settings

NO_NVENC = nvenc_failure() is not None
needs_no_nvenc = pytest.mark.skipif(not NO_NVENC, reason="h264_nvenc opens on this machine")


def write_segment(path: Path, encoder: str, frames: int = 6) -> SegmentWriter:
    with SegmentWriter(path, 64, 48, Fraction(25), preset="ultrafast", encoder=encoder) as writer:
        for index in range(frames):
            writer.write(index_frame(index, 64, 48))
    return writer


def assert_frames_read_back(path: Path, frames: int) -> None:
    info = probe_video(path)
    assert (info.width, info.height, info.frame_count) == (64, 48, frames)
    for index, frame in enumerate(iter_frames(info)):
        assert read_index(frame) == index
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_libx264_by_name_writes_a_segment(tmp_path: Path) -> None:
    writer = write_segment(tmp_path / "seg.mp4", "libx264")
    assert writer.encoder_name == "libx264"
    assert_frames_read_back(tmp_path / "seg.mp4", 6)


@needs_no_nvenc
def test_auto_falls_back_to_libx264_without_nvenc(tmp_path: Path) -> None:
    writer = write_segment(tmp_path / "seg.mp4", "auto")
    assert writer.encoder_name == "libx264"
    assert_frames_read_back(tmp_path / "seg.mp4", 6)
    with av.open(str(tmp_path / "seg.mp4")) as container:  # x264 signs its first picture (an SEI message)
        assert b"x264 - core" in bytes(next(container.demux(video=0)))


@needs_no_nvenc
def test_nvenc_by_name_without_nvenc_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="h264_nvenc was asked for but does not open") as caught:
        write_segment(tmp_path / "seg.mp4", "h264_nvenc")
    assert nvenc_failure() in str(caught.value)  # FFmpeg's own reason, e.g. "Cannot load libcuda.so.1"
    assert "HEYGEM_ENCODER=auto" in str(caught.value) and "libx264" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(NO_NVENC, reason=f"h264_nvenc does not open here: {nvenc_failure()}")
def test_auto_takes_nvenc_where_it_opens(tmp_path: Path) -> None:
    writer = write_segment(tmp_path / "seg.mp4", "auto")
    assert writer.encoder_name == "h264_nvenc"
    assert_frames_read_back(tmp_path / "seg.mp4", 6)


def test_unknown_encoder_names_the_choices() -> None:
    with pytest.raises(InputError, match="auto, libx264, h264_nvenc"):
        choose_encoder("x265")


def test_nvenc_options_follow_the_x264_preset_and_crf() -> None:
    assert encoder_options("h264_nvenc", "ultrafast", 23, 4) == {"preset": "p1", "tune": "hq", "rc": "vbr", "cq": "23"}
    assert encoder_options("h264_nvenc", "veryslow", 0, 0)["preset"] == "p7"
    assert encoder_options("h264_nvenc", "medium", 0, 0)["cq"] == "1"  # cq 0 would mean NVENC's own default
    assert encoder_options("libx264", "veryfast", 18, 2) == {"preset": "veryfast", "crf": "18", "threads": "2"}


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().encoder == "libx264"
    monkeypatch.setenv("HEYGEM_ENCODER", "auto")
    get_settings.cache_clear()
    assert get_settings().encoder == "auto"
    monkeypatch.setenv("HEYGEM_ENCODER", "nvenc")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="HEYGEM_ENCODER='nvenc'"):
        get_settings()


def test_segments_of_both_encoders_hold_the_same_pictures(tmp_path: Path) -> None:
    """auto writes what libx264 writes here, so outputs made before the option existed do not change."""
    write_segment(tmp_path / "x264.mp4", "libx264")
    write_segment(tmp_path / "auto.mp4", "auto")
    first = [frame.astype(int) for frame in iter_frames(probe_video(tmp_path / "x264.mp4"))]
    second = [frame.astype(int) for frame in iter_frames(probe_video(tmp_path / "auto.mp4"))]
    tolerance = 0 if NO_NVENC else 12  # NVENC is another encoder: close, not equal
    assert max(float(np.abs(a - b).mean()) for a, b in zip(first, second, strict=True)) <= tolerance


@pytest.mark.media
@needs_no_nvenc
def test_a_job_told_to_use_nvenc_without_it_fails_clearly(media_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """HEYGEM_ENCODER reaches the segments, in the compose workers too, and the job fails with the reason."""
    monkeypatch.setenv("HEYGEM_ENCODER", "h264_nvenc")
    monkeypatch.setenv("HEYGEM_QA", "0")
    get_settings.cache_clear()
    speech = decode_audio(media_dir / "sadtalker_bus_chinese.wav", 16000)[:16000]
    audio = make_audio(tmp_path / "speech.wav", samples=speech[None], sample_rate=16000)
    with pytest.raises(InputError, match="h264_nvenc was asked for but does not open"):
        generate(media_dir / "sadtalker_WDA_KatieHill_000.mp4", audio, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
