"""Synthetic test media, generated in milliseconds with PyAV, NumPy and Pillow (no files in the repo).

Every picture carries its own frame index and an orientation mark (`index_frame`, `read_index`),
so a test can tell which frame came out, and whether it is upright, through lossy codecs.
Import it as `from media_factory import make_video` (pytest puts tests/ on sys.path).

    make_video(tmp / "a.mp4", frames=30, fps=Fraction(30000, 1001))
    make_video(tmp / "r.mov", rotation=90, size=(64, 48))      # shown 64x48, stored 48x64 + display matrix
    make_video(tmp / "v.webm", codec="libvpx-vp9", audio=AudioTrack("libopus", sample_rate=48000))
    make_video(tmp / "vfr.mp4", timestamps_s=[0, 0.04, 0.1, 0.13])
    make_audio(tmp / "a.mp3", sample_rate=44100, channels=2, duration_s=0.5)
    make_audio(tmp / "empty.wav", duration_s=0)                 # a recording with no samples
    make_still(tmp / "p.jpg", exif_orientation=6)               # stored turned, EXIF says how to show it
    make_zero_byte(tmp / "z.mp4"); make_random_bytes(tmp / "n.mp4"); make_truncated(tmp / "t.mp4", source)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image

INDEX_BITS = 10  # frame indices 0..1023 are encoded; frames should be at least 4 * INDEX_BITS px wide
VFR_TIME_BASE = Fraction(1, 90000)  # stream time base of variable-frame-rate videos
_WHITE, _BLACK, _GREY, _RED = 235, 16, 128, (200, 30, 30)

# Codec options that keep encoders quiet and fast on tiny frames.
_VIDEO_OPTIONS = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}
# Default audio codec per file suffix.
AUDIO_CODECS = {
    ".wav": "pcm_s16le",
    ".mp3": "libmp3lame",
    ".m4a": "aac",
    ".aac": "aac",
    ".flac": "flac",
    ".ogg": "libopus",
    ".opus": "libopus",
    ".mka": "flac",
}
# Pillow transpose storing a picture so that the EXIF orientation shows it upright (inverse of the tag).
_EXIF_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class AudioTrack:
    """An audio stream to put beside the pictures of `make_video`: a tone (see `tone`)."""

    codec: str = "aac"
    sample_rate: int = 16000  # Hz
    channels: int = 1
    frequency_hz: float = 440.0


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """An RGB uint8 (height, width, 3) picture that encodes `index` and shows which way is up.

    The top half is a row of INDEX_BITS cells, least significant bit on the left, white for 1 and
    black for 0; the bottom half is grey with a red left quarter.
    """
    picture = np.full((height, width, 3), _GREY, dtype=np.uint8)
    picture[height // 2 :, : width // 4] = _RED
    edges = np.linspace(0, width, INDEX_BITS + 1).astype(int)
    for bit in range(INDEX_BITS):
        picture[: height // 2, edges[bit] : edges[bit + 1]] = _WHITE if index >> bit & 1 else _BLACK
    return picture


def read_index(picture: np.ndarray) -> int:
    """The index `index_frame` drew into an upright (height, width, 3) picture, read from cell centres."""
    height, width = picture.shape[:2]
    edges = np.linspace(0, width, INDEX_BITS + 1).astype(int)
    band = picture[height // 8 : 3 * height // 8].astype(np.float32).mean(axis=2)
    bits = [band[:, (lo + hi) // 2 - 1 : (lo + hi) // 2 + 1].mean() > _GREY for lo, hi in pairwise(edges)]
    return sum(1 << bit for bit, on in enumerate(bits) if on)


def tone(duration_s: float, sample_rate: int, channels: int = 1, frequency_hz: float = 440.0) -> np.ndarray:
    """A sine of amplitude 0.5, float32 (channels, samples); channel c sounds at (c + 1) * frequency_hz."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    return np.stack([0.5 * np.sin(2 * np.pi * frequency_hz * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def make_video(
    path: Path,
    *,
    frames: int = 10,
    fps: Fraction | int = 25,
    size: tuple[int, int] = (64, 48),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    timestamps_s: Sequence[float] | None = None,
    keyframe_interval: int | None = None,
    audio: AudioTrack | None = None,
) -> Path:
    """Write a video whose frame i shows `index_frame(i, *size)` once turned upright.

    `size` is the displayed (width, height); with `rotation` 90 or 270 (clockwise degrees a player
    turns the picture) the stored frames are (height, width) and the display matrix says how to turn
    them. `timestamps_s` (seconds, ascending) makes a variable-frame-rate file of that many frames.
    The container follows the suffix (.mp4 .mov .mkv .webm .avi ...).
    """
    fps = Fraction(fps)
    stamps = _stamps(frames, fps, timestamps_s)
    with av.open(str(path), mode="w") as container:
        stored_size = size if rotation in (0, 180) else size[::-1]
        stream = _add_video(container, codec, fps, stored_size, pix_fmt, vfr=timestamps_s is not None)
        if keyframe_interval:
            stream.codec_context.gop_size = keyframe_interval
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        sound = _add_audio(container, audio) if audio else None
        for index, pts in enumerate(stamps):
            stored = np.ascontiguousarray(np.rot90(index_frame(index, *size), k=rotation // 90))
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None and sound is not None:
            seconds = float(stamps[-1] * stream.codec_context.time_base + 1 / fps) if stamps else 0.0
            _write_audio(container, sound, tone(seconds, audio.sample_rate, audio.channels, audio.frequency_hz))
    return Path(path)


def make_audio(
    path: Path,
    *,
    duration_s: float = 1.0,
    sample_rate: int = 16000,
    channels: int = 1,
    codec: str | None = None,
    frequency_hz: float = 440.0,
    samples: np.ndarray | None = None,
) -> Path:
    """Write an audio file of `tone(...)` (or of `samples`, float32 (channels, n) in [-1, 1]).

    The codec follows the suffix (see AUDIO_CODECS) unless given, e.g. "pcm_s24le" for 24-bit WAV.
    libopus only takes 8, 12, 16, 24 or 48 kHz. `duration_s=0` writes a file with no samples.
    """
    signal = tone(duration_s, sample_rate, channels, frequency_hz) if samples is None else samples
    track = AudioTrack(codec or AUDIO_CODECS[Path(path).suffix.lower()], sample_rate, signal.shape[0])
    with av.open(str(path), mode="w") as container:
        stream = _add_audio(container, track)
        container.start_encoding()  # writes the header even when there are no samples
        _write_audio(container, stream, signal)
    return Path(path)


def make_still(path: Path, *, size: tuple[int, int] = (64, 48), index: int = 0, exif_orientation: int = 1) -> Path:
    """Write `index_frame(index, *size)` as an image (format from the suffix: .png .jpg .webp .bmp).

    With `exif_orientation` 2..8 the pixels are stored transformed and the EXIF tag says how to show
    them, as phone cameras do; a viewer that honours EXIF shows the upright picture.
    """
    image = Image.fromarray(index_frame(index, *size))
    transpose = _EXIF_STORE[exif_orientation]
    stored = image.transpose(transpose) if transpose is not None else image
    exif = Image.Exif()
    if exif_orientation != 1:
        exif[0x0112] = exif_orientation
    options = {"quality": 95} if Path(path).suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    stored.save(path, exif=exif, **options) if exif_orientation != 1 else stored.save(path, **options)
    return Path(path)


def make_zero_byte(path: Path) -> Path:
    """An empty file (0 bytes), whatever its name says."""
    Path(path).write_bytes(b"")
    return Path(path)


def make_random_bytes(path: Path, size: int = 4096, seed: int = 0) -> Path:
    """`size` bytes of noise, e.g. named .mp4 to pose as a video."""
    Path(path).write_bytes(np.random.default_rng(seed).bytes(size))
    return Path(path)


def make_truncated(path: Path, source: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of `source`'s bytes: an MP4 from `make_video` (moov at the end) loses its moov."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
    return Path(path)


def _add_video(
    container: OutputContainer, codec: str, fps: Fraction, size: tuple[int, int], pix_fmt: str, *, vfr: bool
) -> VideoStream:
    """A video encoder stream of stored `size` (width, height); VFR streams count in VFR_TIME_BASE."""
    stream = container.add_stream(codec, rate=fps, options=_VIDEO_OPTIONS.get(codec, {}))
    stream.width, stream.height = size
    stream.pix_fmt = pix_fmt
    stream.codec_context.time_base = VFR_TIME_BASE if vfr else 1 / fps
    if codec not in _VIDEO_OPTIONS:
        stream.bit_rate = 4_000_000
    return stream


def _stamps(count: int, fps: Fraction, timestamps_s: Sequence[float] | None) -> list[int]:
    """Frame pts: 0..count-1 at 1/fps, or the given seconds in VFR_TIME_BASE ticks."""
    if timestamps_s is None:
        return list(range(count))
    return [round(Fraction(t) / VFR_TIME_BASE) for t in timestamps_s]


def _add_audio(container: OutputContainer, track: AudioTrack) -> AudioStream:
    """An audio encoder stream for `track`: mono, or stereo for two channels or more."""
    layout = "mono" if track.channels == 1 else "stereo"
    return container.add_stream(track.codec, rate=track.sample_rate, layout=layout)


def _write_audio(container: OutputContainer, stream: AudioStream, signal: np.ndarray) -> None:
    """Encode float32 (channels, n) samples; PyAV converts them to the codec's format and frame size."""
    layout = "mono" if signal.shape[0] == 1 else "stereo"
    for start in range(0, signal.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal[:, start : start + 1024]), "fltp", layout)
        frame.sample_rate, frame.pts = stream.rate, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


# ---- phone media: HDR video, large photos, voice messages ---------------------------------------

_BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
HDR_TRC = {"PQ": 16, "HLG": 18}  # AVCOL_TRC values
REFERENCE_WHITE = 203.0  # cd/m2 that SDR white becomes in HDR (BT.2408)


def hdr_yuv420p10(rgb: np.ndarray, transfer: str) -> np.ndarray:
    """SDR BT.709 RGB uint8 (H, W, 3), H and W even, as an HDR camera would store it: 10-bit limited-range
    BT.2020 Y'CbCr 4:2:0 (yuv420p10le layout, (H * 3 / 2, W) uint16) with the PQ or HLG transfer.

    SDR white becomes HDR reference white (203 cd/m2); a grey stays a grey (R' = G' = B').
    """
    signal = rgb.astype(np.float64) / 255.0
    linear = np.where(signal < 0.081, signal / 4.5, ((signal + 0.099) / 1.099) ** (1 / 0.45))  # BT.709 OETF^-1
    nits = np.clip(linear @ _BT709_TO_BT2020.T, 0, None) * REFERENCE_WHITE
    coded = _pq_inverse_eotf(nits) if transfer == "PQ" else _hlg_inverse_display(nits)
    red, green, blue = coded[..., 0], coded[..., 1], coded[..., 2]
    luma = 0.2627 * red + 0.6780 * green + 0.0593 * blue
    cb, cr = (blue - luma) / 1.8814, (red - luma) / 1.4746
    height, width = luma.shape
    half = [(c.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))) for c in (cb, cr)]
    planes = [64 + 876 * luma, *(512 + 896 * c for c in half)]
    return np.concatenate([np.round(p).clip(0, 1023).astype(np.uint16).ravel() for p in planes]).reshape(-1, width)


