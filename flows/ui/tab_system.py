"""System tab: device in use, engines and face trackers, Ray and Prefect status, the log's last lines."""

from __future__ import annotations

import html
import json
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from flows.ui.context import UiContext
from heygem_ops.device import choose_device, describe
from heygem_ops.errors import HeyGemError
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
    """(summary as Markdown, the full report as JSON, the log's tail)."""
    report, facts = environment(ctx)
    return (
        summary_markdown(report, facts),
        json.dumps({"ui": facts, "doctor": report}, indent=2, default=str),
        log_tail(ctx),
    )


def environment(ctx: UiContext) -> tuple[dict[str, Any], dict[str, str]]:
    """The doctor's report (as a dict; empty when it fails) and what the UI itself uses."""
    report: dict[str, Any] = {}
    settings = ctx.settings
    facts = {"device in use": _device_in_use(settings.device)}
    try:
        from heygem_ops.doctor import diagnose

        report = diagnose().as_dict()
    except Exception as error:  # the UI must show the rest even when a probe fails
        log.warning("environment report failed: %s", error)
        facts["environment report"] = f"unavailable ({type(error).__name__}: {error})"
    generate, bulk = settings.ui_generate_deployment, settings.ui_bulk_deployment
    facts["UI jobs"] = f"as Prefect deployment {generate}" if generate else "in this process (Prefect, no server)"
    facts["UI batches"] = f"as Prefect deployment {bulk}" if bulk else "in this process (Prefect, no server)"
    facts["UI workers"] = f"{settings.ui_workers} job(s) or batch(es) at a time; {ctx.queue.active()} queued or running"
    facts["UI output folder"] = str(ctx.workspace.outputs)
    facts["UI upload limits"] = f"{settings.ui_max_upload_mb:g} MiB and {settings.ui_max_duration_s:g} s per file"
    return report, facts


def _device_in_use(spec: str) -> str:
    try:
        return f"{describe(choose_device(spec))} (HEYGEM_DEVICE={spec})"
    except HeyGemError as error:
        return f"{error.kind}: {error}"


def summary_markdown(report: dict[str, Any], facts: dict[str, str]) -> str:
    """Key facts, then one table row per doctor check (engines, trackers, encoders, Ray, Prefect, ...)."""
    lines = [f"- **{html.escape(key)}**: {html.escape(value)}" for key, value in facts.items()]
    if report:
        gpus = ", ".join(f"cuda:{gpu['index']} {gpu['name']}" for gpu in report["gpus"]) or "none"
        lines.append(
            f"- **runtime**: Python {report['python']}, torch {report['torch']}, "
            f"CUDA {report['cuda'] or 'none (CPU build)'}, GPUs: {html.escape(gpus)}"
        )
        lines += ["", "| area | name | status | found | to fix |", "|---|---|---|---|---|"]
        for check in report["checks"]:
            status = "usable" if check["ok"] else ("missing" if check["required"] else "not set up (optional)")
            cells = [check["area"], check["name"], status, check["detail"], check["fix"] or ""]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return html.escape(str(text)).replace("|", "\\|").replace("\n", " ")


def log_tail(ctx: UiContext, lines: int = LOG_LINES) -> str:
    """The last `lines` lines of the log file (HEYGEM_LOG_DIR/heygem.log)."""
    path = Path(ctx.settings.resolved_log_dir) / LOG_FILE_NAME
    if not path.is_file():
        return f"(no log yet at {path})"
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))
