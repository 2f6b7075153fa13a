"""publish_video: remux concat, AAC audio, faststart, atomic publication and its failures."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import av
import pytest
from media_factory import index_frame, make_audio, read_index

from heygem_ops import atomic as atomic_module
from heygem_ops.errors import InternalError, OutputPathError, ResourceError, UnreadableMediaError
from heygem_ops.media import SegmentWriter, aac_rate, iter_frames, probe_audio, probe_video, publish_video

FPS = Fraction(30000, 1001)
PER_SEGMENT = 8


def _segments(folder: Path, count: int = 3, size: tuple[int, int] = (64, 48)) -> list[Path]:
    """`count` segments of PER_SEGMENT frames; frame i of the whole shows index i."""
    folder.mkdir(exist_ok=True)
    paths = []
    for k in range(count):
        paths.append(folder / f"seg{k}.mp4")
        with SegmentWriter(paths[-1], *size, FPS) as writer:
            for index in range(k * PER_SEGMENT, (k + 1) * PER_SEGMENT):
                writer.write(index_frame(index, *size))
    return paths


def _top_level_boxes(path: Path) -> list[str]:
    """The MP4 top-level box types in file order."""
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        offset += size if size else len(data)
    return boxes


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (16000, 1)])
def test_concat_three_segments_with_audio(tmp_path: Path, rate: int, channels: int) -> None:
    segments = _segments(tmp_path / "work")
    audio = make_audio(tmp_path / "work" / "speech.wav", duration_s=1.5, sample_rate=rate, channels=channels)
    duration_s = 3 * PER_SEGMENT / float(FPS) - 0.01
    output = tmp_path / "out" / "job.mp4"
    output.parent.mkdir()
    publish_video(segments, audio, output, fps=FPS, duration_s=duration_s)

    assert os.listdir(output.parent) == ["job.mp4"]
    info = probe_video(output)
    assert (info.frame_count, info.fps, info.codec) == (3 * PER_SEGMENT, FPS, "h264")
    assert [read_index(frame) for frame in iter_frames(info)] == list(range(3 * PER_SEGMENT))
    sound = probe_audio(output)
    assert (sound.codec, sound.sample_rate, sound.channels) == ("aac", rate, channels)
    assert abs(sound.duration_s - duration_s) < 1 / FPS
    with av.open(str(output)) as container:
        assert abs(container.duration / av.time_base - duration_s) < 1 / FPS
    boxes = _top_level_boxes(output)
    assert boxes.index("moov") < boxes.index("mdat")


def test_aac_rate_keeps_supported_rates_up_to_48k() -> None:
    assert [aac_rate(r) for r in (8000, 16000, 44100, 48000, 96000, 37800)] == [8000, 16000, 44100, 48000, 48000, 44100]


def test_missing_segment_leaves_no_output(tmp_path: Path) -> None:
    segments = _segments(tmp_path, count=2)
    audio = make_audio(tmp_path / "speech.wav")
    output = tmp_path / "out.mp4"
    output.write_bytes(b"previous result")
    with pytest.raises(UnreadableMediaError, match=r"missing\.mp4"):
        publish_video([*segments, tmp_path / "missing.mp4"], audio, output, fps=FPS, duration_s=0.5)
    assert output.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "seg0.mp4", "seg1.mp4", "speech.wav"]


def test_mismatched_segments_are_refused(tmp_path: Path) -> None:
    segments = _segments(tmp_path / "a", count=1) + _segments(tmp_path / "b", count=1, size=(32, 24))
    with pytest.raises(InternalError, match="other settings"):
        publish_video(segments, make_audio(tmp_path / "s.wav"), tmp_path / "out.mp4", fps=FPS, duration_s=0.5)
    assert not (tmp_path / "out.mp4").exists()


def test_missing_output_folder(tmp_path: Path) -> None:
    segments = _segments(tmp_path, count=1)
    with pytest.raises(OutputPathError) as caught:
        publish_video(segments, make_audio(tmp_path / "s.wav"), tmp_path / "nope" / "o.mp4", fps=FPS, duration_s=0.2)
    assert caught.value.path == str(tmp_path / "nope")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path: Path) -> None:
    segments = _segments(tmp_path / "work", count=1)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputPathError, match="not writable"):
        publish_video(segments, make_audio(tmp_path / "s.wav"), locked / "o.mp4", fps=FPS, duration_s=0.2)


def test_disk_full_is_a_retryable_resource_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    segments = _segments(tmp_path / "work", count=1)
    audio = make_audio(tmp_path / "work" / "s.wav")
    output = tmp_path / "out" / "o.mp4"
    output.parent.mkdir()

    def full(handle: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "fsync", full)
    with pytest.raises(ResourceError, match="disk full"):
        publish_video(segments, audio, output, fps=FPS, duration_s=0.2)
    assert list(output.parent.iterdir()) == []


def test_published_files_get_the_usual_permissions(tmp_path):
    from heygem_ops.atomic import write_atomically

    target = tmp_path / "shared.bin"
    write_atomically(target, b"data")
    expected = 0o666 & ~_current_umask()
    assert target.stat().st_mode & 0o777 == expected  # not mkstemp's private 0600


def _current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
