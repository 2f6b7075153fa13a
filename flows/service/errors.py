"""How failures become answers: JSON errors with a type, an actionable message and a fitting status.

HeyGem's routes (`/easy/*`) keep HeyGem's convention instead: HTTP 200 and a result code.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from heygem_ops.errors import HeyGemError, InputError, LimitExceededError

EASY_PREFIX = "/easy/"


class ApiError(Exception):
    """An answer other than success, raised by a route: HTTP `status`, error `type`, `message`."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status, headers=headers)


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
        return error_response(status_of(error), error.kind, str(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        from flows.service.easy import bad_parameter
        from flows.service.v1 import validation_message

        message = validation_message(error.errors())
        if request.url.path.startswith(EASY_PREFIX):
            return JSONResponse(bad_parameter(message))
        return error_response(422, "InvalidBody", message)
