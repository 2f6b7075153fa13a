"""HeyGem's own video API, field for field: `POST /easy/submit` and `GET /easy/query`.

As HeyGem answers: always HTTP 200, the outcome in the body `{code, success, msg, data}` with its
codes: 10000 ok, 10002 a bad parameter, 10004 no such task, 9999 a system error. Unlike HeyGem,
a submit while other jobs run is queued (never 10001 "busy"), and a task stays queryable after
its first query and after a restart. `chaofen` (GFPGAN face enhancement) and `watermark_switch`
are HeyGem features this pipeline does not have: asking for them is refused with 10002, saying so,
rather than silently ignored. `pn` 1 plays the template forward then backward, 0 loops it plainly.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from heygem_flows.service.context import ServiceContext
from heygem_flows.service.jobs import JobView
from heygem_flows.service.table import CANCELLED, FAILED, SUCCEEDED, CodeInUseError
from heygem_flows.single_job import Choices
from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import N_, Message, translate
from heygem_ops.logs import get_logger
from heygem_ops.progress import stage_name
from heygem_ops.timeline import PINGPONG, PLAIN

log = get_logger("service.easy")

OK, BAD_PARAMETER, NOT_FOUND, SYSTEM_ERROR = 10000, 10002, 10004, 9999  # never 10001 (busy) or 10003 (lock)
RUNNING_STATUS, DONE_STATUS, FAILED_STATUS = 1, 2, 3
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
UNAVAILABLE = {
    "chaofen": N_("chaofen=1 (GFPGAN face enhancement) is not available in HeyGem-Ops; send chaofen=0"),
    "watermark_switch": N_("watermark_switch=1 (a watermark) is not available in HeyGem-Ops; send watermark_switch=0"),
}

router = APIRouter(tags=["HeyGem-compatible"])


class EasySubmit(BaseModel):
    """HeyGem's submit body; fields it does not define are ignored."""

    model_config = ConfigDict(extra="ignore")

    audio_url: str = Field(description="the recording: a path under HEYGEM_DATA_ROOT (relative to it) or a URL")
    video_url: str = Field(description="the template video or image: a path under HEYGEM_DATA_ROOT or an http(s) URL")
    code: str = Field(description="the caller's task id (a UUID), used again in /easy/query")
    chaofen: int = Field(0, description="1 asks for face enhancement, which is not available (refused with 10002)")
    watermark_switch: int = Field(0, description="1 asks for a watermark, which is not available (refused with 10002)")
    pn: int = Field(1, description="1 plays the template forward then backward (default), 0 loops it plainly")


def answer(code: int, msg: str | Message, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """HeyGem's envelope; `msg` in the request's language."""
    text = msg.render() if isinstance(msg, Message) else msg
    return {"code": code, "success": code == OK, "msg": text, "data": data if data is not None else {}}


def bad_parameter(msg: str | Message) -> dict[str, Any]:
    return answer(BAD_PARAMETER, msg)


@router.post("/easy/submit", summary="Submit a task (HeyGem's API)")
def submit(body: EasySubmit, request: Request) -> dict[str, Any]:
    ctx: ServiceContext = request.app.state.ctx
    request.state.task_code = body.code
    problem = _check_fields(body)
    if problem:
        return bad_parameter(problem)
    if ctx.jobs.table.by_code(body.code) is not None:
        return bad_parameter(_code_in_use(body.code))
    try:
        template = ctx.inputs.resolve(body.video_url, "template", "video_url")
        audio = ctx.inputs.resolve(body.audio_url, "audio", "audio_url")
        labels = {"template": body.video_url, "audio": body.audio_url}
        choices = Choices(loop=PINGPONG if body.pn == 1 else PLAIN)
        ctx.jobs.submit(template, audio, choices, labels, body.code)
    except CodeInUseError:
        return bad_parameter(_code_in_use(body.code))
    except HeyGemError as error:
        return bad_parameter(Message("{kind}: {message}", kind=error.kind, message=error))
    return answer(OK, Message("task {code} queued; poll /easy/query?code={code}", code=body.code))


def _code_in_use(code: str) -> Message:
    return Message("code {code!r} is already used by a task; submit with a new code (a UUID)", code=code)


def _check_fields(body: EasySubmit) -> Message | None:
    if not CODE.match(body.code):
        return Message(
            "code {code!r} is not a task id: use 1-128 letters, digits, '.', '_', ':' or '-' (a UUID)", code=body.code
        )
    for name in ("chaofen", "watermark_switch", "pn"):
        if getattr(body, name) not in (0, 1):
            return Message("{name}={value} is not 0 or 1", name=name, value=getattr(body, name))
    for name, message in UNAVAILABLE.items():
        if getattr(body, name) == 1:
            return Message(message)
    return None


@router.get("/easy/query", summary="Query a task (HeyGem's API)")
def query(request: Request, code: str | None = None) -> dict[str, Any]:
    ctx: ServiceContext = request.app.state.ctx
    request.state.task_code = code
    if not code:
        return bad_parameter(Message("code is missing: GET /easy/query?code=<the code given to /easy/submit>"))
    view = ctx.jobs.by_code(code)
    if view is None:
        return answer(NOT_FOUND, Message("no task with code {code!r}; submit it with POST /easy/submit", code=code))
    return answer(OK, "ok", task_data(view, ctx))


def task_data(view: JobView, ctx: ServiceContext) -> dict[str, Any]:
    """HeyGem's `data` of a query (plus the fields one of its forks adds: cost, video_duration, width, height)."""
    record, row = view.record, view.record.row or {}
    status = {SUCCEEDED: DONE_STATUS, FAILED: FAILED_STATUS, CANCELLED: FAILED_STATUS}.get(record.state, RUNNING_STATUS)
    done = record.state == SUCCEEDED and not record.output_deleted
    cost = (record.finished_at - record.started_at) if record.finished_at and record.started_at else None
    return {
        "code": record.code,
        "status": status,
        "progress": view.progress,
        "result": ctx.folders.relative(record.output) if done else "",
        "msg": _message(view),
        "cost": round(cost, 2) if cost is not None else None,  # seconds the job ran
        "video_duration": row.get("duration_s"),  # seconds
        "width": row.get("width"),
        "height": row.get("height"),
    }


def _message(view: JobView) -> str:
    """The task's state in words, in the request's language; a failure's recorded message as it was recorded."""
    record = view.record
    if record.state in (FAILED, CANCELLED):
        return translate("{kind}: {message}", kind=record.error_type, message=record.error_text())
    if record.state == SUCCEEDED:
        return translate("output deleted (DELETE /v1/jobs)") if record.output_deleted else translate("done")
    if view.stage == "queued":
        if view.position:
            return translate("queued, {count} job(s) ahead", count=view.position)
        return translate("queued, next in line")
    return translate("running: {stage}", stage=stage_name(view.stage))
