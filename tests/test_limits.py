"""Issue 7.5: configurable limits on input duration, resolution and file size.

Each limit is read from the environment (HEYGEM_MAX_DURATION_S, HEYGEM_MAX_PIXELS,
HEYGEM_MAX_FILE_MB), enforced in the decode stage before any heavy work (no audio decoded, no
frame decoded, no scratch folder), and refused with a `LimitExceededError` whose message names the
file, the limit and the setting that raises it.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from media_factory import make_audio, make_random_bytes, make_still, make_video

from heygem_ops import generate
from heygem_ops import plan as plan_module
from heygem_ops.errors import LimitExceededError
from heygem_ops.media import probe as probe_module
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import plan_job
from heygem_ops.settings import get_settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch):
    """Set HEYGEM_<NAME>=value for this test."""

    def set_limit(name: str, value: object) -> None:
        monkeypatch.setenv(f"HEYGEM_{name}", str(value))
        get_settings.cache_clear()

    return set_limit


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("heavy work started before the limit was checked")


@pytest.fixture
def no_heavy_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the decode stage decodes the recording or hashes a file (probing is allowed)."""
    monkeypatch.setattr(plan_module, "decode_audio", _forbidden)
    monkeypatch.setattr(plan_module, "file_digest", _forbidden)


@pytest.fixture
def no_decoding(no_heavy_work: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """As `no_heavy_work`, and not a single frame or picture decoded either."""
    monkeypatch.setattr(probe_module, "_first_frame_rotation", _forbidden)
    monkeypatch.setattr(probe_module, "load_still", _forbidden)


def _plan(template: Path, audio: Path, folder: Path):
    return plan_job(template, audio, folder / "out.mp4", GenerateOptions())


def _assert_names(error: LimitExceededError, path: Path, setting: str, *words: str) -> None:
    text = str(error)
    assert path.name in text and f"raise {setting}" in text, text
    for word in words:
        assert word in text, text
    assert not get_settings().resolved_work_dir.exists() or not any(get_settings().resolved_work_dir.iterdir())


def test_recording_longer_than_the_limit(tmp_path: Path, limit, no_heavy_work) -> None:
    limit("MAX_DURATION_S", 1.5)
    audio = make_audio(tmp_path / "long.wav", duration_s=2.0)
    with pytest.raises(LimitExceededError) as caught:
        _plan(make_video(tmp_path / "t.mp4", frames=10), audio, tmp_path)
    _assert_names(caught.value, audio, "HEYGEM_MAX_DURATION_S", "lasts 2.0 s", "1.5 s limit")


def test_template_longer_than_the_limit(tmp_path: Path, limit, no_heavy_work) -> None:
    limit("MAX_DURATION_S", 1)
    template = make_video(tmp_path / "long.mp4", frames=50, fps=25)
    with pytest.raises(LimitExceededError) as caught:
        _plan(template, make_audio(tmp_path / "a.wav", duration_s=0.5), tmp_path)
    _assert_names(caught.value, template, "HEYGEM_MAX_DURATION_S", "lasts 2.0 s", "1 s limit")


def test_durations_at_the_limit_pass(tmp_path: Path, limit) -> None:
    limit("MAX_DURATION_S", 2)
    plan = _plan(make_video(tmp_path / "t.mp4", frames=50), make_audio(tmp_path / "a.wav", duration_s=2.0), tmp_path)
    assert plan.frame_count == 50


def test_decoding_stops_at_the_limit_whatever_the_header_says(tmp_path: Path) -> None:
    audio = make_audio(tmp_path / "a.wav", duration_s=3.0)
    with pytest.raises(LimitExceededError, match="more than 1 s of sound") as caught:
        decode_audio(audio, 16000, max_seconds=1.0)
    assert "HEYGEM_MAX_DURATION_S" in str(caught.value)
    assert len(decode_audio(audio, 16000, max_seconds=3.0)) == 48000


def test_video_frame_over_the_pixel_limit(tmp_path: Path, limit, no_decoding) -> None:
    limit("MAX_PIXELS", 64 * 48 - 1)
    template = make_video(tmp_path / "big.mp4", size=(64, 48))
    with pytest.raises(LimitExceededError) as caught:
        _plan(template, make_audio(tmp_path / "a.wav"), tmp_path)
    _assert_names(caught.value, template, "HEYGEM_MAX_PIXELS", "3072 pixels", "3071 limit")


def test_rotated_video_is_measured_as_shown(tmp_path: Path, limit) -> None:
    limit("MAX_PIXELS", 64 * 48)
    plan = _plan(make_video(tmp_path / "r.mp4", size=(64, 48), rotation=90), make_audio(tmp_path / "a.wav"), tmp_path)
    assert (plan.template.width, plan.template.height) == (64, 48)


def test_still_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path, limit, no_decoding) -> None:
    limit("MAX_PIXELS", 1000)
    template = make_still(tmp_path / "p.jpg", size=(64, 48), exif_orientation=6)
    with pytest.raises(LimitExceededError) as caught:
        _plan(template, make_audio(tmp_path / "a.wav"), tmp_path)
    _assert_names(caught.value, template, "HEYGEM_MAX_PIXELS", "3072 pixels", "1000 limit")


