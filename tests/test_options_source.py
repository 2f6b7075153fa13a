"""One source of truth for job options: Settings → GenerateOptions → CLI help, registries for names,
and `prepare` warming exactly the cache entry a job reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from heygem_flows.cli.main import cli
from heygem_ops.constants import STILL_FPS
from heygem_ops.errors import InputError
from heygem_ops.face import trackers
from heygem_ops.options import GenerateOptions
from heygem_ops.settings import Settings, get_settings
from tests.face_clips import make_face_clip, make_speech


def test_option_defaults_are_the_settings_defaults() -> None:
    names = {"engine": "engine", "tracker": "tracker", "device": "device", "face": "face",
             "chunk_frames": "chunk_frames", "preset": "x264_preset", "crf": "x264_crf", "qa": "qa"}  # fmt: skip
    defaults = GenerateOptions()
    for option, setting in names.items():
        assert getattr(defaults, option) == Settings.model_fields[setting].default, option
    assert defaults.still_fps == STILL_FPS == Settings.model_fields["still_fps"].default
    assert GenerateOptions.from_settings(Settings()) == defaults


def test_settings_reach_the_options_and_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEM_X264_CRF", "23")
    monkeypatch.setenv("HEYGEM_FACE", "center")
    monkeypatch.setenv("HEYGEM_STILL_FPS", "29.97")
    get_settings.cache_clear()
    options = GenerateOptions.from_settings()
    assert (options.crf, options.face, str(options.still_fps)) == (23, "center", "2997/100")
    text = CliRunner().invoke(cli, ["generate", "--help"], terminal_width=200).output
    assert "[default: 23; 0<=x<=51]" in text and "[default: center]" in text, text
    assert "libx264 constant rate factor" in text  # the setting's own description


def test_tracker_names_go_through_a_registry() -> None:
    with pytest.raises(InputError, match="tracker='nope' \\(use one of fan, mesh\\)"):
        GenerateOptions(tracker="nope")
    with pytest.raises(InputError, match="unknown face tracker 'nope'"):
        trackers.create_tracker("nope")

    class Still:
        name = "still"

        def __init__(self, face: str, weights: str | None) -> None:
            self.face = face

    trackers.register_tracker("still", Still)
    try:
        assert "still" in trackers.available_trackers()
        assert trackers.create_tracker("still", face="center").face == "center"
        assert dataclasses.replace(GenerateOptions(), tracker="still").tracker_spec().name == "still"
    finally:
        trackers._TRACKERS.unregister("still")


@pytest.mark.media
def test_prepare_warms_the_track_the_job_reads(
    media_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heygem_flows.prepare import prepare
    from heygem_ops import generate

    monkeypatch.setenv("HEYGEM_FACE", "center")
    monkeypatch.setenv("HEYGEM_QA", "false")
    get_settings.cache_clear()
    template = make_face_clip(tmp_path / "face.mp4", media_dir / "sadtalker_people_0.png", frames=10, size=160)
    (row,) = prepare(templates=[str(template)])
    assert not row["cached"]
    result = generate(template, make_speech(tmp_path / "s.wav", 0.4), tmp_path / "o.mp4")
    assert result.track_cached
