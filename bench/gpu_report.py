"""The report of bench/gpu_check.py: the whole record as JSON, the figures as Markdown tables (printed too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from heygem_ops.results import STAGES, WORKER_STAGES

WORKED = [stage for stage in WORKER_STAGES if stage not in STAGES]  # summed over chunks: inference, compose


def write_report(report: dict, out: Path, *, show: bool = True) -> None:
    """Write `gpu_check.json` and `gpu_check.md` into `out`; print the Markdown when `show`."""
    report["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    text = markdown(report)
    (out / "gpu_check.md").write_text(text)
    if show:
        print("\n" + text, flush=True)
        print(f"written: {out / 'gpu_check.json'}, {out / 'gpu_check.md'}")


def markdown(report: dict) -> str:
    steps = report["steps"]
    parts = [_header(report, steps.get("environment", {})), _bars(report["bars"]), _speed(steps.get("speed", {})),
             _jobs(steps.get("jobs", {})), _encoders(steps.get("encoders", {})), _steps(steps)]  # fmt: skip
    return "\n\n".join(part for part in parts if part) + "\n"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(report: dict, environment: dict) -> str:
    get = environment.get
    machine = f"{get('gpu')}, {get('gpu_memory_gib')} GiB, driver {get('driver')}" if get("gpu") else "CPU only"
    rows = [
        ["date", report.get("date")],
        ["machine", f"{machine}, {get('cpus')} CPUs"],
        ["device line (heygem_ops.device)", get("device_line")],
        ["torch / CUDA / cuDNN", f"{get('torch')} / {get('cuda')} / {get('cudnn')}"],
        ["fp32 convolutions in TF32", get("tf32_convolutions")],
        ["python / PyAV", f"{get('python')} / {get('av')}"],
        ["run", f"--device {report['device']}{' --quick' if report['quick'] else ''}, "
                f"{report.get('total_seconds')} s, {'ok' if report.get('ok') else 'FAILED'}"],
    ]  # fmt: skip
    return f"### GPU check: {machine}\n\n" + _table(["what", "value"], rows)


def _bars(bars: list[dict]) -> str:
    rows = [[bar["bar"], "yes" if bar["ok"] else "**NO**", bar["detail"]] for bar in bars]
    return _table(["bar", "ok", "detail"], rows)


def _speed(speed: dict) -> str:
    rows = speed.get("rows")
    if not rows:
        return ""
    precisions = list(dict.fromkeys(row["precision"] for row in rows))
    by_key = {(row["precision"], row["batch"]): row for row in rows}
    batches = sorted({row["batch"] for row in rows})
    body = []
    for batch in batches:
        cells = []
        for precision in precisions:
            row = by_key.get((precision, batch), {})
            memory = f" ({row['peak_mib_per_face']} MiB/face)" if "peak_mib_per_face" in row else ""
            cells.append(f"{row.get('frames_per_s', '-')}{memory}")
        body.append([batch, *cells])
    best = speed["best_half"]
    title = f"Wav2Lip engine, face-frames/s (best {best['precision']}: {best['frames_per_s']} at batch {best['batch']})"
    return f"{title}\n\n" + _table(["batch", *precisions], body)


def _jobs(step: dict) -> str:
    jobs = {label: job for label, job in step.items() if isinstance(job, dict) and "runs" in job}  # per template
    body = []
    for label, job in jobs.items():
        for run in job["runs"]:
            stages, worked = run["stage_seconds"], run.get("worker_seconds", {})
            cells = [run["run"], run["device"], stages.get("total"), run.get("ratio_to_floor"), job["floor_s"]]
            timings = [*(stages.get(stage) for stage in STAGES if stage != "quality"), *map(worked.get, WORKED)]
            body.append([f"{label} ({job['template']})", *cells, *timings])
    if not body:
        return ""
    header = ["template", "run", "device", "total s", "x floor", "floor s"]
    header += [*(stage for stage in STAGES if stage != "quality"), *(f"{stage} (sum)" for stage in WORKED)]
    ratios = [f"{label}: CPU / CUDA {job['cpu_over_cuda_total']}x the whole job, {job['cpu_over_cuda_inference']}x"
              " its inference" for label, job in jobs.items() if "cpu_over_cuda_total" in job]  # fmt: skip
    note = f"\n\nWarm jobs, {'; '.join(ratios)}" if ratios else ""
    title = "Whole `--engine wav2lip` jobs (wall seconds per stage; inference and compose summed over the chunks, "
    title += "which overlap; a first run also loads the model)"
    return f"{title}\n\n" + _table(header, body) + note


def _encoders(encoders: dict) -> str:
    if "clip" not in encoders:
        return ""
    opened = "opens" if encoders["nvenc_opens"] else f"does not open: {encoders['nvenc_reason']}"
    size = encoders["size"]
    rows = [[f"libx264 veryfast, {size}", encoders.get("libx264_frames_per_s")],
            [f"h264_nvenc p3, {size} ({opened})", encoders.get("h264_nvenc_frames_per_s", "-")]]  # fmt: skip
    title = f"Encoders through SegmentWriter on {encoders['frames']} frames of {encoders['clip']}, frames/s"
    return f"{title}\n\n" + _table(["encoder", "f/s"], rows)


def _steps(steps: dict) -> str:
    rows = []
    for name, step in steps.items():
        status = step.get("error") or (f"skipped: {step['skipped']}" if "skipped" in step else "ran")
        rows.append([name, step.get("seconds"), status])
    return _table(["step", "s", "status"], rows)
