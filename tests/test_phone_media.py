"""Issue 13: the media people actually have: phone photos and videos, voice messages.

Each kind is generated here (PyAV, Pillow, pillow-heif), small or short enough to stay cheap, and run
through the library's `generate` (one through `heygem generate`): output size, orientation, colour
and duration are checked on the output file itself. A codec this FFmpeg lacks skips its case alone.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from media_factory import (
    make_audio,
    make_hdr_video,
    make_still,
    make_video,
    make_voice_message,
    read_index,
)
from output_checks import assert_output_contract
from PIL import Image

from heygem_flows.cli.main import cli
from heygem_ops import generate
from heygem_ops.compose.chunk import chunk_frames
from heygem_ops.errors import LimitExceededError
from heygem_ops.media import decode_audio, iter_frames, probe_audio, probe_video
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import plan_job
from heygem_ops.quality import measure_quality
from heygem_ops.settings import get_settings

pytestmark = pytest.mark.timeout(300)
PORTRAIT = "hallo_reference_6.jpg"  # 624x624, one frontal face
TALKING = "sadtalker_WDA_KatieHill_000.mp4"  # 512x512 at 25 fps
SPEECH = "sadtalker_bus_chinese.wav"  # 3.4 s
MARK = (230, 20, 20)  # a red block drawn in the top-left corner of the upright picture


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """No quality pass over the output (it tracks every output frame again): these tests check the media."""
    monkeypatch.setenv("HEYGEM_QA", "0")
    get_settings.cache_clear()


@pytest.fixture
def heygem_logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(logging.getLogger("heygem_ops"), "propagate", True)
    caplog.set_level(logging.INFO, logger="heygem_ops")
    return caplog


def _phone_picture(media_dir: Path, size: tuple[int, int]) -> Image.Image:
    """The real portrait on a portrait-shaped canvas of `size` (upright width, height), with MARK top left."""
    width, height = size
    face = Image.open(media_dir / PORTRAIT).convert("RGB").resize((width, width), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", size, (90, 110, 130))
    canvas.paste(face, (0, (height - width) // 2))
    canvas.paste(MARK, (0, 0, width // 8, height // 16))
    return canvas


def _frame(path: Path, index: int = 0) -> np.ndarray:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has no frame {index}")


def _frames_of(plan, chunk) -> list[np.ndarray]:
    """The template frames compose gets for `chunk` of `plan`."""
    return list(chunk_frames(plan.template, chunk, plan.schedule[chunk.start : chunk.stop]))


def _assert_marked_upright(picture: np.ndarray) -> None:
    height, width = picture.shape[:2]
    corner = picture[: height // 32, : width // 16].reshape(-1, 3).mean(axis=0)
    assert np.abs(corner - MARK).max() < 25, corner  # the mark is still top left: shown upright
    assert np.abs(picture[-4:, -4:].reshape(-1, 3).mean(axis=0) - (90, 110, 130)).max() < 12


# ---- phone photos -------------------------------------------------------------------------------


@pytest.mark.media
@pytest.mark.slow
def test_a_12_megapixel_phone_photo_is_scaled_not_refused(media_dir, tmp_path, quick, heygem_logs) -> None:
    """3024x4032 stored turned, EXIF orientation 6, as phones save: out comes 1440x1920, upright."""
    photo = tmp_path / "IMG_0001.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    _phone_picture(media_dir, (3024, 4032)).transpose(Image.Transpose.ROTATE_90).save(photo, quality=92, exif=exif)
    output = tmp_path / "out.mp4"
    result = generate(photo, media_dir / SPEECH, output)
    assert result.succeeded and (result.width, result.height) == (1440, 1920)
    assert "Scaling IMG_0001.jpg from 3024x4032 to 1440x1920" in heygem_logs.text
    seconds = len(decode_audio(media_dir / SPEECH)) / 16000
    assert_output_contract(output, width=1440, height=1920, fps=Fraction(25), audio_seconds=seconds)
    picture = _frame(output, 40)
    _assert_marked_upright(picture)
    Image.fromarray(picture).save(tmp_path / "frame40.png")


@pytest.mark.media
@pytest.mark.slow
def test_heic_photo_through_the_cli_with_a_max_size(media_dir, tmp_path, quick) -> None:
    """An iPhone HEIC (pillow-heif writes one), scaled to --max-size 960 by `heygem generate`."""
    photo = tmp_path / "IMG_0002.HEIC"
    _phone_picture(media_dir, (1512, 2016)).save(photo, quality=85)
    assert probe_video(photo).codec == "heif"
    output = tmp_path / "heic.mp4"
    args = ["generate", "-t", str(photo), "-a", str(media_dir / SPEECH), "-o", str(output), "--max-size", "960"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with av.open(str(output)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (720, 960)
    _assert_marked_upright(_frame(output, 10))


def test_50_megapixel_photo_decodes_at_the_working_size(tmp_path) -> None:
    """8160x6120 (50 MP): within the decode guard; JPEG's DCT scaling decodes it near 1920 px directly."""
    photo = make_still(tmp_path / "big.jpg", size=(8160, 6120), index=5)
    info = probe_video(photo)
    assert (info.width, info.height, info.decoded_size) == (1920, 1440, (8160, 6120))
    picture = next(iter_frames(info))
    assert picture.shape == (1440, 1920, 3) and read_index(picture) == 5


