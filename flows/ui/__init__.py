"""The web UI (`heygem ui`): a Gradio app over the same flows as the CLI.

    app.py          layout, page load, launch (loopback by default, login from settings, no share link)
    tab_single.py   one template + one recording → one MP4, live progress, preview, download
    tab_batch.py    many jobs through the `bulk` flow, a live table, one zip
    tab_history.py  the results dataset, newest first: preview, download, delete (recorded), paging
    tab_system.py   device, engines, trackers, Ray/Prefect status (heygem_ops.doctor), log tail
    common.py       option widgets and status rendering shared by the Single and Batch tabs
    context.py      what every tab shares: settings, folders, uploads, queue, results
    jobs.py         what the queue runs (flows `generate` and `bulk`), batch tables and zips
    history.py      paging and recorded deletion over the results dataset

Shared with the HTTP service (`heygem_flows.service`): the job queue (`heygem_flows.jobs_queue`: handlers submit
and poll, worker threads run the flows), single jobs (`heygem_flows.single_job`) and uploads checked by
content and limits, stored under generated names (`heygem_flows.uploads`).

Only the tab modules, common.py and app.py import Gradio; importing this package does not.
"""

from __future__ import annotations

__all__ = ["serve"]


def serve(*, host: str | None = None, port: int | None = None, share: bool = False, quiet: bool = True) -> None:
    """Start the app with the HEYGEM_* settings (see `heygem_flows.ui.app.start`) and serve until Ctrl+C."""
    from heygem_flows.ui.app import start
    from heygem_ops.settings import get_settings

    start(get_settings(), host=host, port=port, share=share, quiet=quiet).block()
