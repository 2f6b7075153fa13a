"""`heygem ui`: the web UI, on http://127.0.0.1:7860 unless HEYGEM_UI_HOST / HEYGEM_UI_PORT say otherwise."""

from __future__ import annotations

import importlib.util

import click

from heygem_flows.cli.main import is_debug, quiet_prefect
from heygem_ops.logs import get_logger
from heygem_ops.settings import get_settings

log = get_logger("cli")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("ui")
@click.option("--host", help="Address to listen on (default: HEYGEM_UI_HOST or 127.0.0.1; 0.0.0.0 exposes it).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: HEYGEM_UI_PORT or 7860).")
@click.option("--share", is_flag=True, help="Also open a public Gradio share link (off unless asked; needs internet).")
def ui_command(host: str | None, port: int | None, share: bool) -> None:
    """Start the web UI and print its URL; Ctrl+C stops it.

    Login: set HEYGEM_UI_USER and HEYGEM_UI_PASSWORD. Upload limits: HEYGEM_UI_MAX_UPLOAD_MB and
    HEYGEM_UI_MAX_DURATION_S. Jobs run in this process, or as Prefect deployments when
    HEYGEM_UI_GENERATE_DEPLOYMENT / HEYGEM_UI_BULK_DEPLOYMENT name them.
    """
    if importlib.util.find_spec("gradio") is None:
        raise click.ClickException(
            "the web UI needs Gradio: run `bash install.sh ui` (or pip install 'heygem-ops[ui]')"
        )
    settings = get_settings()
    quiet_prefect(is_debug())
    host = host or settings.ui_host
    if host not in LOOPBACK and not settings.ui_user:
        click.secho(
            f"Warning: listening on {host} without a login; set HEYGEM_UI_USER and HEYGEM_UI_PASSWORD.",
            fg="yellow",
            err=True,
        )
    from heygem_flows.ui.app import start

    try:
        served = start(settings, host=host, port=port, share=share, quiet=not is_debug())
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port or settings.ui_port} ({error}); choose another --port"
        ) from None
    quiet_prefect(is_debug())
    click.echo(f"HeyGem-Ops UI: {served.url}" + (" (login required)" if settings.ui_user else ""))
    if served.share_url:
        click.echo(f"Public share link: {served.share_url}")
    log.info("web UI serving on %s", served.url)
    served.block()
