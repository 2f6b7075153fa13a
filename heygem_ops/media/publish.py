"""The last step of a job: join the video segments, add the driving audio, publish one MP4.

Video packets are copied, never re-encoded (segments share codec parameters, see `segments`); the
audio is re-encoded as AAC and cut to the video's length. The output appears whole or not at all.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from heygem_ops.atomic import atomic_output
from heygem_ops.errors import InternalError
from heygem_ops.media._av import open_input, video_stream
from heygem_ops.media.audio_io import resampled_frames
from heygem_ops.media.probe import probe_audio

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # Hz, the AAC rates up to 48 kHz
AAC_BITRATE_PER_CHANNEL = 64_000  # bit/s


def publish_video(segments: list[Path], audio: Path, output: Path, *, fps: Fraction, duration_s: float) -> None:
    """Write `output`: the segments' frames in order at `fps`, with `audio` as AAC trimmed to `duration_s`.

    MP4 with the moov atom first (faststart), written beside `output` and renamed into place after
    an fsync. Raises OutputPathError (folder missing or read-only), ResourceError (disk full),
    UnreadableMediaError (a segment or the audio unreadable); on any failure `output` is untouched.
    """
    if not segments:
        raise InternalError("no video segments to publish", path=output)
    sound = probe_audio(audio)
    output = Path(output)
    with (
        atomic_output(output) as temporary,
        av.open(str(temporary), mode="w", format="mp4", options={"movflags": "+faststart"}) as container,
    ):
        video = _add_video_stream(container, Path(segments[0]))
        aac = _add_aac_stream(container, sound.sample_rate, sound.channels)
        packets = heapq.merge(
            _video_packets([Path(s) for s in segments], video, Fraction(fps)),
            _aac_packets(Path(audio), aac, duration_s),
            key=_seconds,
        )
        for packet in packets:
            container.mux(packet)


def aac_rate(sample_rate: int) -> int:
    """The rate the published audio uses: the source's when AAC has it, else the next one up (<= 48 kHz)."""
    return next((rate for rate in AAC_RATES if rate >= sample_rate), AAC_RATES[-1])


def _add_video_stream(container: OutputContainer, first_segment: Path) -> VideoStream:
    """An output stream copying the first segment's codec parameters (extradata included)."""
    with open_input(first_segment) as source:
        return container.add_stream_from_template(_segment_stream(source, first_segment))


def _add_aac_stream(container: OutputContainer, sample_rate: int, channels: int) -> AudioStream:
    """An AAC encoder stream: mono stays mono, anything else becomes stereo."""
    layout = "mono" if channels == 1 else "stereo"
    stream = container.add_stream("aac", rate=aac_rate(sample_rate), layout=layout)
    stream.bit_rate = AAC_BITRATE_PER_CHANNEL * stream.layout.nb_channels
    return stream


def _video_packets(segments: list[Path], stream: VideoStream, fps: Fraction) -> Iterator[Packet]:
    """Every segment's packets, shifted by the frames before it, re-targeted at `stream`."""
    expected: tuple[object, ...] | None = None  # the first segment's codec parameters
    shown = 0  # frames in the segments already copied
    for segment in segments:
        with open_input(segment) as container:
            source = _segment_stream(container, segment)
            expected = expected or _signature(source)
            if _signature(source) != expected:
                raise InternalError("segment was encoded with other settings than the first", path=segment)
            offset = round(shown / fps / source.time_base)  # ticks of this segment's time base
            for packet in container.demux(source):
                if packet.size == 0:
                    continue
                packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
                packet.stream = stream
                shown += 1
                yield packet


def _aac_packets(audio: Path, stream: AudioStream, duration_s: float) -> Iterator[Packet]:
    """AAC packets of `audio`, resampled to the stream's rate and layout and cut at `duration_s`."""
    rate = stream.codec_context.sample_rate
    limit, written = round(duration_s * rate), 0  # samples
    for frame in resampled_frames(audio, "fltp", stream.layout.name, rate):
        keep = min(frame.samples, limit - written)
        if keep <= 0:
            break
        frame = frame if keep == frame.samples else _head(frame, keep)
        frame.pts, frame.time_base = written, Fraction(1, rate)
        written += keep
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _head(frame: AudioFrame, samples: int) -> AudioFrame:
    """The first `samples` samples of a planar float frame."""
    head = AudioFrame.from_ndarray(frame.to_ndarray()[:, :samples], format="fltp", layout=frame.layout.name)
    head.sample_rate = frame.sample_rate
    return head


def _segment_stream(container: InputContainer, segment: Path) -> VideoStream:
    """The segment's video stream; a segment without one is a bug upstream, not a user error."""
    stream = video_stream(container)
    if stream is None:
        raise InternalError("segment holds no video stream", path=segment)
    return stream


def _signature(stream: VideoStream) -> tuple[object, ...]:
    """What must match for packets of one segment to decode under another's parameters."""
    context = stream.codec_context
    return context.name, context.width, context.height, context.extradata


def _seconds(packet: Packet) -> Fraction:
    """Decode time of a packet, for interleaving audio and video."""
    stamp = packet.dts if packet.dts is not None else packet.pts
    return stamp * packet.time_base
