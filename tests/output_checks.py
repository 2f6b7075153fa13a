"""The output contract of every job, checked on the file a user receives."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av


def playable(path: Path) -> bool:
    """Whether `path` is a whole video: it opens and at least one picture decodes."""
    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0)) > 0
    except av.FFmpegError:
        return False


def top_level_atoms(path: Path) -> list[str]:
    """Names of an MP4's top-level boxes, in file order."""
    names, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        names.append(name.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return names


def assert_output_contract(output: Path, *, width: int, height: int, fps: Fraction, audio_seconds: float) -> None:
    """H.264 yuv420p at the template's (even) size and rate, AAC audio, length of the audio, faststart."""
    with av.open(str(output)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (width - width % 2, height - height % 2)
        assert abs(Fraction(video.average_rate) - fps) < Fraction(1, 1000)
        assert audio.codec_context.name == "aac"
        frames = sum(1 for packet in container.demux(video) if packet.size)
    assert abs(frames / float(fps) - audio_seconds) <= 1.0 / float(fps) + 1e-6
    atoms = top_level_atoms(output)
    assert atoms.index("moov") < atoms.index("mdat"), atoms
