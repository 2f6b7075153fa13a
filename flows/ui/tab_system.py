"""System tab: device in use, engines and face trackers, Ray and Prefect status, the log's last lines."""

from __future__ import annotations

import html
import json
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from heygem_flows.jobs_queue import error_text
from heygem_flows.ui.context import UiContext
from heygem_flows.ui.language import localized, texts
from heygem_ops.device import choose_device, describe
from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import N_, Message, translate
from heygem_ops.logs import LOG_FILE_NAME, get_logger

log = get_logger("ui.system")
LOG_LINES = 200
AREAS = {
    "runtime": N_("runtime"),
    "gpu": N_("GPU"),
    "engine": N_("engine"),
    "tracker": N_("face tracker"),
    "encoder": N_("encoder"),
    "orchestration": N_("orchestration"),
    "internal": N_("internal"),
}  # a doctor check's area, as the summary table names it


def build(ctx: UiContext, language: gr.Radio) -> tuple[gr.Tab, Any]:
    """Lay out the tab; returns it and its refresh wiring (run when the tab is opened)."""
    with gr.Tab(N_("System"), id="system", elem_id="tab-system") as tab:
        refresh = gr.Button(N_("Refresh"), size="sm", elem_id="system-refresh")
        summary = gr.Markdown(elem_id="system-summary")
        with gr.Accordion(N_("Full environment report"), open=False):
            report = gr.Code(language="json", interactive=False, elem_id="system-report")
        log_label = Message("Last {count} lines of the log", count=LOG_LINES)
        log_tail = gr.Code(
            label=str(log_label),
            language=None,
            interactive=False,
            lines=15,
            max_lines=30,
            elem_id="system-log",
        )
        texts(log_tail, label=log_label)
    show = localized(partial(system_view, ctx))
    refresh.click(show, inputs=[language], outputs=[summary, report, log_tail])
    tab.select(show, inputs=[language], outputs=[summary, report, log_tail])
    return tab, (show, [language], [summary, report, log_tail])


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
    facts = {translate("device in use"): _device_in_use(settings.device)}
    try:
        from heygem_ops.doctor import diagnose

        report = diagnose().as_dict()
    except Exception as error:  # the UI must show the rest even when a probe fails
        log.warning("environment report failed: %s", error)
        facts[translate("environment report")] = translate(
            "unavailable ({error})", error=f"{type(error).__name__}: {error}"
        )
    generate, bulk = settings.ui_generate_deployment, settings.ui_bulk_deployment
    here = translate("in this process (Prefect, no server)")
    facts[translate("UI jobs")] = translate("as Prefect deployment {name}", name=generate) if generate else here
    facts[translate("UI batches")] = translate("as Prefect deployment {name}", name=bulk) if bulk else here
    facts[translate("UI workers")] = translate(
        "{workers} job(s) or batch(es) at a time; {active} queued or running",
        workers=settings.ui_workers,
        active=ctx.queue.active(),
    )
    facts[translate("UI output folder")] = str(ctx.workspace.outputs)
    facts[translate("UI upload limits")] = translate(
        "{mb:g} MiB and {seconds:g} s per file", mb=settings.ui_max_upload_mb, seconds=settings.ui_max_duration_s
    )
    return report, facts


def _device_in_use(spec: str) -> str:
    try:
        return f"{describe(choose_device(spec))} (HEYGEM_DEVICE={spec})"
    except HeyGemError as error:
        return error_text(error)


def summary_markdown(report: dict[str, Any], facts: dict[str, str]) -> str:
    """Key facts, then one table row per doctor check (engines, trackers, encoders, Ray, Prefect, ...)."""
    lines = [f"- **{html.escape(key)}**: {html.escape(value)}" for key, value in facts.items()]
    if report:
        gpus = ", ".join(f"cuda:{gpu['index']} {gpu['name']}" for gpu in report["gpus"]) or translate("none")
        runtime = translate(
            "Python {python}, torch {torch}, CUDA {cuda}, GPUs: {gpus}",
            python=report["python"],
            torch=report["torch"],
            cuda=report["cuda"] or translate("none (CPU build)"),
            gpus=html.escape(gpus),
        )
        lines.append(f"- **{translate('runtime')}**: {runtime}")
        header = [translate(name) for name in (N_("area"), N_("name"), N_("status"), N_("found"), N_("to fix"))]
        lines += ["", "| " + " | ".join(header) + " |", "|---|---|---|---|---|"]
        for check in report["checks"]:
            status = translate(
                "usable" if check["ok"] else ("missing" if check["required"] else "not set up (optional)")
            )
            area = translate(AREAS[check["area"]]) if check["area"] in AREAS else check["area"]
            cells = [area, check["name"], status, check["detail"], check["fix"] or ""]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return html.escape(str(text)).replace("|", "\\|").replace("\n", " ")


def log_tail(ctx: UiContext, lines: int = LOG_LINES) -> str:
    """The last `lines` lines of the log file (HEYGEM_LOG_DIR/heygem.log)."""
    path = Path(ctx.settings.resolved_log_dir) / LOG_FILE_NAME
    if not path.is_file():
        return translate("(no log yet at {path})", path=path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))
