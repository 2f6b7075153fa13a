"""Single tab: one template and one recording in, one lip-synced MP4 out, with live progress."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from heygem_flows.jobs_queue import SUCCEEDED, Ticket, error_text
from heygem_flows.single_job import Choices, plan_single, run_single
from heygem_flows.ui.common import (
    POLL_S,
    choices_from,
    error_markdown,
    limits_text,
    option_widgets,
    picker_choices,
    progress_html,
    status_markdown,
    upload_name,
)
from heygem_flows.ui.context import UiContext
from heygem_flows.ui.language import localized, texts
from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import N_, Message, translate

ACCEPTED = {"template": N_("Accepted template: {upload}"), "audio": N_("Accepted audio: {upload}")}


def build(ctx: UiContext, language: gr.Radio) -> dict[str, gr.components.Component]:
    """Lay out the tab and wire its events; returns the pickers, so page load can refresh them."""
    with gr.Tab(N_("Single"), id="single", elem_id="tab-single"):
        intro = Message(
            "Upload a **template** (a video or a portrait photo) and a **speech recording**, "
            "or pick recent uploads, then press Generate. {limits}",
            limits=limits_text(ctx),
        )
        texts(gr.Markdown(str(intro)), value=intro)
        with gr.Row():
            with gr.Column():
                template_file = gr.File(
                    height=150, label=N_("Template: video or image"), elem_id="single-template-upload"
                )
                template_pick = gr.Dropdown(
                    label=N_("Template (recent uploads)"),
                    elem_id="single-template",
                    choices=picker_choices(ctx.uploads.recent("template")),
                    value=None,
                )
            with gr.Column():
                audio_file = gr.File(
                    height=150, label=N_("Speech: recording or video with sound"), elem_id="single-audio-upload"
                )
                audio_pick = gr.Dropdown(
                    label=N_("Speech (recent uploads)"),
                    elem_id="single-audio",
                    choices=picker_choices(ctx.uploads.recent("audio")),
                    value=None,
                )
        upload_message = gr.Markdown(elem_id="single-upload-message")
        text = gr.Textbox(
            label=N_("Words spoken (optional): with the transcript the lips meet each P, B and M on time"),
            lines=2,
            elem_id="single-text",
        )
        options = option_widgets(ctx, "single")
        generate = gr.Button(N_("Generate"), variant="primary", elem_id="single-generate")
        status = gr.Markdown(elem_id="single-status")
        progress = gr.HTML(elem_id="single-progress")
        with gr.Row():
            video = gr.Video(label=N_("Result"), interactive=False, elem_id="single-video")
            download = gr.DownloadButton(N_("Download MP4"), interactive=False, elem_id="single-download")

    for file, pick, kind in ((template_file, template_pick, "template"), (audio_file, audio_pick, "audio")):
        file.upload(
            localized(partial(ingest, ctx, kind)),
            inputs=[language, file],
            outputs=[pick, upload_message, file],
            concurrency_limit=None,
            show_progress="minimal",
        )
    generate.click(
        localized(partial(run, ctx)),
        inputs=[language, template_pick, audio_pick, text, *options.inputs()],
        outputs=[status, progress, video, download],
        concurrency_limit=None,  # only submits and polls: the job queue does the work
        show_progress="hidden",
    )
    return {"template": template_pick, "audio": audio_pick}


def ingest(ctx: UiContext, kind: str, path: str | None) -> tuple[Any, str, Any]:
    """Check and store a browser upload; select it in the picker, or say why it was refused."""
    if not path:
        return gr.update(), "", gr.update()
    try:
        upload = ctx.uploads.ingest(path, kind, upload_name(path))
    except Exception as error:  # refused (HeyGemError) or a bug: either way the user reads why
        return gr.update(), error_markdown(error_text(error)), None
    finally:
        _discard_temp(ctx, path)
    choices = picker_choices(ctx.uploads.recent(kind))
    accepted = translate(ACCEPTED[kind], upload=upload.describe())
    return gr.update(choices=choices, value=upload.name), accepted, None


def _discard_temp(ctx: UiContext, path: str) -> None:
    """Gradio's temp copy is no longer needed once the upload is stored (or refused)."""
    temp = Path(path).resolve()
    if temp.is_relative_to(ctx.workspace.temp):
        temp.unlink(missing_ok=True)


async def run(
    ctx: UiContext, template_name: str | None, audio_name: str | None, text: str | None, *option_values: Any
) -> AsyncIterator[tuple]:
    """Submit the job to the queue, then follow it: status, progress bars, and finally video and download.

    Async, so a waiting browser tab holds no server thread while its job runs or queues.
    """
    try:
        template = ctx.uploads.resolve(template_name, "template")
        audio = ctx.uploads.resolve(audio_name, "audio")
        choices = dataclasses.replace(choices_from(*option_values), text=(text or "").strip() or None)
        _, output = await asyncio.to_thread(plan_single, template, audio, choices, ctx.workspace.outputs)
    except HeyGemError as error:
        yield error_markdown(error_text(error)), "", None, gr.update(value=None, interactive=False)
        return
    labels = ctx.labels()
    label = f"{labels.get(template.name, template.name)} + {labels.get(audio.name, audio.name)}"
    work = partial(run_single_job, template=template, audio=audio, choices=choices, ctx=ctx)
    ticket = ctx.queue.submit(label, work, key=str(output))
    shown = None
    yield status_markdown(ctx.queue.view(ticket.id)), "", None, gr.update(value=None, interactive=False)
    while True:
        view = ctx.queue.view(ticket.id)
        if view is None or view.done:
            break
        update = (status_markdown(view), progress_html(view))
        if update != shown:
            shown = update
            yield *update, gr.update(), gr.update()
        await asyncio.sleep(POLL_S)
    yield _finished(view)


def run_single_job(ticket: Ticket, *, template: Path, audio: Path, choices: Choices, ctx: UiContext) -> dict[str, Any]:
    settings = ctx.settings
    outputs = ctx.workspace.outputs
    return run_single(ticket, template, audio, choices, outputs, settings.ui_generate_deployment, settings.ray_address)


def _finished(view) -> tuple:
    if view is None:
        forgotten = translate("The job was forgotten by the server; see the History tab")
        return error_markdown(forgotten), "", None, gr.update()
    if view.state != SUCCEEDED:
        return status_markdown(view), "", None, gr.update(value=None, interactive=False)
    row = view.result
    text = translate(
        "in {seconds:.1f} s: {frames} frames at {fps:.3g} fps, {duration:.1f} s of video ({track})",
        seconds=view.elapsed_s,
        frames=row["frames"],
        fps=row["fps"],
        duration=row["duration_s"],
        track=translate("face track from cache" if row.get("track_cached") else "face tracked now"),
    )
    return (
        status_markdown(view, text),
        progress_html(view),
        row["output"],
        gr.update(value=row["output"], interactive=True),
    )