@pytest.mark.parametrize(("suffix", "bits"), [(".avif", 8), (".heic", 10)])
def test_avif_and_10_bit_heif_stills_open(tmp_path, suffix: str, bits: int) -> None:
    from PIL import features

    if suffix == ".avif" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    path = tmp_path / f"p{suffix}"
    make_still(tmp_path / "p.png", size=(256, 192), index=9)
    picture = Image.open(tmp_path / "p.png")
    if bits == 10:
        import pillow_heif

        deep = (np.asarray(picture, dtype=np.uint16) * 257).astype(np.uint16)  # 16-bit RGB, saved as 10-bit
        pillow_heif.from_bytes(mode="RGB;16", size=picture.size, data=deep.tobytes()).save(path, quality=-1)
    else:
        picture.save(path, quality=90)
    info = probe_video(path)
    assert info.is_still and (info.width, info.height) == (256, 192)
    assert read_index(next(iter_frames(info))) == 9


def test_the_pixel_limit_applies_to_the_working_size(tmp_path, monkeypatch) -> None:
    """A video over HEYGEM_MAX_PIXELS fails naming --max-size, and runs with one; a still is scaled anyway."""
    monkeypatch.setenv("HEYGEM_MAX_PIXELS", str(100 * 80))
    get_settings.cache_clear()
    video, audio = make_video(tmp_path / "v.mp4", size=(200, 160), frames=5), make_audio(tmp_path / "a.wav")
    with pytest.raises(LimitExceededError, match="--max-size"):
        plan_job(video, audio, tmp_path / "o.mp4", GenerateOptions())
    plan = plan_job(video, audio, tmp_path / "o.mp4", GenerateOptions(max_size=100))
    assert (plan.template.width, plan.template.height) == (100, 80)
    frames = list(iter_frames(plan.template))
    assert [f.shape for f in frames] == [(80, 100, 3)] * 5 and [read_index(f) for f in frames] == list(range(5))
    assert GenerateOptions(max_size=100).identity() != GenerateOptions().identity()
    turned = make_video(tmp_path / "r.mov", size=(200, 160), frames=3, rotation=90)  # a phone held upright
    info = plan_job(turned, audio, tmp_path / "o.mp4", GenerateOptions(max_size=101)).template
    assert (info.width, info.height, info.decoded_size) == (100, 80, (200, 160))
    assert [read_index(f) for f in iter_frames(info)] == [0, 1, 2]


@pytest.mark.parametrize(
    ("size", "max_size", "scaled"),
    [((4032, 3024), 1920, (1920, 1440)), ((3024, 4032), 1003, (752, 1002)), ((1921, 1081), 1920, (1920, 1080)),
     ((640, 480), 1920, (640, 480)), ((641, 481), None, (641, 481))],
)  # fmt: skip
def test_scaled_sizes_keep_the_aspect_with_even_sides(size, max_size, scaled) -> None:
    from heygem_ops.media.scale import scaled_size

    assert scaled_size(*size, max_size) == scaled


# ---- phone videos -------------------------------------------------------------------------------


