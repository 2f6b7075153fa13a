"""Issue 7.3: a corpus of bad and awkward inputs, every one generated here, every one run as a job.

Each case ends, within its time bound, either in a valid MP4 or in one `HeyGemError` of the
expected type whose message names the file and the fix; a failed job leaves nothing in the output
folder (no file, no temporary) and never damages the template cache, which all cases share.
Cases that need a real face build their templates from a portrait of the real media folder
(`media_dir`), and skip when it is absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_factory import (
    make_audio,
    make_random_bytes,
    make_truncated,
    make_video,
    make_zero_byte,
)
from PIL import Image

from heygem_ops import generate
from heygem_ops.cache import TemplateCache
from heygem_ops.errors import (
    EmptyAudioError,
    HeyGemError,
    NoAudioStreamError,
    NoFaceError,
    NoVideoStreamError,
    OutputPathError,
    ResourceError,
    UnreadableMediaError,
)
from heygem_ops.face.landmarks import N_POINTS
from heygem_ops.face.track import FaceTrack
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.probe import probe_video
from heygem_ops.mouths.bank import ENTRY_PREFIX, load_bank
from heygem_ops.results import JobResult
from heygem_ops.settings import get_settings

PORTRAIT = "sadtalker_people_0.png"  # one frontal face, 474x474
SPEECH = "sadtalker_RD_Radio34_002.wav"  # real speech, 16 kHz
FACE_SIZE = (256, 256)  # (width, height) of the generated face templates: big enough to track, cheap to compose
SEED_HASH = "5eed" * 16  # a cache entry present before every case; it must come out of each case unchanged


# ---------------------------------------------------------------- media makers (real face) ----------


def portrait(media: Path, size: tuple[int, int] = FACE_SIZE) -> np.ndarray:
    """The real portrait as RGB uint8 (height, width, 3), resized to `size` (width, height)."""
    with Image.open(media / PORTRAIT) as image:
        return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC))


def speech(media: Path, path: Path, seconds: float = 1.0) -> Path:
    """The first `seconds` of real speech as a 16 kHz mono WAV."""
    samples = decode_audio(media / SPEECH)[: round(seconds * 16000)]
    return make_audio(path, samples=samples[None], sample_rate=16000)


def encode_frames(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: Fraction | int = 25,
    rotation: int = 0,
    timestamps_s: list[float] | None = None,
    pix_fmt: str = "yuv420p",
    latin1_title: str | None = None,
) -> Path:
    """Write upright RGB frames as H.264; `rotation` stores them turned, with a display matrix to undo it.

    `latin1_title` is stored as a Latin-1 (not UTF-8) title tag, as some old tools write it.
    """
    fps = Fraction(fps)
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", metadata_encoding="latin-1") as container:
        if latin1_title:
            container.metadata["title"] = latin1_title
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height = (width, height) if rotation in (0, 180) else (height, width)
        stream.pix_fmt = pix_fmt
        time_base = Fraction(1, 90000) if timestamps_s else 1 / fps
        stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(-rotation)
        for index, upright in enumerate(frames):
            stored = np.ascontiguousarray(np.rot90(upright, k=rotation // 90))
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = round(Fraction(timestamps_s[index]) / time_base) if timestamps_s else index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def face_video(media: Path, path: Path, frames: int = 10, **kwargs: object) -> Path:
    """A still face shown for `frames` frames."""
    picture = portrait(media)
    return encode_frames(path, [picture] * frames, **kwargs)


def face_leaving(media: Path, path: Path, frames: int = 20) -> Path:
    """The face sits still for the first half, then slides out to the right; the last frames show none."""
    picture = portrait(media)
    width = picture.shape[1]
    canvas = np.concatenate([np.full_like(picture, 90), picture, np.full_like(picture, 90)], axis=1)
    half = frames // 2
    offsets = [width] * half + [round(width - width * (k + 1) / (frames - half)) for k in range(frames - half)]
    return encode_frames(path, [np.ascontiguousarray(canvas[:, x : x + width]) for x in offsets])


def one_timestamp(path: Path, frames: int = 10) -> Path:
    """A video whose frames all carry pts 0 (each frame's time base is not the encoder's)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * index, np.uint8), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 12800)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def broken_png(path: Path, width: int = 64, height: int = 48) -> Path:
    """A PNG whose picture data runs into a chunk with a garbage type (Pillow raises SyntaxError on load)."""
    rows = np.random.default_rng(0).integers(0, 255, (height, width * 3), dtype=np.uint8)
    data = zlib.compress(b"".join(b"\0" + row.tobytes() for row in rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [(b"IHDR", header), (b"IDAT", data[: len(data) // 2]), (b"G\x9f\xd8\\", data[len(data) // 2 :])]
    body = b"".join(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d)) for t, d in chunks)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return Path(path)


def joined_adts(folder: Path) -> Path:
    """Two raw AAC (ADTS) files joined with `cat`: the rate (16 -> 22.05 kHz) and channels change midway."""
    first = make_audio(folder / "a.aac", duration_s=0.5, sample_rate=16000)
    second = make_audio(folder / "b.aac", duration_s=0.5, sample_rate=22050, channels=2)
    joined = folder / "joined.aac"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    return joined


def odd_sized(media: Path, path: Path) -> Path:
    """A 255x257 face video: both sides odd (H.264 4:4:4, since 4:2:0 needs even sizes)."""
    return encode_frames(path, [portrait(media, (255, 257))] * 10, pix_fmt="yuv444p")


def four_k(media: Path, path: Path) -> Path:
    """Two frames of 3840x2160: the real portrait upscaled and centred on a grey canvas."""
    canvas = np.full((2160, 3840, 3), 100, dtype=np.uint8)
    canvas[:, 840:3000] = portrait(media, (2160, 2160))
    return encode_frames(path, [canvas] * 2)


# ---------------------------------------------------------------- the cases --------------------------


@dataclass(frozen=True)
class Inputs:
    """Where a case writes its files, and the real media folder (None when absent)."""

    folder: Path
    media: Path | None

    def real(self) -> Path:
        if self.media is None:
            pytest.skip("needs a real face from the media folder, which is absent")
        return self.media


Build = Callable[[Inputs], tuple[Path, Path, Path]]  # template, audio, output


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it, and the outcome it must have within `seconds`."""

    build: Build
    error: type[HeyGemError] | None  # None: the job succeeds
    words: tuple[str, ...] = ()  # must appear in the error message
    seconds: float = 20.0  # wall-clock bound of the job
    frames: int | None = None  # expected output frames on success (within one)
    size: tuple[int, int] | None = None  # expected output (width, height) on success
    check: Callable[[Path, Path, JobResult], None] | None = None  # more checks on success: template, output, row


def _tone(i: Inputs, seconds: float = 1.0) -> Path:
    return make_audio(i.folder / "speech.wav", duration_s=seconds)


def _faceless(i: Inputs) -> Path:
    return make_video(i.folder / "faceless.mp4", frames=10, size=(128, 96))


def _out(i: Inputs) -> Path:
    return i.folder / "out" / "result.mp4"


def _real_speech(i: Inputs, seconds: float = 1.0) -> Path:
    return speech(i.real(), i.folder / "speech.wav", seconds)


def _mouth_stays_closed(template: Path, output: Path, result: JobResult) -> None:
    """Silence animates nothing: every output frame stays within 37 dB PSNR of the (still) template."""
    with av.open(str(template)) as source:
        still = next(source.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)
    with av.open(str(output)) as produced:
        for frame in produced.decode(video=0):
            mse = float(((frame.to_ndarray(format="rgb24").astype(np.float32) - still) ** 2).mean())
            assert 10 * np.log10(255**2 / max(mse, 1e-6)) > 37, "the mouth moved on silence"


def _face_found_then_lost(template: Path, output: Path, result: JobResult) -> None:
    assert result.face_frames is not None and 0 < result.face_frames < probe_video(template).frame_count


def _with_speech(make: Callable[[Path, Path], Path], name: str, seconds: float = 1.0) -> Build:
    """A case whose template `make(media, path)` builds from the real face, driven by real speech."""

    def build(i: Inputs) -> tuple[Path, Path, Path]:
        return make(i.real(), i.folder / name), _real_speech(i, seconds), _out(i)

    return build


def _zero_template(i: Inputs) -> tuple[Path, Path, Path]:
    return make_zero_byte(i.folder / "zero.mp4"), _tone(i), _out(i)


def _zero_audio(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), make_zero_byte(i.folder / "zero.wav"), _out(i)


def _random_template(i: Inputs) -> tuple[Path, Path, Path]:
    return make_random_bytes(i.folder / "noise.mp4", size=65536), _tone(i), _out(i)


def _random_audio(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), make_random_bytes(i.folder / "noise.wav", size=65536, seed=1), _out(i)


def _truncated_template(i: Inputs) -> tuple[Path, Path, Path]:
    whole = make_video(i.folder / "whole.mp4", frames=50, size=(128, 96))
    return make_truncated(i.folder / "cut.mp4", whole, 0.5), _tone(i), _out(i)


def _truncated_audio(i: Inputs) -> tuple[Path, Path, Path]:
    whole = make_audio(i.folder / "whole.m4a", duration_s=2.0)
    return _faceless(i), make_truncated(i.folder / "cut.m4a", whole, 0.5), _out(i)


def _audio_as_template(i: Inputs) -> tuple[Path, Path, Path]:
    return _tone(i), make_audio(i.folder / "other.wav"), _out(i)


def _silent_video_as_audio(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), make_video(i.folder / "mute.mp4", frames=25), _out(i)


def _text_as_image(i: Inputs) -> tuple[Path, Path, Path]:
    (i.folder / "portrait.png").write_text("not a picture\n")
    return i.folder / "portrait.png", _tone(i), _out(i)


def _missing_template(i: Inputs) -> tuple[Path, Path, Path]:
    return i.folder / "absent.mp4", _tone(i), _out(i)


def _folder_as_template(i: Inputs) -> tuple[Path, Path, Path]:
    (i.folder / "clip.mp4").mkdir()
    return i.folder / "clip.mp4", _tone(i), _out(i)


def _empty_audio(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), make_audio(i.folder / "empty.wav", duration_s=0), _out(i)


def _tiny_audio(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), make_audio(i.folder / "blip.wav", duration_s=0.02), _out(i)


def _faceless_template(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), _tone(i), _out(i)


def _not_mp4_output(i: Inputs) -> tuple[Path, Path, Path]:
    return _faceless(i), _tone(i), i.folder / "out" / "result.avi"


def _output_is_a_folder(i: Inputs) -> tuple[Path, Path, Path]:
    (i.folder / "out" / "result.mp4").mkdir(parents=True)
    return _faceless(i), _tone(i), i.folder / "out" / "result.mp4"


def _output_is_the_template(i: Inputs) -> tuple[Path, Path, Path]:
    (i.folder / "out").mkdir()
    template = make_video(i.folder / "out" / "result.mp4", frames=10, size=(128, 96))
    return template, _tone(i), template


def _silent_recording(i: Inputs) -> tuple[Path, Path, Path]:
    silence = make_audio(i.folder / "silence.wav", samples=np.zeros((1, 16000), np.float32))
    return face_video(i.real(), i.folder / "face.mp4"), silence, _out(i)


def _short_recording(i: Inputs) -> tuple[Path, Path, Path]:
    return face_video(i.real(), i.folder / "face.mp4"), _real_speech(i, 0.1), _out(i)


def _non_ascii(i: Inputs) -> tuple[Path, Path, Path]:
    folder = i.folder / "输出 文件夹"
    template = face_video(i.real(), i.folder / "测试 视频.mp4")
    return template, speech(i.real(), i.folder / "语音 录音.wav"), folder / "结果 视频.mp4"


def _one_frame(media: Path, path: Path) -> Path:
    return face_video(media, path, frames=1)


def _rotated(rotation: int) -> Callable[[Path, Path], Path]:
    """A 192x256 (portrait) face shown upright by its display matrix: stored 256x192, turned."""
    return lambda media, path: encode_frames(path, [portrait(media, (192, 256))] * 10, rotation=rotation)


def _sixty(media: Path, path: Path) -> Path:
    return face_video(media, path, frames=60, fps=60)


def _vfr(media: Path, path: Path) -> Path:
    stamps = [0.0, 0.04, 0.1, 0.13, 0.2, 0.33, 0.35, 0.5, 0.52, 0.7, 0.9, 0.95]
    return face_video(media, path, frames=len(stamps), timestamps_s=stamps)


def _one_timestamp(i: Inputs) -> tuple[Path, Path, Path]:
    return one_timestamp(i.folder / "stuck.mp4"), _tone(i), _out(i)


def _broken_png(i: Inputs) -> tuple[Path, Path, Path]:
    return broken_png(i.folder / "broken.png"), _tone(i), _out(i)


def _latin1_metadata(i: Inputs) -> tuple[Path, Path, Path]:
    template = encode_frames(i.folder / "tagged.mp4", [portrait(i.real())] * 10, latin1_title="café façade")
    return template, _real_speech(i), _out(i)


def _joined_adts(i: Inputs) -> tuple[Path, Path, Path]:
    return face_video(i.real(), i.folder / "face.mp4"), joined_adts(i.folder), _out(i)


def _image_named_mp4(i: Inputs) -> tuple[Path, Path, Path]:
    template = i.folder / "portrait.mp4"
    Image.fromarray(portrait(i.real())).save(template, format="PNG")
    return template, _real_speech(i), _out(i)


CASES: dict[str, Case] = {
    "zero-byte template": Case(_zero_template, UnreadableMediaError, ("zero.mp4", "re-export")),
    "zero-byte recording": Case(_zero_audio, UnreadableMediaError, ("zero.wav",)),
    "random bytes .mp4": Case(_random_template, UnreadableMediaError, ("noise.mp4", "cannot be read")),
    "random bytes .wav": Case(_random_audio, UnreadableMediaError, ("noise.wav",)),
    "truncated mp4 (no moov)": Case(_truncated_template, UnreadableMediaError, ("cut.mp4",)),
    "truncated m4a recording": Case(_truncated_audio, UnreadableMediaError, ("cut.m4a",)),
    "text file named .png": Case(_text_as_image, UnreadableMediaError, ("portrait.png",)),
    "missing template": Case(_missing_template, UnreadableMediaError, ("absent.mp4", "not found")),
    "folder as template": Case(_folder_as_template, UnreadableMediaError, ("clip.mp4",)),
    "audio-only template": Case(_audio_as_template, NoVideoStreamError, ("speech.wav", "video")),
    "video without audio as recording": Case(_silent_video_as_audio, NoAudioStreamError, ("mute.mp4", "audio")),
    "recording with no samples": Case(_empty_audio, EmptyAudioError, ("empty.wav",)),
    "0.02 s recording": Case(_tiny_audio, EmptyAudioError, ("blip.wav", "longer recording")),
    "frames sharing one timestamp": Case(_one_timestamp, UnreadableMediaError, ("stuck.mp4", "same timestamp")),
    "PNG with a broken chunk": Case(_broken_png, UnreadableMediaError, ("broken.png", "damaged image")),
    "template without a face": Case(_faceless_template, NoFaceError, ("faceless.mp4", "face")),
    "output not .mp4": Case(_not_mp4_output, OutputPathError, ("result.avi", ".mp4")),
    "output path is a folder": Case(_output_is_a_folder, OutputPathError, ("result.mp4", "is a folder")),
    "output path is the template": Case(_output_is_the_template, OutputPathError, ("result.mp4", "an input")),
    "silent recording": Case(_silent_recording, None, frames=25, size=FACE_SIZE, check=_mouth_stays_closed),
    "0.1 s recording": Case(_short_recording, None, frames=2, size=FACE_SIZE),
    "1-frame video": Case(_with_speech(_one_frame, "one.mp4"), None, frames=25, size=FACE_SIZE),
    "odd dimensions 255x257": Case(_with_speech(odd_sized, "odd.mp4"), None, frames=25, size=(254, 256)),
    "rotation 90": Case(_with_speech(_rotated(90), "r90.mp4"), None, frames=25, size=(192, 256)),
    "rotation 270": Case(_with_speech(_rotated(270), "r270.mp4"), None, frames=25, size=(192, 256)),
    "variable frame rate": Case(_with_speech(_vfr, "vfr.mp4"), None, size=FACE_SIZE),
    "60 fps": Case(_with_speech(_sixty, "sixty.mp4"), None, frames=60, size=FACE_SIZE),
    "non-ASCII paths with spaces": Case(_non_ascii, None, frames=25, size=FACE_SIZE),
    "face leaves the frame halfway": Case(
        _with_speech(face_leaving, "leaving.mp4"), None, frames=25, size=FACE_SIZE, check=_face_found_then_lost
    ),
    "Latin-1 metadata": Case(_latin1_metadata, None, frames=25, size=FACE_SIZE),
    "AAC changing rate midway": Case(_joined_adts, None, size=FACE_SIZE),
    "PNG named .mp4": Case(_image_named_mp4, None, frames=25, size=FACE_SIZE),
    "4K template": Case(_with_speech(four_k, "uhd.mp4"), None, seconds=90, frames=25, size=(3840, 2160)),
}
SLOW = {"4K template"}


# ---------------------------------------------------------------- shared cache, checks --------------


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One template cache for every case, holding a seed entry; returns (root, digest of the seed)."""
    root = tmp_path_factory.mktemp("shared-cache")
    empty = np.full((3, N_POINTS, 2), np.nan, np.float32)
    seed = FaceTrack(empty, np.full((3, 4), np.nan, np.float32), np.zeros(3, np.float32), (64, 48), "mesh")
    cache = TemplateCache(root)
    cache.get_or_build(SEED_HASH, "track-seed.npz", lambda: seed, FaceTrack.to_bytes, FaceTrack.from_bytes)
    return root, _digest(TemplateCache(root).path(SEED_HASH, "track-seed.npz"))


@pytest.fixture
def cache_root(shared_cache: tuple[Path, str], heygem_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point this test at the shared cache; afterwards, every entry must still load and the seed be intact."""
    root, seed_digest = shared_cache
    monkeypatch.setenv("HEYGEM_CACHE_DIR", str(root))
    get_settings.cache_clear()
    yield root
    assert_cache_intact(root)
    assert _digest(TemplateCache(root).path(SEED_HASH, "track-seed.npz")) == seed_digest


def assert_cache_intact(root: Path) -> None:
    """Every cache entry decodes (a mouth bank as a bank, the rest as face tracks), and no temporary file is left."""
    entries = [p for p in root.rglob("*.npz") if not p.name.startswith(".")]
    assert entries, f"no entries under {root}"
    for entry in entries:
        if entry.name.startswith(ENTRY_PREFIX):
            load_bank(entry)
        else:
            FaceTrack.load(entry)
    assert not [p.name for p in root.rglob(".*.part")]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_state(folder: Path) -> dict[str, str]:
    """Name -> content digest ("dir" for folders) of everything in `folder`, hidden files included."""
    if not folder.is_dir():
        return {}
    return {p.name: "dir" if p.is_dir() else _digest(p) for p in folder.iterdir()}


def assert_failed_cleanly(error: HeyGemError, case: Case, output: Path, before: dict[str, str]) -> None:
    """The expected error type, a message naming the file and the fix, and the output folder untouched."""
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    text = str(error)
    assert error.hint and error.hint in text, text
    for word in case.words:
        assert word in text, text
    assert folder_state(output.parent) == before  # no output, no temporary, nothing overwritten


def assert_good_output(output: Path, case: Case, audio: Path) -> None:
    """A playable MP4 at the expected size, as long as the recording (within one frame)."""
    info = probe_video(output)
    if case.size is not None:
        assert (info.width, info.height) == case.size
    seconds = len(decode_audio(audio)) / 16000
    assert abs(info.frame_count - seconds * float(info.fps)) <= 1.01, (info.frame_count, seconds, info.fps)
    if case.frames is not None:
        assert abs(info.frame_count - case.frames) <= 1, info.frame_count
    assert [p.name for p in output.parent.iterdir()] == [output.name]


def run_case(case: Case, inputs: Inputs) -> tuple[Path, Path, Path, object, dict[str, str]]:
    """Build the case's files and run the job in-process.

    Returns (template, audio, output, result or error, the output folder's state before the job).
    """
    template, audio, output = case.build(inputs)
    output.parent.mkdir(parents=True, exist_ok=True)
    before = folder_state(output.parent)
    started = time.monotonic()
    try:
        outcome: object = generate(template, audio, output)
    except HeyGemError as error:
        outcome = error
    elapsed = time.monotonic() - started
    print(f"{elapsed:.2f}s {type(outcome).__name__}: {outcome}")
    assert elapsed < case.seconds, f"took {elapsed:.1f} s, bound {case.seconds} s"
    return template, audio, output, outcome, before


def _media_or_none(request: pytest.FixtureRequest) -> Path | None:
    try:
        return request.getfixturevalue("media_dir")
    except pytest.skip.Exception:
        return None


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in CASES]
)
@pytest.mark.timeout(120)
def test_bad_input(name: str, tmp_path: Path, cache_root: Path, request: pytest.FixtureRequest) -> None:
    case = CASES[name]
    inputs = Inputs(tmp_path, _media_or_none(request))
    template, audio, output, outcome, before = run_case(case, inputs)
    if case.error is None:
        assert isinstance(outcome, JobResult), f"{type(outcome).__name__}: {outcome}"
        assert_good_output(output, case, audio)
        if case.check is not None:
            case.check(template, output, outcome)
    else:
        assert isinstance(outcome, HeyGemError), f"succeeded, expected {case.error.__name__}"
        assert_failed_cleanly(outcome, case, output, before)


# ---------------------------------------------------------------- conditions the test must set up -----


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `path` (root only); skip the test when mounting is not allowed here."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mount.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.decode().strip() or 'not root'})")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder nobody may write to: mode 0500 for a normal user, a read-only tmpfs mount for root."""
    if os.geteuid() != 0:
        path.mkdir()
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(0o700)
        return
    with tiny_filesystem(path, "1m", read_only=True) as folder:
        yield folder


def _face_job_files(media_dir: Path, folder: Path) -> tuple[Path, Path]:
    return face_video(media_dir, folder / "face.mp4"), speech(media_dir, folder / "speech.wav")


@pytest.mark.timeout(60)
def test_read_only_output_folder(tmp_path: Path, cache_root: Path) -> None:
    template, audio = _faceless(Inputs(tmp_path, None)), _tone(Inputs(tmp_path, None))
    with read_only_folder(tmp_path / "ro") as folder:
        started = time.monotonic()
        with pytest.raises(OutputPathError, match="not writable") as caught:
            generate(template, audio, folder / "out.mp4")
        assert time.monotonic() - started < 10  # refused in the decode stage, before any heavy work
        assert "choose a writable folder" in str(caught.value)
        assert list(folder.iterdir()) == []


@pytest.mark.timeout(60)
def test_immutable_output_folder(tmp_path: Path, cache_root: Path) -> None:
    folder = tmp_path / "frozen"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported on this filesystem")
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            generate(_faceless(Inputs(tmp_path, None)), _tone(Inputs(tmp_path, None)), folder / "out.mp4")
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.media
@pytest.mark.timeout(60)
def test_full_disk_at_the_output(media_dir: Path, tmp_path: Path, cache_root: Path) -> None:
    template, audio = _face_job_files(media_dir, tmp_path)
    with tiny_filesystem(tmp_path / "full", "8k") as folder:
        with pytest.raises(ResourceError, match="disk full") as caught:
            generate(template, audio, folder / "out.mp4")
        assert "free disk space" in str(caught.value)
        assert list(folder.iterdir()) == []
    assert generate(template, audio, tmp_path / "out.mp4").succeeded  # the cache and work dir still serve a rerun


@pytest.mark.media
@pytest.mark.timeout(60)
def test_full_disk_in_the_work_folder(
    media_dir: Path, tmp_path: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, audio = _face_job_files(media_dir, tmp_path)
    (tmp_path / "out").mkdir()
    with tiny_filesystem(tmp_path / "work", "8k") as work:
        monkeypatch.setenv("HEYGEM_WORK_DIR", str(work))
        get_settings.cache_clear()
        with pytest.raises(ResourceError, match="disk full"):
            generate(template, audio, tmp_path / "out" / "out.mp4")
        assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.media
@pytest.mark.timeout(60)
def test_full_disk_in_the_cache(
    media_dir: Path, tmp_path: Path, heygem_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, audio = _face_job_files(media_dir, tmp_path)
    (tmp_path / "out").mkdir()
    with tiny_filesystem(tmp_path / "cache", "4k") as cache:
        monkeypatch.setenv("HEYGEM_CACHE_DIR", str(cache))
        get_settings.cache_clear()
        (cache / "filler").write_bytes(b"\0" * 4096)  # the one page is taken: no entry fits
        with pytest.raises(ResourceError, match="disk full"):
            generate(template, audio, tmp_path / "out" / "out.mp4")
        assert list((tmp_path / "out").iterdir()) == []
        assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix in (".npz", ".part")]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cli_names_a_non_ascii_file_in_one_line(tmp_path: Path) -> None:
    """The real `heygem` command, in a subprocess with a time bound: exit 1, one line, the path intact."""
    bad = make_random_bytes(tmp_path / "测试 视频.mp4")
    audio = make_audio(tmp_path / "语音.wav")
    output = tmp_path / "输出 结果.mp4"
    heygem = Path(sys.executable).with_name("heygem")
    if not heygem.is_file():
        pytest.skip(f"the heygem command is not installed next to {sys.executable}")
    command = [str(heygem), "generate", "-t", str(bad), "-a", str(audio), "-o", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=Path(__file__).parents[1])
    assert done.returncode == 1, done.stderr
    assert "UnreadableMediaError: " in done.stderr and "测试 视频.mp4" in done.stderr
    assert "Traceback" not in done.stderr
    assert not output.exists()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_short_fuzz_run_finds_nothing() -> None:
    """bench/fuzz_probe.py, for a few seconds: no exception but HeyGemError escapes the decode stage, no hang."""
    command = [sys.executable, "bench/fuzz_probe.py", "--seconds", "8", "--seed", "11"]
    done = subprocess.run(command, cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "cases tried:" in done.stdout and "findings: 0" in done.stdout
