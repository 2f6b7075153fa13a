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


def _tagged_clip(path: Path, space: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A few frames of smooth, saturated colour, encoded and tagged with colour matrix `space`."""
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "10"})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = space
        for index in range(4):
            rgb = np.stack([xs * 255 // size[0], ys * 255 // size[1], np.full_like(xs, 40 + 50 * index)], -1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame.reformat(format="yuv420p", dst_colorspace=space)))
        container.mux(stream.encode(None))
    return path


def _planes(path: Path) -> tuple[np.ndarray, tuple[int, int, int]]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        tags = (context.colorspace, context.color_primaries, context.color_trc)
        return np.stack([f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]).astype(float), tags


@pytest.mark.parametrize("space", [1, 2, 6], ids=["BT.709", "untagged", "BT.601"])
def test_untouched_pixels_keep_the_templates_colours_and_tags(tmp_path: Path, space: int) -> None:
    """Frames decoded to RGB and written back come out as the template's own Y'CbCr, tagged as it was."""
    template = probe_video(_tagged_clip(tmp_path / "template.mp4", space))
    assert template.colour.space == space
    with SegmentWriter(tmp_path / "seg.mp4", template.width, template.height, template.fps, crf=10,
                       colour=template.colour) as writer:  # fmt: skip
        for frame in iter_frames(template):
            writer.write(frame)
    source, source_tags = _planes(template.path)
    output, output_tags = _planes(tmp_path / "seg.mp4")
    assert output_tags == source_tags
    luma, chroma = (np.abs(output - source)[:, : template.height], np.abs(output - source)[:, template.height :])
    assert luma.mean() < 1.5 and chroma.mean() < 1.0  # only rounding and x264's own loss
