"""The app: four tabs over one `UiContext`, served on loopback unless told otherwise.

Nothing here reaches the internet: analytics and the version check are off, fonts ship with Gradio,
and a public share link is made only when the caller asks for one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from heygem_ops.settings import Settings

OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no telemetry, no version check against api.gradio.app
    "GRADIO_SSR_MODE": "False",  # no Node server
    "HF_HUB_OFFLINE": "1",  # huggingface_hub (a Gradio dependency) never phones home
}


def configure_gradio(temp_dir: Path) -> None:
    """Set Gradio's environment before it is imported: offline, uploads in our private temp folder."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    temp_dir.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(temp_dir)


@dataclass(frozen=True)
class Served:
    """A running app: its URL and how to stop it."""

    url: str
    share_url: str | None
    app: object  # gr.Blocks
    ctx: object  # UiContext

    def close(self) -> None:
        """Stop serving; queued jobs are dropped, a running one finishes (its row is recorded)."""
        self.app.close()  # type: ignore[attr-defined]
        self.ctx.queue.shutdown(wait=False)  # type: ignore[attr-defined]

    def block(self) -> None:
        """Serve until Ctrl+C (or the app stops), then close."""
        try:
            self.app.block_thread()  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            pass
        finally:
            self.close()


def build_app(ctx):
    """The Blocks of the whole UI; page load picks the language, then fills pickers, history and footer.

    The language comes from the browser's Accept-Language until the switch is used; every text of
    the page, and what handlers return, follows the switch (`heygem_flows.ui.language`).
    """
    import gradio as gr

    from heygem_flows.ui import language, tab_batch, tab_history, tab_single, tab_system
    from heygem_ops.i18n import N_

    with gr.Blocks(title="HeyGem-Ops", analytics_enabled=False, delete_cache=(3600, 6 * 3600)) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown(N_("## HeyGem-Ops · lip-synced video from a template and a speech recording"))
            switch = language.switch()
        with gr.Tabs(elem_id="tabs"):
            single = tab_single.build(ctx, switch)
            batch = tab_batch.build(ctx, switch)
            _, (show_history, history_inputs, history_outputs) = tab_history.build(ctx, switch)
            _, (show_system, system_inputs, system_outputs) = tab_system.build(ctx, switch)  # probes when opened
        footer = gr.Markdown(elem_id="app-footer")
        pickers = [single["template"], single["audio"], batch["templates"], batch["audios"]]
        translated, relabel = language.relabelling(demo)

        def show_language(lang: str | None) -> tuple:
            return *relabel(lang), language.localized(lambda: _footer(ctx))(lang)

        loaded = demo.load(language.page_language, outputs=[switch])
        loaded.then(language.localized(lambda: _picker_updates(ctx)), inputs=[switch], outputs=pickers)
        loaded.then(show_language, inputs=[switch], outputs=[*translated, footer])
        loaded.then(show_history, inputs=history_inputs, outputs=history_outputs)
        switch.input(show_language, inputs=[switch], outputs=[*translated, footer])
        switch.input(show_history, inputs=history_inputs, outputs=history_outputs)
        switch.input(show_system, inputs=system_inputs, outputs=system_outputs)
    demo.queue(default_concurrency_limit=None)
    return demo


def _picker_updates(ctx) -> tuple:
    import gradio as gr

    from heygem_flows.ui.common import picker_choices

    templates = picker_choices(ctx.uploads.recent("template"))
    audios = picker_choices(ctx.uploads.recent("audio"))
    return (
        gr.update(choices=templates),
        gr.update(choices=audios),
        gr.update(choices=templates),
        gr.update(choices=audios),
    )


def _footer(ctx) -> str:
    from heygem_ops.i18n import translate

    return translate(
        "Ready · jobs run as Prefect deployments · {busy} queued or running · outputs in `{folder}`"
        if ctx.settings.ui_generate_deployment
        else "Ready · jobs run in this process · {busy} queued or running · outputs in `{folder}`",
        busy=ctx.queue.active(),
        folder=ctx.workspace.outputs,
    )


def start(
    settings: Settings, *, host: str | None = None, port: int | None = None, share: bool = False, quiet: bool = True
) -> Served:
    """Build and start the app without blocking; raises OSError when the port is taken."""
    from heygem_flows.ui.context import UiContext
    from heygem_flows.ui.jobs import Workspace
    from heygem_flows.ui.language import gradio_gaps

    workspace = Workspace.from_settings(settings).create()
    configure_gradio(workspace.temp)
    ctx = UiContext.create(settings)
    demo = build_app(ctx)
    _, url, share_url = demo.launch(
        server_name=host or settings.ui_host,
        server_port=port or settings.ui_port,
        auth=login(settings),
        share=share,
        # Gradio refuses bigger files before they arrive, in English only; up to twice the limit the
        # upload check refuses them instead, naming the limit and its setting in the page's language.
        max_file_size=int(2 * settings.ui_max_upload_mb * 2**20),
        allowed_paths=[str(workspace.outputs), str(workspace.downloads)],
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        ssr_mode=False,
        footer_links=[],
        i18n=gradio_gaps(),
    )
    return Served(url, share_url, demo, ctx)


def login(settings: Settings) -> tuple[str, str] | None:
    """(user, password) from HEYGEM_UI_USER / HEYGEM_UI_PASSWORD, or None when no login is configured."""
    from heygem_ops.errors import InputError

    password = settings.ui_password.get_secret_value() if settings.ui_password else None
    if bool(settings.ui_user) != bool(password):
        raise InputError("a UI login needs both HEYGEM_UI_USER and HEYGEM_UI_PASSWORD", hint="set both, or neither")
    return (settings.ui_user, password) if settings.ui_user and password else None
