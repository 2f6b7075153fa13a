"""iter_frames: exact frame indices (CFR, 1350/61, VFR), seeking, rotation, stills."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_factory import index_frame, make_still, make_video, read_index

from heygem_ops.media import frames as frames_module
from heygem_ops.media import iter_frames, probe_video

FRAMES = 40
SOURCES = {
    "h264-25.mp4": {"codec": "libx264", "fps": Fraction(25)},
    "h264-ntsc.mov": {"codec": "libx264", "fps": Fraction(30000, 1001)},
    "h264-1350_61.mkv": {"codec": "libx264", "fps": Fraction(1350, 61)},
    "vp9.webm": {"codec": "libvpx-vp9", "fps": Fraction(25)},
    "mpeg4.avi": {"codec": "mpeg4", "fps": Fraction(25)},
    "hevc.mp4": {"codec": "libx265", "fps": Fraction(25)},
    "vfr.mp4": {"timestamps_s": [0.04 * i + 0.013 * (i % 3) for i in range(FRAMES)]},
    "vfr.mkv": {"timestamps_s": [0.04 * i + 0.013 * (i % 3) for i in range(FRAMES)]},
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("frames")
    return {
        name: make_video(folder / name, frames=FRAMES, keyframe_interval=8, **options)
        for name, options in SOURCES.items()
        if options.get("codec", "libx264") in av.codecs_available
    }


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_frame_in_order(sources: dict[str, Path], name: str) -> None:
    info = probe_video(sources[name])
    assert [read_index(frame) for frame in iter_frames(info)] == list(range(FRAMES))


@pytest.mark.parametrize("name", list(SOURCES))
def test_start_gives_exactly_that_frame(sources: dict[str, Path], name: str) -> None:
    info = probe_video(sources[name])
    for start in (1, 7, 8, 9, 23, FRAMES - 1):
        assert [read_index(frame) for frame in iter_frames(info, start, start + 2)] == list(
            range(start, min(start + 2, FRAMES))
        )


def test_deep_start_seeks_instead_of_decoding_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = probe_video(make_video(tmp_path / "long.mp4", frames=300, keyframe_interval=10))
    decoded = 0
    real_numbered = frames_module._numbered

    def counting(frames: Iterator[av.VideoFrame], table: np.ndarray) -> Iterator[tuple[int, av.VideoFrame]]:
        nonlocal decoded
        for pair in real_numbered(frames, table):
            decoded += 1
            yield pair

    monkeypatch.setattr(frames_module, "_numbered", counting)
    assert [read_index(frame) for frame in iter_frames(info, 285, 287)] == [285, 286]
    assert decoded < 30


def test_stop_is_clamped_and_empty_ranges_yield_nothing(sources: dict[str, Path]) -> None:
    info = probe_video(sources["h264-25.mp4"])
    assert len(list(iter_frames(info, FRAMES - 3, FRAMES + 50))) == 3
    assert list(iter_frames(info, 5, 5)) == []
    assert list(iter_frames(info, FRAMES + 1)) == []


@pytest.mark.parametrize(("suffix", "rotation"), [(".mp4", 90), (".mov", 270), (".mkv", 270), (".mp4", 180)])
def test_rotated_frames_come_out_upright(tmp_path: Path, suffix: str, rotation: int) -> None:
    info = probe_video(make_video(tmp_path / f"r{suffix}", frames=5, size=(64, 48), rotation=rotation))
    for index, frame in enumerate(iter_frames(info)):
        assert frame.shape == (info.height, info.width, 3) == (48, 64, 3)
        assert frame.flags.c_contiguous
        assert np.abs(frame.astype(int) - index_frame(index, 64, 48)).mean() < 4


def test_odd_sized_frames(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "odd.mp4", frames=3, size=(65, 49), pix_fmt="yuv444p"))
    assert [frame.shape for frame in iter_frames(info)] == [(49, 65, 3)] * 3


def test_timetable_follows_a_rewritten_file(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", frames=5)
    assert probe_video(path).frame_count == 5
    make_video(path, frames=9)
    assert len(list(iter_frames(probe_video(path)))) == 9


@pytest.mark.parametrize(("name", "orientation"), [("p.png", 1), ("p.jpg", 6), ("p.jpg", 3), ("p.webp", 8)])
def test_still_yields_one_upright_picture(tmp_path: Path, name: str, orientation: int) -> None:
    info = probe_video(make_still(tmp_path / name, size=(64, 48), index=37, exif_orientation=orientation))
    frames = list(iter_frames(info))
    assert len(frames) == 1 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert read_index(frames[0]) == 37
    assert np.abs(frames[0].astype(int) - index_frame(37, 64, 48)).mean() < 4
    assert list(iter_frames(info, 1)) == []


@pytest.mark.media
def test_real_portrait_hevc_last_frames(media_dir: Path) -> None:
    info = probe_video(media_dir / "latentsync_demo1_video.mp4")
    frames = list(iter_frames(info, info.frame_count - 2))
    assert [frame.shape for frame in frames] == [(1920, 1080, 3)] * 2
