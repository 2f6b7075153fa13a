"""Batch tab: one audio × many templates, one template × many audios, or an uploaded job manifest.

The batch runs through the `bulk` flow: one failing job is recorded and the rest go on. The table
follows every job live (queued, running with its frames, done, failed with the reason), and when the
batch ends all its videos can be downloaded as one zip.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from typing import Any

import gradio as gr

from heygem_flows.jobs_queue import FAILED, QUEUED, TicketView, error_text
from heygem_flows.ui.common import (
    POLL_S,
    choices_from,
    error_markdown,
    limits_text,
    option_widgets,
    picker_choices,
    queued_text,
    table_frame,
    upload_name,
)
from heygem_flows.ui.context import UiContext
from heygem_flows.ui.jobs import (
    DONE,
    DONE_BEFORE,
    FAILED_JOB,
    FINISHED,
    BatchPlan,
    batch_table,
    plan_manifest,
    plan_pairs,
    run_batch,
    zip_outputs,
)
from heygem_flows.ui.language import localized, texts
from heygem_flows.ui.tab_single import _discard_temp
from heygem_ops.errors import HeyGemError, InputError
from heygem_ops.i18n import N_, Message, translate

PAIRS, MANIFEST = "pairs", "manifest"  # the batch modes
MODES = [
    (N_("Templates × audio (one audio with many templates, or one template with many audios)"), PAIRS),
    (N_("Job manifest (CSV, JSON Lines or Parquet) with the media files it names"), MANIFEST),
]
HEADERS = [N_("template"), N_("audio"), N_("status"), N_("seconds"), N_("error")]
KIND_LABELS = {
    "template": (N_("Upload templates"), N_("Templates")),
    "audio": (N_("Upload audios"), N_("Audios")),
}  # (upload box, picker) of each kind


def build(ctx: UiContext, language: gr.Radio) -> dict[str, gr.components.Component]:
    """Lay out the tab and wire its events; returns the pickers, so page load can refresh them."""
    with gr.Tab(N_("Batch"), id="batch", elem_id="tab-batch"):
        intro = Message(
            "Many jobs at once; a failing job is recorded and the rest go on. {limits}", limits=limits_text(ctx)
        )
        texts(gr.Markdown(str(intro)), value=intro)
        mode = gr.Radio(MODES, value=PAIRS, label=N_("Batch of"), elem_id="batch-mode")
        with gr.Group(visible=True) as pairs_group, gr.Row():
            templates_files, templates_pick = _media_column(ctx, "template")
            audios_files, audios_pick = _media_column(ctx, "audio")
        with gr.Group(visible=False) as manifest_group, gr.Row():
            manifest_file = gr.File(
                height=150,
                label=N_("Job manifest: columns template,audio (optional: engine, face, crf, ...)"),
                elem_id="batch-manifest-upload",
            )
            media_files = gr.File(
                height=150,
                file_count="multiple",
                label=N_("Media files the manifest names"),
                elem_id="batch-media-upload",
            )
        upload_message = gr.Markdown(elem_id="batch-upload-message")
        options = option_widgets(ctx, "batch")
        run_button = gr.Button(N_("Run batch"), variant="primary", elem_id="batch-run")
        status = gr.Markdown(elem_id="batch-status")
        table = gr.Dataframe(
            headers=HEADERS,
            value=[],
            interactive=False,
            wrap=True,
            column_widths=["22%", "22%", "18%", "8%", "30%"],
            elem_id="batch-table",
        )
        zip_button = gr.DownloadButton(N_("Download all (zip)"), interactive=False, elem_id="batch-zip")
        manifest_state = gr.State(None)  # stored name of the uploaded manifest (server side)
        media_state = gr.State({})  # file name the manifest uses → stored upload name (server side)

    mode.change(
        lambda m: (gr.update(visible=m == PAIRS), gr.update(visible=m == MANIFEST)),
        inputs=[mode],
        outputs=[pairs_group, manifest_group],
    )
    upload_options = {"concurrency_limit": None, "show_progress": "minimal"}
    for files, pick, kind in ((templates_files, templates_pick, "template"), (audios_files, audios_pick, "audio")):
        files.upload(
            localized(partial(ingest_many, ctx, kind)),
            inputs=[language, files, pick],
            outputs=[pick, upload_message, files],
            **upload_options,
        )
    manifest_file.upload(
        localized(partial(ingest_manifest, ctx)),
        inputs=[language, manifest_file],
        outputs=[manifest_state, upload_message, manifest_file],
        **upload_options,
    )
    media_files.upload(
        localized(partial(ingest_media, ctx)),
        inputs=[language, media_files, media_state],
        outputs=[media_state, upload_message, media_files],
        **upload_options,
    )
    run_button.click(
        localized(partial(run, ctx)),
        inputs=[language, mode, templates_pick, audios_pick, manifest_state, media_state, *options.inputs()],
        outputs=[status, table, zip_button],
        concurrency_limit=None,  # only submits and polls: the job queue does the work
        show_progress="hidden",
    )
    return {"templates": templates_pick, "audios": audios_pick}


def _media_column(ctx: UiContext, kind: str) -> tuple[gr.File, gr.Dropdown]:
    """An upload box and a picker of recent uploads for one kind ("template" or "audio")."""
    with gr.Column():
        upload_label, pick_label = KIND_LABELS[kind]
        files = gr.File(height=150, file_count="multiple", label=upload_label, elem_id=f"batch-{kind}s-upload")
        pick = gr.Dropdown(
            picker_choices(ctx.uploads.recent(kind)),
            value=[],
            multiselect=True,
            label=pick_label,
            elem_id=f"batch-{kind}s",
        )
    return files, pick


def ingest_many(ctx: UiContext, kind: str, paths: list[str] | None, selected: list[str] | None) -> tuple:
    """Store each upload; add the accepted ones to the selection and list the refused ones."""
    accepted, refused = _ingest_all(ctx, kind, paths)
    selection = list(dict.fromkeys([*(selected or []), *(upload.name for upload in accepted)]))
    choices = picker_choices(ctx.uploads.recent(kind))
    return gr.update(choices=choices, value=selection), _upload_message(accepted, refused), None


def ingest_manifest(ctx: UiContext, path: str | None) -> tuple:
    accepted, refused = _ingest_all(ctx, "manifest", [path] if path else [])
    return (accepted[0].name if accepted else None), _upload_message(accepted, refused), None


def ingest_media(ctx: UiContext, paths: list[str] | None, media: dict[str, str] | None) -> tuple:
    """Store the manifest's media; the manifest names them by the file names they were uploaded as."""
    accepted, refused = _ingest_all(ctx, "media", paths)
    media = {**(media or {}), **{upload.label: upload.name for upload in accepted}}
    return media, _upload_message(accepted, refused), None


