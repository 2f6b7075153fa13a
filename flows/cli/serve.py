"""`heygem serve`: the HTTP service (HeyGem's /easy API and our /v1/jobs) on http://127.0.0.1:8383."""

from __future__ import annotations

import ipaddress

import click

from heygem_flows.cli.main import is_debug, quiet_prefect
from heygem_flows.cli.prefect_api import share_with_threads, temporary_prefect_api
from heygem_ops.logs import get_logger
from heygem_ops.settings import get_settings

log = get_logger("cli")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


@click.command("serve")
@click.option("--host", help="Address to listen on (default: HEYGEM_API_HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: HEYGEM_API_PORT or 8383, HeyGem's).")
def serve_command(host: str | None, port: int | None) -> None:
    """Serve HeyGem's /easy/submit + /easy/query and /v1/jobs until Ctrl+C; docs at /docs.

    Jobs queue and run HEYGEM_API_WORKERS at a time through the `generate` flow; the job table in
    HEYGEM_HOME/service survives restarts. Inputs are paths under HEYGEM_DATA_ROOT or http(s) URLs;
    outputs land in HEYGEM_DATA_ROOT/outputs. Listening on anything but loopback needs
    HEYGEM_API_TOKEN, which every route but /healthz then requires as 'Authorization: Bearer <token>'.
    """
    settings = get_settings()
    host, port = host or settings.api_host, port or settings.api_port
    if not is_loopback(host) and settings.api_token is None:
        raise click.UsageError(
            f"refusing to listen on {host} without a token: set HEYGEM_API_TOKEN to a long random secret "
            "(clients then send 'Authorization: Bearer <it>'), or listen on 127.0.0.1"
        )
    quiet_prefect(is_debug())
    with temporary_prefect_api():
        share_with_threads()
        import uvicorn

        from heygem_flows.service.app import create_app
        from heygem_ops.rendering import local_renderer

        if not settings.ray_address:
            local_renderer()  # compose workers start now, not with the first job
        app = create_app(settings)
        url = f"http://{host}:{port}"
        click.echo(f"HeyGem-Ops service: {url} (docs {url}/docs)" + (" (token required)" if settings.api_token else ""))
        log.info("HTTP service on %s, %d job(s) at once", url, settings.api_workers)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
