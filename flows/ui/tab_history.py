"""History tab: every result of the UI's results dataset, newest first, with preview, download and delete."""

from __future__ import annotations

from functools import partial
from typing import Any

import gradio as gr

from heygem_flows.jobs_queue import error_text
from heygem_flows.ui.common import error_markdown, table_frame
from heygem_flows.ui.context import UiContext
from heygem_flows.ui.history import HEADERS, delete_result, history_page, status_text
from heygem_flows.ui.language import localized
from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import N_, stored, translate

NOTHING_SELECTED = N_("Select a row to preview it.")


def build(ctx: UiContext, language: gr.Radio) -> tuple[gr.Tab, Any]:
    """Lay out the tab and wire its events; returns the tab and the refresh wiring (for page load)."""
    with gr.Tab(N_("History"), id="history", elem_id="tab-history") as tab:
        with gr.Row():
            refresh = gr.Button(N_("Refresh"), size="sm", elem_id="history-refresh")
            previous = gr.Button(N_("◀ Newer"), size="sm", elem_id="history-prev")
            page_text = gr.Markdown(elem_id="history-page")
            following = gr.Button(N_("Older ▶"), size="sm", elem_id="history-next")
        table = gr.Dataframe(
            headers=HEADERS,
            value=[],
            interactive=False,
            wrap=True,
            column_widths=["17%", "9%", "22%", "22%", "7%", "7%", "16%"],
            elem_id="history-table",
        )
        details = gr.Markdown(NOTHING_SELECTED, elem_id="history-details")
        with gr.Row():
            video = gr.Video(label=N_("Preview"), interactive=False, elem_id="history-video")
            with gr.Column():
                download = gr.DownloadButton(N_("Download MP4"), interactive=False, elem_id="history-download")
                delete = gr.Button(
                    N_("Delete this result"), variant="stop", interactive=False, elem_id="history-delete"
                )
        page = gr.State(1)
        job_ids = gr.State([])  # the shown page's job ids, server side: a click picks an index, never a path
        selected = gr.State(None)

    listing = [table, page_text, page, job_ids]
    cleared = [details, video, download, delete, selected]
    show = localized(partial(show_page, ctx))
    refresh.click(show, inputs=[language, page], outputs=listing + cleared)
    previous.click(localized(lambda p: show_page(ctx, p - 1)), inputs=[language, page], outputs=listing + cleared)
    following.click(localized(lambda p: show_page(ctx, p + 1)), inputs=[language, page], outputs=listing + cleared)
    tab.select(show, inputs=[language, page], outputs=listing + cleared)

    def on_select(lang: str | None, ids: list[str], event: gr.SelectData) -> tuple:  # Gradio reads its type hints
        return localized(lambda: select_row(ctx, ids, event))(lang)

    table.select(on_select, inputs=[language, job_ids], outputs=cleared)
    delete.click(localized(partial(delete_selected, ctx)), inputs=[language, selected, page], outputs=listing + cleared)
    return tab, (show, [language, page], listing + cleared)


def show_page(ctx: UiContext, page: int) -> tuple:
    """The table of page `page` (clamped), and a cleared selection."""
    found = history_page(ctx.store, page, ctx.settings.ui_page_size)
    count = translate("1 result" if found.total == 1 else "{count} results", count=found.total)
    text = translate("Page {page} of {pages} · {results}", page=found.page, pages=found.pages, results=count)
    table = table_frame(found.table(ctx.labels()), HEADERS)
    return (table, text, found.page, found.job_ids, *_nothing_selected())


def _nothing_selected(message: str | None = None) -> tuple:
    none = gr.update(value=None, interactive=False)
    return message or translate(NOTHING_SELECTED), None, none, gr.update(interactive=False), None


def select_row(ctx: UiContext, job_ids: list[str], event: gr.SelectData) -> tuple:
    """Preview, download and delete for the clicked row."""
    row_index = event.index[0] if isinstance(event.index, list | tuple) else event.index
    if not isinstance(row_index, int) or not 0 <= row_index < len(job_ids):
        return _nothing_selected()
    job_id = job_ids[row_index]
    latest = ctx.store.latest()
    found = latest[latest["job_id"] == job_id]
    if found.empty:
        return _nothing_selected(translate("That result is gone; refresh the page."))
    row = found.iloc[0]
    labels = ctx.labels()
    text = _describe(row, labels)
    output = ctx.workspace.outputs / str(row["output"]) if isinstance(row["output"], str) and row["output"] else None
    playable = row["status"] in ("succeeded", "skipped") and output is not None and output.is_file()
    path = str(output) if playable else None
    return text, path, gr.update(value=path, interactive=playable), gr.update(interactive=True), job_id


def _describe(row: Any, labels: dict[str, str]) -> str:
    def name(value: Any) -> str:
        text = str(value or "")
        return labels.get(text.rsplit("/", 1)[-1], text.rsplit("/", 1)[-1])

    parts = [
        translate(
            "**{status}** · job `{job}` · {template} + {audio}",
            status=status_text(row["status"]),
            job=row["job_id"],
            template=name(row["template"]),
            audio=name(row["audio"]),
        )
    ]
    if row["status"] in ("succeeded", "skipped") and row["frames"] is not None and row["frames"] == row["frames"]:
        parts.append(
            translate(
                "{frames} frames at {fps:.3g} fps, {duration:.1f} s",
                frames=int(row["frames"]),
                fps=row["fps"],
                duration=row["duration_s"],
            )
        )
    if isinstance(row.get("error_message"), str) and row["error_message"]:
        recorded = row["error_i18n"] if isinstance(row.get("error_i18n"), str) else None
        error = stored(recorded, row["error_message"])
        parts.append(error_markdown(translate("{kind}: {message}", kind=row["error_type"], message=error)))
    return "  \n".join(parts)


def delete_selected(ctx: UiContext, job_id: str | None, page: int) -> tuple:
    """Delete the selected result's output, record the deletion, and show the page again."""
    if not job_id:
        return (*show_page(ctx, page)[:4], *_nothing_selected())
    try:
        delete_result(ctx.store, job_id)
        message = translate(
            "Deleted result `{job}` (its output file is removed; the results manifest records it).", job=job_id
        )
    except HeyGemError as error:
        message = error_markdown(error_text(error))
    return (*show_page(ctx, page)[:4], *_nothing_selected(message))
