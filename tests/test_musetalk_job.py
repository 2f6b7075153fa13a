"""Whole `--engine musetalk` jobs on real clips, with tiny random-weight MuseTalk 1.5 sets.

Random weights draw nonsense faces, so these check the plumbing, not the look: strict loading of a
set in MuseTalk's layout, MuseTalk's crops cut and their VAE latents prepared once per template,
whisper windows per chunk, faces pasted only inside the lower face, an output with the template's
size and rate and the speech's length, and nothing outside the lower face changed (PSNR ≥ 35 dB).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from media_factory import make_audio
from musetalk_factory import make_checkpoint_set
from output_checks import assert_output_contract

from heygem_flows.cli.main import cli
from heygem_ops import GenerateOptions, generate
from heygem_ops.engines.musetalk import MuseTalkEngine
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import probe_video

pytestmark = [pytest.mark.media, pytest.mark.slow]

SPEECH = "sadtalker_bus_chinese.wav"


def trimmed(source: Path, target: Path, frames: int) -> Path:
    """The first `frames` frames of a clip, re-encoded (tests never copy media into the repository)."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        rate = inp.streams.video[0].average_rate
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = inp.streams.video[0].width, inp.streams.video[0].height, "yuv420p"
        for index, frame in enumerate(inp.decode(video=0)):
            if index == frames:
                break
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")))
        out.mux(stream.encode(None))
    return target


def speech_clip(media_dir: Path, target: Path, seconds: float, start_s: float = 0.0) -> Path:
    samples = decode_audio(media_dir / SPEECH, 16000)[int(start_s * 16000) : int((start_s + seconds) * 16000)]
    return make_audio(target, samples=samples[None], sample_rate=16000)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return make_checkpoint_set(tmp_path_factory.mktemp("musetalk") / "models", seed=1)


def changed_rows(output: Path, template: Path) -> np.ndarray:
    with av.open(str(output)) as container:
        out = next(container.decode(video=0)).to_ndarray(format="rgb24")
    original = next(iter_frames(probe_video(template)))
    changed = np.abs(out.astype(int) - original.astype(int)).max(axis=2) > 40
    return np.nonzero(changed)[0]


def test_musetalk_job_through_the_cli_then_a_second_job_skips_the_vae_encoding(
    media_dir, tmp_path, weights, heygem_home, monkeypatch
):
    template = trimmed(media_dir / "sadtalker_WDA_KatieHill_000.mp4", tmp_path / "katie.mp4", 30)
    speech = speech_clip(media_dir, tmp_path / "speech.wav", 1.6)  # longer than the template: it ping-pongs
    monkeypatch.setenv("HEYGEM_CHUNK_FRAMES", "16")
    output = tmp_path / "out.mp4"
    args = ["generate", "-t", template, "-a", speech, "-o", output, "--engine", "musetalk"]
    result = CliRunner().invoke(cli, [*map(str, args), "--checkpoint-dir", str(weights), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    assert '{"' in result.output, result.output
    row, _ = json.JSONDecoder().raw_decode(result.output, result.output.index('{"'))  # after the progress bars
    assert row["engine"] == "musetalk" and row["frames"] == 40 and row["device"] == "cpu"
    info = probe_video(template)
    assert_output_contract(output, width=info.width, height=info.height, fps=info.fps, audio_seconds=1.6)
    assert row["q_psnr_outside"] >= 35.0  # everything outside the lower face is the template's
    rows = changed_rows(output, template)
    assert len(rows) > 300 and rows.min() > info.height * 0.35  # a new lower face, not a square over the face
    assert len(list(heygem_home.rglob("crops256-musetalk+0m10-*.npy"))) == 1
    assert len(list(heygem_home.rglob("prepared-musetalk-*.npy"))) == 1

    encoded = []
    original = MuseTalkEngine.prepare
    monkeypatch.setattr(
        MuseTalkEngine, "prepare", lambda self, crops: encoded.append(len(crops)) or original(self, crops)
    )
    other = speech_clip(media_dir, tmp_path / "other.wav", 0.8, start_s=2.0)
    options = GenerateOptions(engine="musetalk", checkpoint_dir=str(weights), device="cpu", chunk_frames=16)
    second = generate(template, other, tmp_path / "second.mp4", options)
    assert second.succeeded and second.frames == 20 and second.q_psnr_outside >= 35.0
    assert encoded == []  # the template's latents came from the cache: no VAE encoding at all


def test_musetalk_job_at_30_fps_with_a_fresh_set(media_dir, tmp_path):
    """Another clip (1280×720 at 30 fps) and another random set, its VAE as .safetensors in sd-vae-ft-mse/."""
    weights = make_checkpoint_set(tmp_path / "models", seed=7, vae_dir="sd-vae-ft-mse", safetensors=True)
    template = trimmed(media_dir / "liveportrait_s18.mp4", tmp_path / "s18.mp4", 20)
    speech = speech_clip(media_dir, tmp_path / "speech.wav", 1.0)
    info = probe_video(template)
    assert info.fps == Fraction(30)
    options = GenerateOptions(engine="musetalk", checkpoint_dir=str(weights), device="cpu")
    result = generate(template, speech, tmp_path / "out.mp4", options)
    assert result.succeeded and result.frames == 30
    assert_output_contract(tmp_path / "out.mp4", width=info.width, height=info.height, fps=info.fps, audio_seconds=1.0)
    assert result.q_psnr_outside >= 35.0
    rows = changed_rows(tmp_path / "out.mp4", template)
    assert len(rows) > 300 and rows.min() > info.height * 0.25