def _ingest_all(ctx: UiContext, kind: str, paths: list[str] | None) -> tuple[list, list[str]]:
    accepted, refused = [], []
    for path in paths or []:
        try:
            accepted.append(ctx.uploads.ingest(path, kind, upload_name(path)))
        except Exception as error:  # refused (HeyGemError) or a bug: either way the user reads why
            refused.append(error_text(error))
        finally:
            _discard_temp(ctx, path)
    return accepted, refused


def _upload_message(accepted: list, refused: list[str]) -> str:
    lines = [translate("Accepted: {upload}", upload=upload.describe()) for upload in accepted]
    lines += [error_markdown(text) for text in refused]
    return "  \n".join(lines)


async def run(
    ctx: UiContext,
    mode: str,
    templates: list[str],
    audios: list[str],
    manifest: str | None,
    media: dict[str, str] | None,
    *option_values: Any,
) -> AsyncIterator[tuple]:
    """Plan the batch, queue it, then follow it: the table refreshes until every job has ended.

    Async, so a waiting browser tab holds no server thread while its batch runs or queues.
    """
    try:
        plan = await asyncio.to_thread(_plan, ctx, mode, templates, audios, manifest, media or {}, *option_values)
    except HeyGemError as error:
        yield error_markdown(error_text(error)), table_frame([], HEADERS), gr.update(value=None, interactive=False)
        return
    out, settings = ctx.workspace.outputs, ctx.settings
    ticket = ctx.queue.submit(
        f"batch of {len(plan.jobs) + len(plan.refused)} jobs",  # a log label
        lambda t: run_batch(t, plan, out, settings.ui_bulk_deployment, settings.ray_address),
    )
    shown = None
    while True:
        view = ctx.queue.view(ticket.id)
        if view is None:
            forgotten = translate("The batch was forgotten by the server; see the History tab")
            yield error_markdown(forgotten), table_frame([], HEADERS), gr.update()
            return
        lines = await asyncio.to_thread(batch_table, plan, view, ctx.store)
        update = (_status(view, lines), table_frame(lines, HEADERS))
        if view.done:
            break
        if shown is None or update[0] != shown[0] or not update[1].equals(shown[1]):
            shown = update
            yield *update, gr.update(value=None, interactive=False)
        await asyncio.sleep(POLL_S)
    yield await asyncio.to_thread(_finished, ctx, plan, view, lines)


