"""How failures become answers: JSON errors with a type, an actionable message and a fitting status.

HeyGem's routes (`/easy/*`) keep HeyGem's convention instead: HTTP 200 and a result code. Messages
(`msg`, `error.message`) are in the language the request's Accept-Language prefers (Chinese or
English; `use_request_language`); codes, types and field names are the same in every language.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from heygem_ops.errors import HeyGemError, InputError, LimitExceededError
from heygem_ops.i18n import DEFAULT, Language, Message, current, from_accept_language

EASY_PREFIX = "/easy/"


class ApiError(Exception):
    """An answer other than success, raised by a route: HTTP `status`, error `type`, `message`.

    The message is a catalogue `Message` (or a HeyGemError, shown as its message), rendered in the
    request's language when answered.
    """

    def __init__(self, status: int, type_: str, message: Message | HeyGemError) -> None:
        super().__init__(str(message))
        self.status, self.type, self.message = status, type_, message


def rendered(message: str | Message | HeyGemError) -> str:
    """A message in the current (the request's) language."""
    if isinstance(message, HeyGemError):
        return message.localized()
    return message.render() if isinstance(message, Message) else message


def error_response(
    status: int, type_: str, message: str | Message | HeyGemError, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"type": type_, "message": rendered(message)}}
    return JSONResponse(body, status_code=status, headers=headers)


class RequestLanguage:
    """ASGI middleware: each HTTP request runs in the language its Accept-Language prefers.

    Without the header (or with only other languages) answers are in `fallback` (HEYGEM_LANG's choice).
    A pure ASGI middleware, so the context variable reaches routes, threads and exception handlers alike.
    """

    def __init__(self, app: Any, fallback: Language = DEFAULT) -> None:
        self.app, self.fallback = app, fallback

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or ()).get(b"accept-language", b"").decode("latin-1")
        token = current.set(from_accept_language(header) or self.fallback)
        try:
            await self.app(scope, receive, send)
        finally:
            current.reset(token)


def status_of(error: HeyGemError) -> int:
    """413 for a limit, 400 for other input errors, 500 for the rest (they are ours to fix)."""
    if isinstance(error, LimitExceededError):
        return 413
    return 400 if isinstance(error, InputError) else 500


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.type, error.message)

    @app.exception_handler(HeyGemError)
    async def _heygem_error(request: Request, error: HeyGemError) -> JSONResponse:
        return error_response(status_of(error), error.kind, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        from heygem_flows.service.easy import bad_parameter
        from heygem_flows.service.v1 import validation_message

        message = validation_message(error.errors())
        if request.url.path.startswith(EASY_PREFIX):
            return JSONResponse(bad_parameter(message))
        return error_response(422, "InvalidBody", message)
