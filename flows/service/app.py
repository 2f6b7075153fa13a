"""The app factory: HeyGem's routes, ours, health, metrics; the token rule and a log line per request."""

from __future__ import annotations

import secrets
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from heygem_flows.service import easy, errors, v1
from heygem_flows.service.context import ServiceContext
from heygem_flows.service.table import QUEUED, RUNNING
from heygem_ops.i18n import DEFAULT, Message, normalize
from heygem_ops.logs import get_logger
from heygem_ops.settings import Settings

log = get_logger("service.http")
OPEN_PATHS = frozenset({"/healthz"})  # the only route without the token


def create_app(settings: Settings) -> FastAPI:
    """The service over the folders and job table that `settings` name; jobs resume when it starts."""
    ctx = ServiceContext.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.jobs.start()
        yield
        ctx.jobs.shutdown()

    app = FastAPI(
        title="HeyGem-Ops",
        version=version("heygem-ops"),
        summary="HeyGem's /easy API and HeyGem-Ops' /v1 jobs over one queue, one pipeline, one results dataset.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.include_router(easy.router)
    app.include_router(v1.router)
    token = settings.api_token.get_secret_value() if settings.api_token else None

    @app.middleware("http")
    async def guard_and_log(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        if token and request.url.path not in OPEN_PATHS and not _authorized(request, token):
            response: Response = errors.error_response(
                401, "Unauthorized", Message("send the header 'Authorization: Bearer <HEYGEM_API_TOKEN>'"),
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        else:
            try:
                response = await call_next(request)
            except Exception as error:  # a bug: answer it, log it, keep serving
                log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
                response = _internal_error(request, error)
        _log(ctx, request, response, time.perf_counter() - started)
        return response

    app.add_middleware(errors.RequestLanguage, fallback=normalize(settings.lang) or DEFAULT)  # outermost: all answers

    @app.get("/healthz", tags=["service"], summary="Liveness (no token needed)")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": app.version}

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        counts = ctx.jobs.table.counts()
        text = ctx.metrics.render(counts, counts[QUEUED], counts[RUNNING], settings.api_workers, settings.device)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app


def _authorized(request: Request, token: str) -> bool:
    return secrets.compare_digest(request.headers.get("authorization", "").encode(), f"Bearer {token}".encode())


def _internal_error(request: Request, error: Exception) -> Response:
    message = Message("{error}; this is a bug: see the service's log", error=f"{type(error).__name__}: {error}")
    if request.url.path.startswith(errors.EASY_PREFIX):
        return JSONResponse(easy.answer(easy.SYSTEM_ERROR, message))
    return errors.error_response(500, "InternalError", message)


def _log(ctx: ServiceContext, request: Request, response: Response, seconds: float) -> None:
    """One line per request, with the task code (HeyGem's `code`, or our job id) it concerns."""
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    code = getattr(request.state, "task_code", None) or request.query_params.get("code") or "-"
    ctx.metrics.request(request.method, template, response.status_code)
    log.info("%s %s %d %.0f ms code=%s", request.method, request.url.path, response.status_code, seconds * 1000, code)
