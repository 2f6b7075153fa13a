"""Pieces the Single and Batch tabs share: the option widgets, upload pickers, and status rendering."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import torch

from heygem_flows.jobs_queue import FAILED, QUEUED, TicketView
from heygem_flows.single_job import Choices
from heygem_flows.ui.context import UiContext
from heygem_flows.uploads import Upload
from heygem_ops.constants import STILL_FPS
from heygem_ops.engines.registry import available_engines
from heygem_ops.i18n import N_, Message, translate
from heygem_ops.progress import stage_name

QUALITIES = [(N_("High (CRF 16)"), 16), (N_("Balanced (CRF 23)"), 23), (N_("Small file (CRF 28)"), 28)]
FACES = [(N_("largest"), "largest"), (N_("center"), "center"), *((rank, rank) for rank in ("0", "1", "2", "3"))]
# Output size choices, (shown text, long side in px); 0 keeps the default: photos 1920, videos as they are.
SIZES = [
    (N_("Default (photos 1920 px, videos as recorded)"), 0),
    ("1280 px", 1280),
    ("1920 px", 1920),
    ("2560 px", 2560),
]
POLL_S = 0.5  # how often a waiting handler looks at its ticket


@dataclass(frozen=True)
class OptionWidgets:
    """The job options a tab shows, in `Choices` order."""

    engine: gr.Dropdown
    device: gr.Dropdown
    face: gr.Dropdown
    quality: gr.Dropdown
    still_fps: gr.Number
    max_size: gr.Dropdown

    def inputs(self) -> list[gr.components.Component]:
        return [self.engine, self.device, self.face, self.quality, self.still_fps, self.max_size]


def option_widgets(ctx: UiContext, prefix: str) -> OptionWidgets:
    """Engine, device, face, output quality and size (plus the frame rate used for a still portrait)."""
    settings = ctx.settings
    qualities = (
        QUALITIES
        if any(crf == settings.x264_crf for _, crf in QUALITIES)
        else [(f"CRF {settings.x264_crf}", settings.x264_crf), *QUALITIES]
    )
    with gr.Row():
        engine = gr.Dropdown(available_engines(), value=settings.engine, label=N_("Engine"), elem_id=f"{prefix}-engine")
        device = gr.Dropdown(
            device_choices(settings.device), value=settings.device, label=N_("Device"), elem_id=f"{prefix}-device"
        )
        face = gr.Dropdown(
            FACES, value="largest", label=N_("Face (largest, most central, or size rank)"), elem_id=f"{prefix}-face"
        )
        quality = gr.Dropdown(
            qualities, value=settings.x264_crf, label=N_("Output quality"), elem_id=f"{prefix}-quality"
        )
        still_fps = gr.Number(
            float(STILL_FPS), minimum=1, maximum=120, label=N_("Frame rate for a portrait"), elem_id=f"{prefix}-fps"
        )
        max_size = gr.Dropdown(SIZES, value=0, label=N_("Largest side of the output"), elem_id=f"{prefix}-size")
    return OptionWidgets(engine, device, face, quality, still_fps, max_size)


def limits_text(ctx: UiContext) -> Message:
    """The upload limits, and the settings that change them."""
    return Message(
        "Uploads: up to {mb:g} MiB and {seconds:g} s per file (HEYGEM_UI_MAX_UPLOAD_MB, HEYGEM_UI_MAX_DURATION_S).",
        mb=ctx.settings.ui_max_upload_mb,
        seconds=ctx.settings.ui_max_duration_s,
    )


def choices_from(
    engine: str, device: str, face: str, crf: int | None, still_fps: float | None, max_size: int | None = None
) -> Choices:
    return Choices(
        engine or None,
        device or None,
        face or None,
        int(crf) if crf is not None else None,
        float(still_fps) if still_fps else None,
        max_size=int(max_size) if max_size else None,
    )


def device_choices(default: str) -> list[tuple[str, str]]:
    """(shown text, device spec): "auto" in words, the others as they are spelled."""
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found += ["cuda", *(f"cuda:{index}" for index in range(torch.cuda.device_count()))]
    return [
        (N_("auto (GPU when there is one)") if spec == "auto" else spec, spec)
        for spec in dict.fromkeys([*found, default])
    ]


def picker_choices(uploads: list[Upload]) -> list[tuple[str, str]]:
    """(shown text, stored name) pairs for a dropdown of recent uploads."""
    return [(upload.describe(), upload.name) for upload in uploads]


def error_markdown(text: str) -> str:
    return f"**{html.escape(text)}**"


def upload_name(path: str | Path | None) -> str | None:
    """The browser's file name, as Gradio kept it (the last part of its temp path): a label only."""
    return Path(path).name if path else None


def queued_text(position: int) -> str:
    """ "Queued: 2 jobs ahead" or "Queued: next in line", in the page's language."""
    if not position:
        return translate("Queued: next in line")
    return translate("Queued: 1 job ahead" if position == 1 else "Queued: {count} jobs ahead", count=position)


def status_markdown(view: TicketView | None, done_text: str = "") -> str:
    """Queued (n ahead), running (stage, frames), done, or failed (with the error)."""
    if view is None:
        return ""
    if view.state == QUEUED:
        return queued_text(view.position)
    if view.state == FAILED:
        return error_markdown(translate("Failed: {error}", error=view.error))
    if view.done:
        return translate("Done {details}", details=done_text).rstrip()
    stages = [
        translate("{stage} {done}/{total} frames", stage=stage_name(stage), done=done, total=total)
        for job in view.progress.values()
        for stage, (done, total) in job.items()
    ]
    shown = " · ".join(stages) if stages else translate("reading the inputs")
    return translate("Running ({seconds:.0f} s): {stages}", seconds=view.elapsed_s, stages=shown)


def progress_html(view: TicketView | None) -> str:
    """A progress bar per stage of the (single) job, or nothing."""
    if view is None or not view.progress:
        return ""
    bars = []
    for job in view.progress.values():
        for stage, (done, total) in job.items():
            shown = html.escape(
                translate("{stage}: {done}/{total} frames", stage=stage_name(stage), done=done, total=total)
            )
            bars.append(
                f'<div class="heygem-stage"><span>{shown}</span> '
                f'<progress max="{max(total, 1)}" value="{done}" data-stage="{html.escape(stage)}"></progress></div>'
            )
    return "".join(bars)


def table_frame(lines: list[list[Any]], headers: list[str]) -> pd.DataFrame:
    """Table lines for a Dataframe, headers and `Message` cells in the page's language."""
    shown = [[cell.render() if isinstance(cell, Message) else cell for cell in line] for line in lines]
    return pd.DataFrame(shown, columns=[translate(header) for header in headers])
