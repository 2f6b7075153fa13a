"""A whole `--engine wav2lip` job on a real clip, with a random-weight checkpoint in the public format.

Random weights draw nonsense mouths, so this checks the plumbing, not the look: strict loading of a
`module.`-prefixed checkpoint, crops cut once and cached, mel windows per chunk, patches pasted only
inside the lower face, and an output as long as the speech.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from media_factory import make_audio
from output_checks import assert_output_contract

from heygem_ops import GenerateOptions, generate
from heygem_ops.engines.wav2lip import Wav2Lip
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import probe_video

pytestmark = pytest.mark.media

TEMPLATE = "sadtalker_WDA_KatieHill_000.mp4"
SPEECH = "sadtalker_bus_chinese.wav"
SECONDS = 2.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    state = {f"module.{key}": value for key, value in Wav2Lip().state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "wav2lip_gan.pth"
    torch.save({"state_dict": state, "global_step": 1, "global_epoch": 1}, path)
    return path


@pytest.fixture(scope="module")
def speech(media_dir, tmp_path_factory) -> Path:
    """The first two seconds of a real recording."""
    samples = decode_audio(media_dir / SPEECH, 16000)[: int(SECONDS * 16000)]
    return make_audio(tmp_path_factory.mktemp("audio") / "speech.wav", samples=samples[None], sample_rate=16000)


def first_frames(path: Path, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                return frames
    return frames


def test_wav2lip_job_on_a_real_clip(media_dir, tmp_path, checkpoint, speech, heygem_home):
    template = media_dir / TEMPLATE
    options = GenerateOptions(engine="wav2lip", checkpoint=str(checkpoint), device="cpu", chunk_frames=25)
    result = generate(template, speech, tmp_path / "out.mp4", options)
    assert result.succeeded and result.engine == "wav2lip" and result.frames == 50
    info = probe_video(template)
    assert_output_contract(tmp_path / "out.mp4", width=info.width, height=info.height, fps=info.fps, audio_seconds=2.0)
    assert len(list(heygem_home.rglob("crops96-*.npy"))) == 1  # cut once for the template, in its cache
    if result.q_psnr_outside is not None:
        assert result.q_psnr_outside >= 35.0  # nothing outside the lower face changed
    out, original = first_frames(tmp_path / "out.mp4", 1)[0], next(iter_frames(info))
    changed = np.abs(out.astype(int) - original.astype(int)).max(axis=2) > 40
    rows = np.nonzero(changed)[0]
    assert changed.sum() > 500  # the generated mouth is there ...
    assert rows.min() > info.height * 0.4  # ... below the eyes, not a square over the face
