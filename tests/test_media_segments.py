"""SegmentWriter: even sizes, keyframe first, nothing left behind on failure."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_factory import index_frame, read_index

from heygem_ops.errors import InternalError
from heygem_ops.media import SegmentWriter, iter_frames, output_size, probe_video


def test_output_size_rounds_down_to_even() -> None:
    assert output_size(65, 49) == (64, 48)
    assert output_size(64, 48) == (64, 48)


def test_odd_frames_are_cropped_to_even(tmp_path: Path) -> None:
    path = tmp_path / "seg.mp4"
    with SegmentWriter(path, 65, 49, Fraction(30000, 1001)) as writer:
        for index in range(6):
            writer.write(index_frame(index, 65, 49))
    info = probe_video(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (64, 48, 6, Fraction(30000, 1001))
    for index, frame in enumerate(iter_frames(info)):
        assert read_index(frame) == index
        assert np.abs(frame.astype(int) - index_frame(index, 65, 49)[:48, :64]).mean() < 4


def test_segment_starts_with_a_keyframe_and_is_h264_yuv420p(tmp_path: Path) -> None:
    path = tmp_path / "seg.mp4"
    with SegmentWriter(path, 64, 48, Fraction(25), preset="ultrafast", crf=23) as writer:
        for index in range(5):
            writer.write(index_frame(index, 64, 48))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert next(container.demux(stream)).is_keyframe


def test_failure_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), SegmentWriter(tmp_path / "seg.mp4", 64, 48, Fraction(25)) as writer:
        writer.write(index_frame(0, 64, 48))
        raise RuntimeError("engine crashed")
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape_is_a_bug(tmp_path: Path) -> None:
    with (
        pytest.raises(InternalError, match="is not the segment's"),
        SegmentWriter(tmp_path / "seg.mp4", 64, 48, Fraction(25)) as writer,
    ):
        writer.write(np.zeros((48, 62, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