@pytest.mark.parametrize("transfer", ["PQ", "HLG"])
def test_hdr_grey_stays_grey_and_is_not_washed_out(tmp_path, transfer: str) -> None:
    """A grey ramp stored as a phone stores HDR (HEVC Main 10, BT.2020) comes out as the same SDR greys."""
    levels = [16, 60, 118, 160, 200]
    ramp = np.repeat(np.repeat(np.array(levels, dtype=np.uint8), 32)[None, :, None], 64, axis=0).repeat(3, axis=2)
    info = probe_video(make_hdr_video(tmp_path / f"{transfer}.mp4", [ramp] * 2, transfer=transfer))
    assert info.hdr == transfer and (info.colour.space, info.colour.primaries, info.colour.trc) == (1, 1, 1)
    picture = next(iter_frames(info)).astype(int)
    patches = [picture[8:24, 32 * k + 8 : 32 * k + 24].reshape(-1, 3).mean(axis=0) for k in range(len(levels))]
    for level, patch in zip(levels, patches, strict=True):
        assert patch.max() - patch.min() <= 2, (level, patch)  # grey stays grey
        assert abs(patch.mean() - level) <= 4, (level, patch)  # and as bright as the SDR it came from


@pytest.mark.media
@pytest.mark.slow
def test_hdr_portrait_phone_video_is_tone_mapped_and_upright(media_dir, tmp_path, quick, heygem_logs) -> None:
    """HLG HEVC Main 10 stored landscape with a 90-degree display matrix, as an iPhone records portrait."""
    source = probe_video(media_dir / TALKING)
    pictures = [frame[:, 64:448].copy() for frame in iter_frames(source, 0, 30)]  # 384x512, portrait
    for picture in pictures:
        picture[:32, :48] = MARK
    clip = make_hdr_video(tmp_path / "IMG_0003.MOV", pictures, transfer="HLG", fps=30, rotation=90)
    output = tmp_path / "hdr.mp4"
    result = generate(clip, make_audio(tmp_path / "a.m4a", duration_s=1.0), output)
    assert result.succeeded and (result.width, result.height) == (384, 512)
    assert "Tone-mapping IMG_0003.MOV from HDR (BT.2020 HLG) to SDR BT.709" in heygem_logs.text
    with av.open(str(output)) as container:
        context = container.streams.video[0].codec_context
        assert (context.color_primaries, context.color_trc, context.colorspace) == (1, 1, 1)
    out = _frame(output, 5).astype(int)
    assert np.abs(out[:24, :40].reshape(-1, 3).mean(axis=0) - MARK).max() < 30  # upright
    upper, sdr = slice(40, 200), pictures[5].astype(int)  # forehead, eyes, hair: untouched by the mouth
    bias = (out[upper] - sdr[upper]).reshape(-1, 3).mean(axis=0)
    contrast = out[upper].std() / sdr[upper].std()
    assert np.abs(bias).max() < 4 and 0.93 < contrast < 1.07, (bias, contrast)  # the SDR it was made from
    Image.fromarray(np.hstack([pictures[5], out.astype(np.uint8)])).save(tmp_path / "hdr_vs_sdr.png")


