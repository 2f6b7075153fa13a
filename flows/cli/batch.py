"""`heygem batch`: many jobs from a manifest, or HeyGem's one-audio/many-templates modes."""

from __future__ import annotations

from pathlib import Path

import click

from heygem_flows.cli.main import is_debug, quiet_prefect
from heygem_flows.cli.options import as_strings, engine_options, max_size_option
from heygem_flows.cli.prefect_api import temporary_prefect_api
from heygem_ops.i18n import translate


@click.command("batch")
@click.argument("jobs", required=False, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--audio", "audios", multiple=True, help="Audio file(s), folder or glob (one audio × many templates).")
@click.option("--templates", "--template", "templates", multiple=True, help="Template file(s), folder or glob.")
@engine_options
@max_size_option
@click.option("--dask", "dask_address", help="Run the CPU stages on the Dask cluster at this address.")
@click.option("--jobs-at-once", type=click.IntRange(1, 1024), help="Jobs in flight at once (default: by CPUs).")
@click.option("--verify", is_flag=True, help="Re-hash finished outputs before skipping them.")
def batch_command(
    jobs: Path | None, out_dir: Path, audios: tuple[str, ...], templates: tuple[str, ...], dask_address: str | None,
    jobs_at_once: int | None, verify: bool, **options: object,
) -> None:  # fmt: skip
    """Generate every job of JOBS (CSV, Parquet or JSON Lines: template, audio[, output, job_id, options])."""
    if jobs is None and not (audios and templates):
        raise click.UsageError("give a JOBS manifest, or --audio and --templates")
    quiet_prefect(is_debug())
    with temporary_prefect_api():
        from heygem_flows.bulk import bulk, with_dask

        run = with_dask(dask_address) if dask_address else bulk
        summary = run(
            out_dir=str(out_dir), manifest=str(jobs) if jobs else None, templates=list(templates) or None,
            audios=list(audios) or None, jobs_at_once=jobs_at_once, verify_outputs=verify, **as_strings(options),
        )  # fmt: skip
    click.echo(
        translate(
            "{jobs} jobs: {succeeded} succeeded, {failed} failed, {skipped} skipped (already done). Results: {results}",
            **{key: summary[key] for key in ("jobs", "succeeded", "failed", "skipped", "results")},
        )
    )
    if summary["failed"]:
        click.echo(translate("See the failures with: heygem report {folder}", folder=out_dir), err=True)
        raise SystemExit(1)
