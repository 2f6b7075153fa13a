"""The environment report: every probe answers, and what is missing comes with its fix."""

from __future__ import annotations

import json

import pytest
import torch

from heygem_ops.doctor import DoctorReport, diagnose
from heygem_ops.engines.wav2lip import Wav2Lip
from heygem_ops.face.fan import DETECTOR_FILE, LANDMARKS_FILE
from heygem_ops.settings import get_settings


def check(report: DoctorReport, area: str, name: str):
    return next(c for c in report.checks if (c.area, c.name) == (area, name))


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """No Wav2Lip checkpoint, an empty torch hub, no Prefect server, no Ray cluster."""
    for name in ("HEYGEM_WAV2LIP_CHECKPOINT", "PREFECT_API_URL", "HEYGEM_RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    get_settings.cache_clear()


def test_a_bare_machine_still_runs_the_default_pipeline(bare):
    report = diagnose()
    assert report.ok, [c for c in report.problems() if c.required]
    assert report.torch == torch.__version__ and report.python
    assert {"warp"} <= set(report.usable("engine")) and "mesh" in report.usable("tracker")
    assert {"libx264", "aac"} <= set(report.usable("encoder"))
    for name in ("python", "torch", "cuda"):
        check(report, "runtime", name)
    assert check(report, "runtime", "cuda").ok == torch.cuda.is_available()
    json.dumps(report.as_dict())  # the CLI and the UI print it as JSON


def test_missing_weights_come_with_their_fix(bare):
    report = diagnose()
    wav2lip, fan = check(report, "engine", "wav2lip"), check(report, "tracker", "fan")
    assert not wav2lip.ok and not wav2lip.required and "HEYGEM_WAV2LIP_CHECKPOINT" in wav2lip.fix
    assert not fan.ok and fan.files == {DETECTOR_FILE: None, LANDMARKS_FILE: None}
    assert DETECTOR_FILE in fan.fix and "hub" in fan.fix


def test_a_checkpoint_is_found_where_it_is_and_verified_on_request(bare, tmp_path, monkeypatch):
    path = tmp_path / "wav2lip_gan.pth"
    torch.save({"state_dict": Wav2Lip().state_dict()}, path)
    monkeypatch.setenv("HEYGEM_WAV2LIP_CHECKPOINT", str(path))
    get_settings.cache_clear()
    found = check(diagnose(), "engine", "wav2lip")
    assert found.ok and found.files == {"wav2lip_gan.pth": str(path)}
    path.write_bytes(path.read_bytes()[:5000])
    broken = check(diagnose(verify_weights=True), "engine", "wav2lip")
    assert not broken.ok and "truncated" in broken.detail and broken.fix


def test_unreachable_servers_are_reported_with_what_to_do(bare, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("HEYGEM_RAY_ADDRESS", "ray://127.0.0.1:9")
    get_settings.cache_clear()
    report = diagnose()
    prefect, ray = check(report, "orchestration", "prefect"), check(report, "orchestration", "ray")
    assert not prefect.ok and "prefect server start" in prefect.fix
    assert not ray.ok and "127.0.0.1:9" in ray.detail and ray.fix