def _plan(
    ctx: UiContext,
    mode: str,
    templates: list[str],
    audios: list[str],
    manifest: str | None,
    media: dict[str, str],
    *option_values: Any,
) -> BatchPlan:
    choices = choices_from(*option_values)
    labels = ctx.labels()
    if mode == MANIFEST:
        if not manifest:
            raise InputError("no job manifest uploaded", hint="upload a CSV with template,audio columns")
        files = {label: ctx.uploads.resolve(name) for label, name in media.items()}
        return plan_manifest(ctx.uploads.resolve(manifest, "manifest"), files, choices, ctx.workspace, labels)
    template_paths = [ctx.uploads.resolve(name, "template") for name in templates or []]
    audio_paths = [ctx.uploads.resolve(name, "audio") for name in audios or []]
    return plan_pairs(template_paths, audio_paths, choices, ctx.workspace, labels)


def _status(view: TicketView, lines: list[list[Any]]) -> str:
    if view.state == QUEUED:
        return queued_text(view.position)
    ended = sum(1 for line in lines if line[2].msgid in FINISHED)
    failed = sum(1 for line in lines if line[2].msgid == FAILED_JOB)
    running = translate(
        "Running ({seconds:.0f} s): {ended} of {count} jobs finished",
        seconds=view.elapsed_s,
        ended=ended,
        count=len(lines),
    )
    return translate("{status}, {failed} failed", status=running, failed=failed) if failed else running


def _finished(ctx: UiContext, plan: BatchPlan, view: TicketView, lines: list[list[Any]]) -> tuple:
    failed = sum(1 for line in lines if line[2].msgid not in (DONE, DONE_BEFORE))
    since = datetime.fromtimestamp(view.submitted_at).astimezone()
    archive, count = zip_outputs(plan, ctx.store, since, ctx.workspace.downloads / f"heygem-batch-{view.id[:12]}.zip")
    text = translate(
        "Done in {seconds:.1f} s: {made} of {count} jobs made a video",
        seconds=view.elapsed_s,
        made=len(lines) - failed,
        count=len(lines),
    )
    if failed:
        text = translate("{status}, {failed} failed (see the table)", status=text, failed=failed)
    if view.state == FAILED:
        text = error_markdown(translate("Batch failed: {error}", error=view.error))
    zipped = gr.update(value=str(archive), interactive=True) if count else gr.update(value=None, interactive=False)
    return text, table_frame(lines, HEADERS), zipped
