"""`heygem prepare`: warm the template cache so a batch starts generating at once."""

from __future__ import annotations

import click

from flows.cli.main import is_debug, quiet_prefect


@click.command("prepare")
@click.argument("templates", nargs=-1, required=True)
@click.option("--tracker", type=click.Choice(["mesh", "fan"]), default="mesh", show_default=True)
@click.option("--face", default="largest", show_default=True, help="largest, center, or a size rank.")
@click.option("--ray", "ray_address", envvar="HEYGEM_RAY_ADDRESS", help="Track on Ray: 'local' or an address.")
def prepare_command(templates: tuple[str, ...], tracker: str, face: str, ray_address: str | None) -> None:
    """Track the faces of TEMPLATES (files, folders or globs) into the template cache."""
    from flows.prepare import prepare

    quiet_prefect(is_debug())
    for row in prepare(templates=list(templates), tracker=tracker, face=face, ray_address=ray_address):
        state = "already cached" if row["cached"] else "tracked"
        click.echo(f"{row['template']}: {state}, face in {row['face_frames']}/{row['frames']} frames")
