"""`heygem prepare`: warm the template cache so a batch starts generating at once."""

from __future__ import annotations

import click

from heygem_flows.cli.main import is_debug, quiet_prefect
from heygem_flows.cli.options import as_strings, ray_option, setting_option, tracker_option
from heygem_ops.i18n import translate


@click.command("prepare")
@click.argument("templates", nargs=-1, required=True)
@tracker_option
@setting_option("--face", setting="face")
@setting_option("--fps", "still_fps", setting="still_fps", type=click.FloatRange(1, 120))
@ray_option
def prepare_command(templates: tuple[str, ...], **options: object) -> None:
    """Track the faces of TEMPLATES (files, folders or globs) into the template cache.

    Give the options the batch will be given (or none, to use the same HEYGEM_* settings), so the
    tracks warmed are the ones it reads.
    """
    from heygem_flows.prepare import prepare

    quiet_prefect(is_debug())
    for row in prepare(templates=list(templates), **as_strings(options)):
        line = (
            "{template}: already cached, face in {face_frames}/{frames} frames"
            if row["cached"]
            else "{template}: tracked, face in {face_frames}/{frames} frames"
        )
        click.echo(translate(line, template=row["template"], face_frames=row["face_frames"], frames=row["frames"]))
