"""bench/gpu_check.py on the CPU, as CI runs it: every step that needs no CUDA, with small sizes.

The same script is the one a session lent a GPU runs in one call; here it must prepare its bundle (media
and face tracks), run, pass its own bars and write both reports, skipping the CUDA-only steps by name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.media]

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_check.py"


def run_script(*args: str, home: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "HEYGEM_HOME": str(home)}
    environment.pop("OUT", None)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )


def test_the_gpu_check_runs_on_the_cpu(media_dir: Path, tmp_path: Path) -> None:
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    prepared = run_script("--prepare", "--quick", "--bundle", str(bundle), home=tmp_path / "home")
    assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
    assert list((bundle / "cache").rglob("track-*.npz"))  # the face track travels instead of LiteRT

    done = run_script("--device", "cpu", "--quick", "--bundle", str(bundle), "--out", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    steps = report["steps"]
    assert report["ok"] and not [name for name, step in steps.items() if "error" in step]
    assert steps["environment"]["device_line"] == "CUDA not available, using CPU"  # as the pipeline logs it
    assert steps["oom_backoff"]["skipped"].startswith("needs CUDA")
    assert steps["precision"]["bf16"]["finite"] and steps["precision"]["fp32_spread_levels"] > 20
    assert {row["precision"] for row in steps["speed"]["rows"]} == {"fp32", "bf16"}
    assert steps["auto_batch"]["fp32"] == 32  # CPU_BATCH
    encoders = steps["encoders"]
    assert not encoders["nvenc_opens"] and encoders["nvenc_reason"] and encoders["libx264_frames_per_s"] > 0
    (run,) = steps["jobs"]["512"]["runs"]
    assert run["encoder"] == "auto" and run["output_frames"] == run["frames"] == 25 and run["track_cached"]
    assert run["orchestration"] == []  # a library job imports no Prefect, Ray, Dask or Gradio
    assert steps["jobs"]["512"]["floor_s"] > 0 and run["ratio_to_floor"] > 1
    musetalk_installed = all(importlib.util.find_spec(name) for name in ("diffusers", "transformers", "safetensors"))
    if musetalk_installed:  # the extra is there (as in CI): the check ran the MuseTalk bench on this device
        assert "MuseTalk engine on cpu" in steps["musetalk"]["output_tail"]
    else:
        assert steps["musetalk"]["skipped"].startswith("not present")
    table = (out / "gpu_check.md").read_text()
    assert "| bf16 vs fp32 on 8 faces | yes |" in table and "Whole `--engine wav2lip` jobs" in table


def test_a_missing_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    done = run_script("--device", "cpu", "--quick", "--bundle", str(tmp_path / "none"), "--out", str(tmp_path),
                      "--budget", "0", home=tmp_path / "home")  # fmt: skip
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert done.returncode == 1 and not report["ok"]
    assert "run `python bench/gpu_check.py --prepare --quick`" in report["steps"]["bundle"]["error"]
    assert report["steps"]["speed"]["skipped"].startswith("over the time budget")