def _pq_inverse_eotf(nits: np.ndarray) -> np.ndarray:
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    power = (nits / 10000.0) ** m1
    return ((c1 + c2 * power) / (1 + c3 * power)) ** m2


def _hlg_inverse_display(nits: np.ndarray) -> np.ndarray:
    """Display light on a 1000 cd/m2 HLG display -> HLG signal (system gamma 1.2 per channel)."""
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * np.log(4 * a)
    scene = (nits / 1000.0) ** (1 / 1.2)
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)


def make_hdr_video(
    path: Path, pictures: Sequence[np.ndarray], *, transfer: str = "HLG", fps: Fraction | int = 30, rotation: int = 0
) -> Path:
    """An HEVC Main 10 video as a phone records HDR: BT.2020, PQ or HLG, tagged so; `pictures` are the
    upright SDR frames (RGB uint8, even sizes). Skips the calling test when this FFmpeg lacks libx265."""
    import pytest

    if "libx265" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libx265 encoder: cannot write an HEVC Main 10 HDR test video")
    with av.open(str(path), mode="w") as container:
        height, width = pictures[0].shape[:2]
        stored = (width, height) if rotation in (0, 180) else (height, width)
        stream = _add_video(container, "libx265", Fraction(fps), stored, "yuv420p10le", vfr=False)
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace = 9, HDR_TRC[transfer], 9
        if rotation:
            stream.set_display_rotation(-rotation)
        for index, picture in enumerate(pictures):
            turned = np.ascontiguousarray(np.rot90(picture, k=rotation // 90))
            frame = av.VideoFrame.from_ndarray(hdr_yuv420p10(turned, transfer), format="yuv420p10le")
            frame.color_primaries, frame.color_trc, frame.colorspace = 9, HDR_TRC[transfer], 9
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def make_voice_message(path: Path, *, codec: str, sample_rate: int, duration_s: float = 1.0) -> Path:
    """A voice-message recording (m4a, Ogg/WebM Opus, AMR, telephone WAV) of a 440 Hz tone.

    The container follows the suffix (.amr/.awb write raw AMR); skips the calling test, naming the
    codec, when this FFmpeg cannot encode it.
    """
    import pytest

    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder: cannot write that voice message")
    try:
        av.codec.Codec(codec, "w")
    except av.codec.codec.UnknownCodecError:
        pytest.skip(f"this FFmpeg can decode but not encode {codec}: cannot write that voice message")
    suffix = Path(path).suffix.lower()
    container_format = {".amr": "amr", ".awb": "amr"}.get(suffix)
    track = AudioTrack(codec, sample_rate, 1)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = _add_audio(container, track)
        if codec.startswith("libopencore_amr"):
            stream.bit_rate = 12_200
        _write_audio(container, stream, tone(duration_s, sample_rate))
    return Path(path)
