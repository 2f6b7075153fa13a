"""`heygem report`: what a batch did, read from its results dataset (Dask for big ones)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--slowest", default=10, show_default=True, help="How many of the slowest jobs to list.")
def report_command(out_dir: Path, slowest: int) -> None:
    """Summarise the results under OUT_DIR: status counts, throughput, stage times, failures."""
    from heygem_ops.report import summarise

    click.echo(summarise(out_dir, slowest=slowest).render())
