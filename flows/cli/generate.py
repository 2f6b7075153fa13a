"""`heygem generate`: one template plus one recording into one MP4, through the Prefect flow."""

from __future__ import annotations

import json
from pathlib import Path

import click

from heygem_flows.cli.main import is_debug, quiet_prefect
from heygem_flows.cli.options import as_strings, engine_options, max_size_option, setting_option
from heygem_flows.cli.prefect_api import temporary_prefect_api
from heygem_flows.cli.progress import progress_bars
from heygem_ops.articulation.phones import read_transcript
from heygem_ops.i18n import translate
from heygem_ops.logs import get_logger
from heygem_ops.results import WALL_COLUMNS
from heygem_ops.timeline import LOOPS

log = get_logger("cli")


@click.command("generate")
@click.option("--template", "-t", required=True, type=click.Path(path_type=Path), help="Video or image of the person.")
@click.option("--audio", "-a", required=True, type=click.Path(path_type=Path), help="Speech recording (or a video).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="MP4 file to write.")
@engine_options
@setting_option(
    "--fps",
    setting="still_fps",
    type=click.FloatRange(1, 120),
    help="Output frame rate: an image template's, or a video's (a video's default: its own; 30 halves 60).",
)
@max_size_option
@setting_option("--crf", setting="x264_crf", type=click.IntRange(0, 51))
@setting_option("--preset", setting="x264_preset")
@click.option("--loop", type=click.Choice(LOOPS), help="How a short template repeats (default: pingpong).")
@click.option("--text", help="The words spoken, to time the lips exactly (English is aligned; else recognised).")
@click.option(
    "--text-file", type=click.Path(path_type=Path), help="A UTF-8 text file with the words spoken (instead of --text)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results row as JSON instead of a summary.")
def generate_command(
    template: Path,
    audio: Path,
    output: Path,
    as_json: bool,
    fps: float | None,
    text: str | None,
    text_file: Path | None,
    **options: object,
) -> None:
    """Lip-sync TEMPLATE to AUDIO and write OUTPUT."""
    if text is not None and text_file is not None:
        raise click.UsageError("give --text or --text-file, not both")
    options.update(still_fps=fps, video_fps=fps, text=read_transcript(text_file) if text_file else text)
    quiet_prefect(is_debug())
    with temporary_prefect_api():
        from heygem_flows.generate import generate
        from heygem_ops.rendering import local_renderer

        if not options.get("ray_address"):
            local_renderer()  # its compose workers start while Prefect's API comes up
        with progress_bars(output):
            row = generate(template=str(template), audio=str(audio), output=str(output), **as_strings(options))
    if as_json:
        click.echo(json.dumps(row, default=str))
        return
    stages = " · ".join(
        f"{stage} {row[column]:.1f}s" for stage, column in WALL_COLUMNS.items() if row.get(column) is not None
    )
    click.echo(
        translate(
            "Wrote {output} ({frames} frames at {fps:.3g} fps, {duration:.1f} s)",
            output=row["output"],
            frames=row["frames"],
            fps=row["fps"],
            duration=row["duration_s"],
        )
    )
    click.echo(translate("Stage seconds: {stages}", stages=stages))
    click.echo(translate("Face track: from cache" if row["track_cached"] else "Face track: tracked now"))
    if row.get("sync_score") is not None:
        verdict = (
            translate("below the bar: {failure}", failure=row["q_flags"])
            if row.get("q_flags")
            else translate("meets the quality bar")
        )
        click.echo(
            translate(
                "Lip sync: r={score:.2f} at lag {lag} frames; {verdict}",
                score=row["sync_score"],
                lag=row["q_best_lag"],
                verdict=verdict,
            )
        )
