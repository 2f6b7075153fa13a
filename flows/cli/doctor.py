"""`heygem doctor`: what this machine can run, and the fix for whatever it cannot."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("doctor")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Wav2Lip weights to check.")
@click.option("--face-weights", type=click.Path(path_type=Path), help="Folder with the fan tracker's files.")
@click.option("--verify", is_flag=True, help="Load every weight file found (slower, catches damaged files).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor_command(checkpoint: Path | None, face_weights: Path | None, verify: bool, as_json: bool) -> None:
    """Report Python, torch, CUDA, GPUs, engines, trackers, weight files, encoders, Ray and Prefect."""
    from heygem_ops.doctor import diagnose
    from heygem_ops.i18n import translate

    report = diagnose(checkpoint=checkpoint, face_weights=face_weights, verify_weights=verify)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        cuda = report.cuda or translate("none (CPU build)")
        click.echo(f"Python {report.python} · torch {report.torch} · CUDA {cuda}")
        for gpu in report.gpus:
            click.echo(
                translate(
                    "GPU {index}: {name}, {free} of {total} MiB free",
                    index=gpu.index,
                    name=gpu.name,
                    free=gpu.free_mib,
                    total=gpu.total_mib,
                )
            )
        for check in report.checks:
            mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
            click.echo(f"[{mark}] {check.area:13} {check.name:18} {check.detail}")
            for weight, where in check.files.items():
                click.echo(f"{'':26}{weight}: {where or translate('not found')}")
            if not check.ok and check.fix:
                click.echo(f"{'':26}{translate('fix: {fix}', fix=check.fix)}")
    if not report.ok:
        raise SystemExit(1)
