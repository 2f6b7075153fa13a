"""`heygem eval`: score any lip-synced video against its speech (and template): the QA every job gets."""

from __future__ import annotations

from pathlib import Path

import click

from heygem_ops.constants import STILL_FPS, frame_rate
from heygem_ops.i18n import translate


@click.command("eval")
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--audio", "-a", required=True, type=click.Path(path_type=Path), help="The driving speech.")
@click.option("--template", "-t", type=click.Path(path_type=Path), help="The template, for fidelity measures.")
@click.option(
    "--fps", "still_fps", type=float, default=float(STILL_FPS), show_default=True, help="Rate of a still template."
)
def eval_command(output: Path, audio: Path, template: Path | None, still_fps: float) -> None:
    """Measure OUTPUT's lip sync with AUDIO; exit 1 when it falls short of the quality bar."""
    from heygem_ops.quality import measure_quality
    from heygem_ops.quality.job import thresholds_from_settings

    report = measure_quality(output, audio, template, still_fps=frame_rate(still_fps))
    click.echo(report.summary())
    failures = report.failures(thresholds_from_settings())
    for failure in failures:
        click.secho(translate("below the bar: {failure}", failure=failure), fg="yellow")
    if failures:
        raise SystemExit(1)
    click.echo(translate("meets the quality bar"))
