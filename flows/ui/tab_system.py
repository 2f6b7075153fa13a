"""System tab: device in use, engines and face trackers, Ray and Prefect status, the log's last lines."""

from __future__ import annotations

import dataclasses
import html
import json
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from flows.ui.context import UiContext
from heygem_ops.logs import LOG_FILE_NAME, get_logger

log = get_logger("ui.system")
LOG_LINES = 200


def build(ctx: UiContext) -> tuple[gr.Tab, Any]:
    """Lay out the tab; returns it and its refresh wiring (run when the tab is opened)."""
    with gr.Tab("System", id="system", elem_id="tab-system") as tab:
        refresh = gr.Button("Refresh", size="sm", elem_id="system-refresh")
        summary = gr.Markdown(elem_id="system-summary")
        with gr.Accordion("Full environment report", open=False):
            report = gr.Code(language="json", interactive=False, elem_id="system-report")
        log_tail = gr.Code(
            label=f"Last {LOG_LINES} lines of the log",
            language=None,
            interactive=False,
            lines=15,
            max_lines=30,
            elem_id="system-log",
        )
    show = partial(system_view, ctx)
    refresh.click(show, outputs=[summary, report, log_tail])
    tab.select(show, outputs=[summary, report, log_tail])
    return tab, (show, [], [summary, report, log_tail])


def system_view(ctx: UiContext) -> tuple[str, str, str]:
    facts = environment(ctx)
    lines = [f"- **{html.escape(key)}**: {html.escape(_text(value))}" for key, value in facts.items()]
    return "\n".join(lines), json.dumps(facts, indent=2, default=str), log_tail(ctx)


def environment(ctx: UiContext) -> dict[str, Any]:
    """The doctor's structured report (device, engines, trackers, Ray, Prefect), plus what the UI itself uses."""
    facts: dict[str, Any] = {}
    try:
        from heygem_ops import doctor

        facts.update(_as_dict(doctor.diagnose()))
    except Exception as error:  # the UI must show the rest even when a probe fails
        log.warning("environment report failed: %s", error)
        facts["environment report"] = f"unavailable ({type(error).__name__}: {error})"
    settings = ctx.settings
    facts["UI jobs"] = (
        f"as Prefect deployment {settings.ui_generate_deployment}" if settings.ui_generate_deployment else "in-process"
    )
    facts["UI batches"] = (
        f"as Prefect deployment {settings.ui_bulk_deployment}" if settings.ui_bulk_deployment else "in-process"
    )
    facts["UI workers"] = settings.ui_workers
    facts["UI output folder"] = str(ctx.workspace.outputs)
    facts["UI upload limits"] = f"{settings.ui_max_upload_mb:g} MiB, {settings.ui_max_duration_s:g} s"
    return facts


def _as_dict(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    if hasattr(report, "as_dict"):
        return dict(report.as_dict())
    return dict(report)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    return str(value)


def log_tail(ctx: UiContext, lines: int = LOG_LINES) -> str:
    """The last `lines` lines of the log file (HEYGEM_LOG_DIR/heygem.log)."""
    path = Path(ctx.settings.resolved_log_dir) / LOG_FILE_NAME
    if not path.is_file():
        return f"(no log yet at {path})"
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))
