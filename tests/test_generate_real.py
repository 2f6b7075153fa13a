"""End-to-end jobs on real faces and real speech, judged on the output file itself."""

from __future__ import annotations

import logging

import pytest
from output_checks import assert_output_contract

from heygem_ops import generate
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.probe import probe_video
from heygem_ops.quality import QualityThresholds, measure_quality

pytestmark = pytest.mark.media

PAIRS = [
    ("sadtalker_WDA_KatieHill_000.mp4", "sadtalker_chinese_news.wav"),
    ("sadtalker_people_0.png", "sadtalker_RD_Radio34_002.wav"),
    ("liveportrait_d12.mp4", "echomimic_movie_0_clip_0.wav"),  # large head motion, a wide-open template mouth
]
SHOWS_TEETH = {"sadtalker_WDA_KatieHill_000.mp4", "liveportrait_d12.mp4"}  # templates that open their mouth


@pytest.mark.parametrize(("template", "audio"), PAIRS)
def test_job_output_meets_the_contract_and_follows_the_speech(media_dir, tmp_path, template, audio):
    template, audio = media_dir / template, media_dir / audio
    output = tmp_path / "out.mp4"
    result = generate(template, audio, output)
    assert result.succeeded and output.is_file()
    info = probe_video(template)
    seconds = len(decode_audio(audio)) / 16000
    assert_output_contract(output, width=info.width, height=info.height, fps=info.fps, audio_seconds=seconds)
    report = measure_quality(output, audio, template)
    print(report.summary())
    assert report.face_fraction >= 0.95
    assert report.chin_texture is not None and report.chin_texture_low is not None
    if template.name in SHOWS_TEETH:  # the chin/teeth bars below are measured, not passed for want of data
        assert report.teeth_ratio is not None and report.interior_ratio is not None
    # lag, sync, confidence, leak, PSNR, sharpness; chin texture (median, worst 2 %), teeth share, interior brightness
    assert report.failures(QualityThresholds()) == []


def test_second_job_on_a_template_detects_no_face(media_dir, tmp_path, caplog, monkeypatch):
    template = media_dir / "sadtalker_WDA_KatieHill_000.mp4"
    first = generate(template, media_dir / "sadtalker_bus_chinese.wav", tmp_path / "a.mp4")
    monkeypatch.setattr(logging.getLogger("heygem_ops"), "propagate", True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="heygem_ops"):
        second = generate(template, media_dir / "sadtalker_japanese.wav", tmp_path / "b.mp4")
    assert first.track_cached is False and second.track_cached is True
    assert "Tracking faces" not in caplog.text and "loaded from cache" in caplog.text
    assert second.stage_seconds["feature"] < first.stage_seconds["feature"]