def test_default_limits_scale_a_large_still_and_refuse_a_bomb_before_decoding(tmp_path: Path) -> None:
    """A still over the working pixel limit is scaled (issue 13), so only the decode guard can refuse it."""
    audio = make_audio(tmp_path / "a.wav", duration_s=0.1)
    with pytest.raises(LimitExceededError) as caught:
        _plan(_png_header_only(tmp_path / "huge.png", 12000, 12000), audio, tmp_path)
    assert "over the 128000000 limit" in str(caught.value) and "HEYGEM_MAX_DECODE_PIXELS" in str(caught.value)
    with pytest.raises(Exception) as truncated:  # past the limit checks: the (empty) picture fails to decode
        _plan(_png_header_only(tmp_path / "dci.png", 4096, 2160), audio, tmp_path)
    assert not isinstance(truncated.value, LimitExceededError)


def test_decompression_bomb_is_a_limit_not_a_crash(tmp_path: Path, limit) -> None:
    limit("MAX_PIXELS", 10**10)  # above Pillow's own guard: that one must still hold, as a clear error
    bomb = _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(LimitExceededError, match="too large to decode safely") as caught:
        _plan(bomb, make_audio(tmp_path / "a.wav"), tmp_path)
    assert "bomb.png" in str(caught.value)


def test_file_over_the_size_limit_is_refused_before_it_is_opened(tmp_path: Path, limit, no_decoding) -> None:
    limit("MAX_FILE_MB", 0.01)  # 10 KiB
    big = make_random_bytes(tmp_path / "big.mp4", size=64 * 1024)  # not even media: the size is checked first
    with pytest.raises(LimitExceededError) as caught:
        _plan(big, make_audio(tmp_path / "a.wav", duration_s=0.1), tmp_path)
    _assert_names(caught.value, big, "HEYGEM_MAX_FILE_MB", "0.01 MiB limit")


def test_recording_over_the_size_limit(tmp_path: Path, limit, no_decoding) -> None:
    limit("MAX_FILE_MB", 0.05)
    audio = make_audio(tmp_path / "long.wav", duration_s=3.0)  # 96 KB of 16-bit samples
    with pytest.raises(LimitExceededError) as caught:
        _plan(make_video(tmp_path / "t.mp4", frames=5), audio, tmp_path)
    _assert_names(caught.value, audio, "HEYGEM_MAX_FILE_MB", "0.05 MiB limit")


def test_a_job_over_a_limit_fails_with_no_output(tmp_path: Path, limit) -> None:
    limit("MAX_DURATION_S", 0.5)
    output = tmp_path / "out" / "o.mp4"
    output.parent.mkdir()
    with pytest.raises(LimitExceededError) as caught:
        generate(make_video(tmp_path / "t.mp4"), make_audio(tmp_path / "a.wav", duration_s=1.0), output)
    assert caught.value.kind == "LimitExceededError" and "HEYGEM_MAX_DURATION_S" in str(caught.value)
    assert list(output.parent.iterdir()) == []


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares `width` x `height` but holds a single empty row: Pillow reads the size, not pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [b"IHDR" + header, b"IDAT" + zlib.compress(b"\0"), b"IEND"]
    body = b"".join(struct.pack(">I", len(c) - 4) + c + struct.pack(">I", zlib.crc32(c)) for c in chunks)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path
