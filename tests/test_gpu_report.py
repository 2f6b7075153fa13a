"""bench/gpu_report.py renders a GPU-shaped report (no GPU needed): every table, and a failed step in words."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from gpu_report import markdown, write_report


def gpu_report() -> dict:
    run = {"run": "cuda libx264 warm", "device": "cuda:0 NVIDIA H200", "encoder": "libx264", "frames": 500,
           "output_frames": 500, "track_cached": True, "orchestration": [], "ratio_to_floor": 2.5,
           "stage_seconds": {"decode": 0.5, "feature": 0.2, "render": 2.1, "encode": 0.1, "total": 3.2},
           "worker_seconds": {"inference": 0.4, "compose": 3.9}}  # fmt: skip
    cpu = {**run, "run": "cpu libx264 warm", "device": "cpu", "stage_seconds": {**run["stage_seconds"], "total": 9.0}}
    environment = {"gpu": "NVIDIA H200", "gpu_memory_gib": 139.8, "driver": "580.159.04", "cpus": 16,
                   "device_line": "Using GPU: NVIDIA H200 (cuda)", "torch": "2.11.0+cu130", "cuda": "13.0"}  # fmt: skip
    speed = {"rows": [{"precision": p, "batch": b, "frames_per_s": f, "peak_mib_per_face": 3.1}
                      for p, b, f in [("fp32", 16, 900.0), ("fp16", 16, 1500.0), ("fp16", 2048, 9000.0)]],
             "best_half": {"precision": "fp16", "batch": 2048, "frames_per_s": 9000.0}}  # fmt: skip
    jobs = {"512": {"template": "t.mp4", "floor_s": 1.28, "runs": [run, cpu], "cpu_over_cuda_total": 2.81,
                    "cpu_over_cuda_inference": 20.0}, "seconds": 80.0}  # fmt: skip
    reason = "OpenEncodeSessionEx failed: unsupported device (2)"
    encoders = {"clip": "c.mp4", "size": "1080x1920", "frames": 250, "nvenc_opens": False, "nvenc_reason": reason,
                "libx264_frames_per_s": 61.0}  # fmt: skip
    steps = {"environment": environment, "speed": speed, "jobs": jobs, "encoders": encoders,
             "oom_backoff": {"error": "RuntimeError: boom", "seconds": 1.0}}  # fmt: skip
    return {"device": "cuda", "quick": False, "steps": steps, "total_seconds": 300.0, "ok": False,
            "bars": [{"bar": "fp16 vs fp32 on 256 faces", "ok": True, "detail": "mean 0.4"}]}  # fmt: skip


def test_a_gpu_report_renders_every_table(tmp_path: Path) -> None:
    report = gpu_report()
    text = markdown(report)
    assert "### GPU check: NVIDIA H200, 139.8 GiB, driver 580.159.04" in text
    assert "| 2048 | - | 9000.0 (3.1 MiB/face) |" in text  # a batch not measured in fp32 shows a dash
    assert "best fp16: 9000.0 at batch 2048" in text
    row = "| cuda libx264 warm | cuda:0 NVIDIA H200 | 3.2 | 2.5 | 1.28 | 0.5 | 0.2 | 2.1 | 0.1 | 0.4 | 3.9 |"
    assert row in text  # wall seconds per stage, then inference and compose summed over chunks
    assert "512: CPU / CUDA 2.81x the whole job, 20.0x its inference" in text
    assert "does not open: OpenEncodeSessionEx failed" in text
    assert "| oom_backoff | 1.0 | RuntimeError: boom |" in text
    write_report(report, tmp_path, show=False)
    assert json.loads((tmp_path / "gpu_check.json").read_text())["steps"]["jobs"]["512"]["floor_s"] == 1.28
    assert (tmp_path / "gpu_check.md").read_text() == markdown(report)
