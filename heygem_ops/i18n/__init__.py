"""Every user-facing text in Simplified Chinese and English, from one gettext catalogue per language.

The English text is the message id (gettext's convention): code reads naturally, `str()` of an error
stays English for logs, and the English catalogue is what `heygem_ops.i18n.extract` finds in the code
(locales/heygem.pot). Chinese lives in locales/zh/LC_MESSAGES/heygem.po, read with Babel on first use,
so a checkout works without a compile step. A message is a `Message`: its id and named parameters,
rendered in a language only when shown, so a translated message still names the file and the fix.

Which language: `current` (a context variable) — the CLI sets it from HEYGEM_LANG or the locale,
the HTTP service per request from Accept-Language, the web UI per browser session.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
DEFAULT: Language = "en"
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "heygem"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence for the message language

current: ContextVar[Language] = ContextVar("heygem_language", default=DEFAULT)


def catalogue_path(lang: Language) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: Language) -> Mapping[str, str]:
    """msgid → translated text for `lang`; English is the ids themselves (an empty mapping)."""
    if lang == DEFAULT:
        return {}
    from babel.messages.pofile import read_po

    with open(catalogue_path(lang), "rb") as handle:
        read = read_po(handle, locale=lang)
    return {message.id: message.string for message in read if message.id and message.string}


def normalize(tag: str | None) -> Language | None:
    """A language tag or locale name → "zh" or "en", or None when it is neither.

    zh, zh-CN, zh_CN.UTF-8, zh-Hans, zh-SG → zh; en, en-US, C, POSIX → en.
    """
    if not tag:
        return None
    base = tag.strip().split(".")[0].replace("_", "-").lower()
    primary = base.split("-")[0]
    if primary == "zh":
        return "zh"
    if primary in ("en", "c", "posix"):
        return "en"
    return None


def from_accept_language(header: str | None) -> Language | None:
    """The best of our languages in an Accept-Language header (RFC 9110 q-values), or None."""
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate((header or "").split(",")):
        tag, *options = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = normalize(tag)
        if lang and quality > 0 and (best is None or (quality, -position) > (best[0], best[1])):
            best = (quality, -position, lang)
    return best[2] if best else None


def from_environment(setting: str, environ: Mapping[str, str]) -> Language:
    """HEYGEM_LANG's value ("auto", "zh", "en"), else the locale (LC_ALL, LC_MESSAGES, LANG), else English."""
    chosen = normalize(setting) if setting != "auto" else None
    if chosen:
        return chosen
    for name in LOCALE_VARIABLES:
        if environ.get(name):  # the first one set decides, as in POSIX
            return normalize(environ[name]) or DEFAULT
    return DEFAULT


@contextmanager
def use_language(lang: Language) -> Iterator[None]:
    """Render messages in `lang` while the block runs (this thread or task only)."""
    token = current.set(lang)
    try:
        yield
    finally:
        current.reset(token)


def placeholders(text: str) -> set[str]:
    """The named parameters of a message: "{path} is {size:.1f} MiB" → {"path", "size"}."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(text) if field}


def translate(msgid: str, lang: Language | None = None, /, **params: Any) -> str:
    """`msgid` in `lang` (default: the current language), its parameters filled in.

    Parameters that are `Message`s render in the same language; a list of them joins with "; ".
    """
    lang = lang or current.get()
    text = catalogue(lang).get(msgid, msgid)
    if not params:
        return text
    return text.format(**{key: _render(value, lang) for key, value in params.items()})


def _render(value: Any, lang: Language) -> Any:
    if isinstance(value, Message):
        return value.render(lang)
    if hasattr(value, "as_message"):  # a HeyGemError (errors imports this module, not the other way round)
        return value.as_message().render(lang)
    if isinstance(value, list | tuple) and any(isinstance(item, Message) for item in value):
        return translate("; ", lang).join(str(_render(item, lang)) for item in value)
    return value


class Message:
    """A message id and its parameters, rendered only when shown (`render`); `str()` is English."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, lang: Language | None = None) -> str:
        return translate(self.msgid, lang, **self.params)

    def __str__(self) -> str:
        return self.render(DEFAULT)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.params!r})"

    def to_json(self) -> str:
        """The id and parameters as JSON, for a record shown later in its reader's language (`from_json`)."""
        return json.dumps(_encode(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        return _decode(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.msgid, self.params) == (other.msgid, other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)


def N_(msgid: str) -> str:
    """Mark `msgid` for the catalogue where it is defined (a constant); translate it where shown."""
    return msgid


def _encode(value: Any) -> Any:
    """A parameter as JSON data: messages (and errors) as {"id", "params"}, numbers as they are, the rest as text."""
    if hasattr(value, "as_message"):
        value = value.as_message()
    if isinstance(value, Message):
        return {"id": value.msgid, "params": {key: _encode(item) for key, item in value.params.items()}}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _decode(data: Any) -> Any:
    if isinstance(data, dict):
        return Message(data["id"], **{key: _decode(item) for key, item in data["params"].items()})
    return [_decode(item) for item in data] if isinstance(data, list) else data


def stored(text: str | None, fallback: str, lang: Language | None = None) -> str:
    """A recorded message (`Message.to_json`) in `lang`, or `fallback` (its English text) when there is none."""
    if not text:
        return fallback
    try:
        return Message.from_json(text).render(lang)
    except (ValueError, KeyError, TypeError, IndexError):  # a record from another version: show it as written
        return fallback
