"""`heygem generate`: one template plus one recording into one MP4, through the Prefect flow."""

from __future__ import annotations

from pathlib import Path

import click

from flows.cli.main import is_debug, quiet_prefect, reports_errors
from flows.cli.progress import progress_bars
from heygem_ops.engines.registry import available_engines
from heygem_ops.logs import get_logger

log = get_logger("cli")


def check_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in available_engines():
        raise click.BadParameter(f"{value!r} is not an engine; choose one of: {', '.join(available_engines())}")
    return value


@click.command("generate")
@click.option("--template", "-t", required=True, type=click.Path(path_type=Path), help="Video or image of the person.")
@click.option("--audio", "-a", required=True, type=click.Path(path_type=Path), help="Speech recording (or a video).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="MP4 file to write.")
@click.option("--engine", callback=check_engine, help="Lip-sync engine (default: warp).")
@click.option("--device", help="auto, cpu, cuda or cuda:N (default: auto).")
@click.option("--face", help="Which face: largest, center, or a size rank 0, 1, ... (default: largest).")
@click.option("--tracker", type=click.Choice(["mesh", "fan"]), help="Face tracker (default: mesh).")
@click.option("--fps", "still_fps", type=click.FloatRange(1, 120), help="Output frame rate for image templates.")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Engine weights, e.g. wav2lip_gan.pth.")
@click.option("--crf", type=click.IntRange(0, 51), help="Output quality, lower is better (default: 18).")
@click.option("--preset", help="libx264 preset (default: veryfast).")
@click.option("--ray", "ray_address", help="Run models on Ray: 'local' or ray://host:10001.")
@reports_errors
def generate_command(template: Path, audio: Path, output: Path, **options: object) -> None:
    """Lip-sync TEMPLATE to AUDIO and write OUTPUT."""
    from flows.generate import generate

    quiet_prefect(is_debug())
    options = {key: (str(value) if isinstance(value, Path) else value) for key, value in options.items()}
    with progress_bars(output):
        row = generate(template=str(template), audio=str(audio), output=str(output), **options)
    stages = " · ".join(
        f"{stage} {row[f'{stage}_s']:.1f}s"
        for stage in ("decode", "feature", "inference", "compose", "encode", "total")
        if row.get(f"{stage}_s") is not None
    )
    click.echo(f"Wrote {row['output']} ({row['frames']} frames at {row['fps']:.3g} fps, {row['duration_s']:.1f} s)")
    click.echo(f"Stage seconds: {stages}")
    click.echo("Face track: " + ("from cache" if row["track_cached"] else "tracked now"))