@pytest.mark.media
@pytest.mark.slow
def test_4k60_phone_video_scaled_and_halved(media_dir, tmp_path, quick) -> None:
    """1 s of 3840x2160 at 60 fps, --max-size 1280 --fps 30: 1280x720 at 30 fps, as long as the speech."""
    source = probe_video(media_dir / TALKING)
    frames = [np.asarray(Image.fromarray(f).resize((2160, 2160))) for f in iter_frames(source, 0, 30)]
    clip = tmp_path / "4k60.mp4"
    with av.open(str(clip), mode="w") as container:
        stream = container.add_stream("libx264", rate=60, options={"preset": "ultrafast", "crf": "30"})
        stream.width, stream.height, stream.pix_fmt = 3840, 2160, "yuv420p"
        canvas = np.full((2160, 3840, 3), 100, dtype=np.uint8)
        for index in range(60):
            canvas[:, 840:3000] = frames[index // 2]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        container.mux(stream.encode(None))
    output = tmp_path / "out.mp4"
    speech = make_audio(tmp_path / "a.opus", duration_s=1.0, sample_rate=48000)
    result = generate(clip, speech, output, GenerateOptions.from_settings(max_size=1280, video_fps=30))
    assert result.succeeded and (result.width, result.height, result.frames) == (1280, 720, 30)
    assert_output_contract(output, width=1280, height=720, fps=Fraction(30), audio_seconds=1.0)
    report = measure_quality(output, speech, clip)  # as `heygem eval` does: finds the scale and the rate itself
    assert report.face_fraction == 1.0 and report.psnr_outside > 30, report.summary()


def test_variable_frame_rate_output_follows_the_real_timestamps(tmp_path) -> None:
    """Frames of uneven length: output frame i (at i/fps) shows the template frame on screen then."""
    starts = [0.0, 0.04, 0.12, 0.16, 0.30, 0.34, 0.38, 0.50, 0.54, 0.58]  # 40 ms frames with stalls
    clip = make_video(tmp_path / "vfr.mp4", frames=len(starts), timestamps_s=starts, size=(80, 48))
    plan = plan_job(clip, make_audio(tmp_path / "a.wav", duration_s=0.6), tmp_path / "o.mp4", GenerateOptions())
    fps = float(plan.fps)
    middles = (np.arange(plan.frame_count) + 0.5) / fps
    expected = np.searchsorted(starts, middles, side="right") - 1
    forward = min(plan.frame_count, len(expected))
    assert plan.schedule[:forward].tolist() == expected[:forward].tolist()
    shown = [read_index(f) for chunk in plan.chunks for f in _frames_of(plan, chunk)]
    assert shown == plan.schedule.tolist()


def test_halving_the_frame_rate_shows_every_other_frame(tmp_path) -> None:
    clip = make_video(tmp_path / "v60.mp4", frames=40, fps=60, size=(80, 48))
    options = GenerateOptions(video_fps=Fraction(30), chunk_frames=8)
    plan = plan_job(clip, make_audio(tmp_path / "a.wav", duration_s=1.0), tmp_path / "o.mp4", options)
    assert plan.fps == 30 and plan.frame_count == 30
    assert plan.schedule[:20].tolist() == list(range(0, 40, 2))  # forward: every other frame
    assert plan.schedule[20:23].tolist() == [36, 34, 32]  # then back, never a jump
    shown = [read_index(f) for chunk in plan.chunks for f in _frames_of(plan, chunk)]
    assert shown == plan.schedule.tolist()


# ---- voice messages -----------------------------------------------------------------------------

VOICE = [
    ("memo.m4a", "aac", 44100),  # voice memos
    ("whatsapp.opus", "libopus", 48000),  # Opus in Ogg (WhatsApp, Telegram)
    ("browser.webm", "libopus", 48000),  # Opus in WebM (browsers' MediaRecorder)
    ("phone.amr", "libopencore_amrnb", 8000),  # AMR-NB, 8 kHz
    ("phone.awb", "libvo_amrwbenc", 16000),  # AMR-WB
    ("call.wav", "pcm_mulaw", 8000),  # 8 kHz telephone speech
]


@pytest.mark.parametrize(("name", "codec", "rate"), VOICE, ids=[v[0] for v in VOICE])
def test_voice_message_decodes_to_speech_rate(tmp_path, name: str, codec: str, rate: int) -> None:
    path = make_voice_message(tmp_path / name, codec=codec, sample_rate=rate, duration_s=1.0)
    info = probe_audio(path)
    assert info.sample_rate == rate and abs(info.duration_s - 1.0) < 0.06, info
    samples = decode_audio(path)
    assert abs(len(samples) / 16000 - 1.0) < 0.06
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 16000 / len(samples) - 440) < 5  # the tone, not codec noise


@pytest.mark.media
@pytest.mark.slow
def test_amr_voice_message_drives_a_job(media_dir, tmp_path, quick) -> None:
    audio = make_voice_message(tmp_path / "voice.amr", codec="libopencore_amrnb", sample_rate=8000, duration_s=1.5)
    output = tmp_path / "amr.mp4"
    assert generate(media_dir / PORTRAIT, audio, output).succeeded
    seconds = len(decode_audio(audio)) / 16000
    assert_output_contract(output, width=624, height=624, fps=Fraction(25), audio_seconds=seconds)


def test_an_audio_codec_ffmpeg_cannot_decode_names_the_format_and_the_fix(tmp_path) -> None:
    wav = tmp_path / "odd.wav"
    data = bytes(16000)
    fmt = (0x1234).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    chunks = b"WAVEfmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
    wav.write_bytes(b"RIFF" + len(chunks).to_bytes(4, "little") + chunks)
    with pytest.raises(Exception, match=r"odd\.wav.*in WAV.*cannot decode.*convert it to 16-bit PCM WAV or M4A"):
        probe_audio(wav)


def test_the_http_service_takes_max_size_as_a_job_option() -> None:
    """`/v1/jobs` options are manifest-style: max_size reaches the job, a bad one is refused up front."""
    from heygem_flows.service.v1 import JobOptions, _choices
    from heygem_ops.errors import InputError

    assert _choices(JobOptions(max_size=1280)).options().max_size == 1280
    with pytest.raises(InputError, match="max_size=8"):
        _choices(JobOptions(max_size=8))
