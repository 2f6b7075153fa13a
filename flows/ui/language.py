"""The page's language: Chinese or English, from the browser's preference, with a switch on the page.

Components are built with English catalogue ids (`N_("Engine")`, choices, table headers) or, where a
text has parameters, a `Message` attached with `texts(component, value=Message(...))`. `relabel`
turns every such text of the app into the chosen language; handlers wrapped with `localized` take
the switch as their first input and run in its language, so the status lines, tables and errors
they return read in it too. Gradio's own words (the upload box's) follow the browser's language;
the few its frontend asks for but ships in no language come from our catalogue (`gradio_gaps`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from heygem_ops.i18n import DEFAULT, N_, Language, Message, catalogue, from_accept_language, normalize, use_language

CHOICES = [("中文", "zh"), ("English", "en")]  # each language named in itself
TRANSLATED = ("label", "info", "placeholder")  # attributes holding a catalogue id, where a component has them
VALUE_TEXT = (gr.Markdown, gr.Button, gr.DownloadButton)  # components whose value is their text
ATTACHED = "heygem_texts"  # attribute name for texts with parameters: {attribute: Message}
# Keys Gradio's frontend looks up for the widgets this page uses but its Chinese locale lacks (gradio 6.31;
# "common.complete" none of its locales has): without a text it shows the English or the raw key, e.g. the
# status tracker's "In queue: 1 of 2" while a job waits, and "common.complete" announced after each event.
GRADIO_GAPS = {
    "common.complete": N_("Complete"),
    "common.progress": N_("Progress"),
    "common.upload": N_("Upload"),
    "common.webcam": N_("Webcam"),
    "common.download_all": N_("Download all"),
    "dataframe.filter": N_("Filter"),
    "dataframe.clear_filter": N_("Clear filters"),
    "status.queue_position": N_("In queue: {position} of {size}"),  # Gradio fills the parameters itself
}
GRADIO_LOCALES = ("en", "zh", "zh-CN", "zh-TW")  # browser tags Gradio may pick; ours from `normalize`


def switch() -> gr.Radio:
    """The language switch; empty until page load sets it from the browser's preference."""
    return gr.Radio(CHOICES, value=None, show_label=False, container=False, elem_id="language", min_width=160)


def gradio_gaps() -> gr.I18n:
    """Texts for `GRADIO_GAPS` in each browser language Gradio may pick (pass as ``launch(i18n=...)``)."""

    def texts(lang: Language) -> dict[str, str]:
        return {key: Message(msgid).render(lang) for key, msgid in GRADIO_GAPS.items()}

    return gr.I18n(**{tag: texts(normalize(tag) or DEFAULT) for tag in GRADIO_LOCALES})


def page_language(request: gr.Request) -> Language:
    """The page's first language (a page-load handler): what the browser's Accept-Language prefers, else English."""
    headers = getattr(request, "headers", None) or {}
    return from_accept_language(headers.get("accept-language")) or DEFAULT


def texts(component: Any, **attached: Message) -> Any:
    """Attach texts with parameters to `component` (e.g. ``value=Message("Uploads: up to {mb} MiB", mb=500)``)."""
    setattr(component, ATTACHED, attached)
    return component


def _is_id(text: Any) -> bool:
    return isinstance(text, str) and text in catalogue("zh")  # every id has a Chinese text (tests/test_i18n.py)


def _updates_of(block: Any) -> dict[str, Callable[[Language], Any]]:
    """attribute → how to render it, for each translatable text of `block`."""
    found: dict[str, Callable[[Language], Any]] = {}
    for name, message in getattr(block, ATTACHED, {}).items():
        found[name] = message.render
    for name in TRANSLATED:
        text = getattr(block, name, None)
        if name not in found and _is_id(text):
            found[name] = functools.partial(_translated, text)
    value = getattr(block, "value", None)
    if isinstance(block, VALUE_TEXT) and "value" not in found and _is_id(value):
        found["value"] = functools.partial(_translated, value)
    choices = getattr(block, "choices", None)
    if isinstance(choices, list) and any(isinstance(c, tuple) and _is_id(c[0]) for c in choices):
        found["choices"] = functools.partial(_translated_choices, choices)
    headers = getattr(block, "headers", None)
    if isinstance(block, gr.Dataframe) and isinstance(headers, list) and any(_is_id(h) for h in headers):
        found["headers"] = functools.partial(_translated_headers, headers)
    return found


def _translated(msgid: str, lang: Language) -> str:
    return Message(msgid).render(lang)


def _translated_choices(choices: list[tuple[str, Any]], lang: Language) -> list[tuple[str, Any]]:
    return [(Message(name).render(lang), value) for name, value in choices]


def _translated_headers(headers: list[str], lang: Language) -> list[str]:
    return [Message(header).render(lang) for header in headers]


def relabelling(demo: gr.Blocks) -> tuple[list[Any], Callable[[Language], list[Any]]]:
    """(the components with texts to translate, a function giving their updates in a language)."""
    blocks = [block for block in demo.blocks.values() if _updates_of(block)]
    plans = [_updates_of(block) for block in blocks]

    def relabel(lang: str | None) -> list[Any]:
        chosen = normalize(lang) or DEFAULT
        return [gr.update(**{name: render(chosen) for name, render in plan.items()}) for plan in plans]

    return blocks, relabel


def localized(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` taking the page's language (the switch's value) as a first input, run in that language."""
    if inspect.isasyncgenfunction(fn):

        async def stream(lang: str | None, *args: Any) -> Any:
            chosen = normalize(lang) or DEFAULT
            steps = fn(*args)
            try:
                while True:
                    with use_language(chosen):
                        try:
                            item = await steps.__anext__()
                        except StopAsyncIteration:
                            return
                    yield item
            finally:
                await steps.aclose()

        return stream

    def call(lang: str | None, *args: Any) -> Any:
        with use_language(normalize(lang) or DEFAULT):
            return fn(*args)

    return call
