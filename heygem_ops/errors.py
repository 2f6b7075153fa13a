"""Every failure a user can meet, as one tree, each message saying what to do next.

    HeyGemError
    ├── InputError                 the user's file or request is wrong; retrying will not help
    │   ├── UnreadableMediaError   not a media file, truncated, or an unsupported codec
    │   ├── NoVideoStreamError     a template without pictures
    │   ├── NoAudioStreamError     a recording without sound
    │   ├── EmptyAudioError        a recording too short to drive a single frame
    │   ├── LimitExceededError     bigger, longer or heavier than the configured limits
    │   └── OutputPathError        an output that may not or cannot be written there
    ├── NoFaceError                no usable face anywhere in the template
    ├── EngineError                a lip-sync engine could not be built or run
    │   └── CheckpointError        a weights file that is missing, truncated or of the wrong model
    ├── ResourceError              transient: out of memory, disk full, a worker gone; worth a retry
    └── InternalError              a bug in HeyGem-Ops: please report it

Only `ResourceError` is retried by the orchestration layers; everything else fails the job at once
and is recorded with its type name and message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heygem_ops.i18n import Language, Message


class HeyGemError(Exception):
    """Base of every error HeyGem-Ops raises on purpose.

    `message` and `hint` are catalogue ids (English, with named ``{parameters}`` given as keyword
    arguments), so CLI, UI, HTTP service and results manifest show the same actionable sentence in
    the reader's language (`localized`); `path` names the file concerned, if any. `str()` is English,
    for logs and the results manifest.
    """

    def __init__(
        self,
        message: str | Message,
        *,
        path: str | Path | None = None,
        hint: str | Message | None = None,
        **params: Any,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.message = message if isinstance(message, Message) else Message(message, **params)
        self.hint_message = hint if isinstance(hint, Message) or hint is None else Message(hint, **params)
        self.detail = str(self.message)
        self.hint = str(self.hint_message) if self.hint_message else None
        super().__init__(self.localized("en"))

    def as_message(self) -> Message:
        """`path: what happened; what to do` as one message, to render now or to record (`Message.to_json`)."""
        message = Message("{path}: {message}", path=self.path, message=self.message) if self.path else self.message
        return Message("{message}; {hint}", message=message, hint=self.hint_message) if self.hint_message else message

    def localized(self, lang: Language | None = None) -> str:
        """`path: what happened; what to do` in `lang` (default: the current language)."""
        return self.as_message().render(lang)

    @property
    def kind(self) -> str:
        """Short type name recorded in the results manifest (e.g. ``NoAudioStreamError``)."""
        return type(self).__name__


class InputError(HeyGemError):
    """The input is unusable as given; the fix is on the user's side."""


class UnreadableMediaError(InputError):
    """FFmpeg could not open or decode the file."""


class NoVideoStreamError(InputError):
    """A template file that holds no video (or image) stream."""


class NoAudioStreamError(InputError):
    """A driving recording that holds no audio stream."""


class EmptyAudioError(InputError):
    """A driving recording with too little sound to make a frame."""


class LimitExceededError(InputError):
    """An input over a configured duration, resolution or size limit."""


class OutputPathError(InputError):
    """An output path outside the allowed root, or in a folder that cannot be written."""


class NoFaceError(HeyGemError):
    """No frame of the template has a face the tracker can follow."""


class EngineError(HeyGemError):
    """A lip-sync engine failed to build or to run a batch."""


class CheckpointError(EngineError):
    """A model weights file that cannot be loaded into the engine's network."""


class ResourceError(HeyGemError):
    """A transient shortage (memory, disk, a lost worker); retrying may succeed."""


class InternalError(HeyGemError):
    """An unexpected failure inside HeyGem-Ops."""


def is_retryable(error: BaseException) -> bool:
    """Whether an orchestration layer should retry after `error`."""
    return isinstance(error, ResourceError)


def as_heygem_error(error: BaseException) -> HeyGemError:
    """`error` itself when it is one of ours, else an InternalError naming its type and message."""
    if isinstance(error, HeyGemError):
        return error
    return InternalError("{error}", error=f"{type(error).__name__}: {error}")
