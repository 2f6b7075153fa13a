"""Our REST API: `/v1/jobs` to submit (JSON or multipart upload), look up, list, fetch the video, cancel or delete.

Errors are JSON `{"error": {"type": ..., "message": ...}}` with the HTTP status that fits:
400 a bad request, 404 no such job, 409 not in a state for that, 410 an output deleted,
413 over a limit, 422 a malformed body.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heygem_flows.service.context import ServiceContext
from heygem_flows.service.errors import ApiError
from heygem_flows.service.jobs import JobView
from heygem_flows.service.table import STATES, SUCCEEDED
from heygem_flows.single_job import Choices
from heygem_flows.uploads import Upload
from heygem_ops.errors import InputError, LimitExceededError
from heygem_ops.i18n import Message, translate
from heygem_ops.options import MAX_TEXT_CHARS

router = APIRouter(prefix="/v1", tags=["jobs"])
MULTIPART_SLACK_BYTES = 1 << 20  # form fields and boundaries beside the two files


class JobOptions(BaseModel):
    """Options as a manifest row has them; absent ones take the HEYGEM_* defaults."""

    model_config = ConfigDict(extra="forbid")

    engine: str | None = None
    device: str | None = None
    face: str | None = Field(None, description="largest, center, or a size rank 0, 1, ...")
    tracker: str | None = None
    crf: int | None = None
    still_fps: float | None = None
    loop: str | None = Field(None, description="pingpong (default) or plain")
    max_size: int | None = Field(None, description="scale templates down to this long side, pixels")
    text: str | None = Field(
        None, max_length=MAX_TEXT_CHARS, description="the words spoken (English is aligned to time the lips)"
    )


class JobRequest(BaseModel):
    """A job by path (under HEYGEM_DATA_ROOT) or http(s) URL; or send multipart fields `template` and `audio`."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(description="video or image of the person: a path under the data root or a URL")
    audio: str = Field(description="speech recording (or a video with sound): a path under the data root or a URL")
    options: JobOptions = Field(default_factory=JobOptions)


MULTIPART_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": JobRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["template", "audio"],
                    "properties": {
                        "template": {"type": "string", "format": "binary"},
                        "audio": {"type": "string", "format": "binary"},
                        **{name: {"type": "string"} for name in JobOptions.model_fields},
                    },
                }
            },
        },
        "required": True,
    }
}


@router.post("/jobs", status_code=202, summary="Submit a job", openapi_extra=MULTIPART_DOC)
async def create_job(request: Request) -> JSONResponse:
    ctx: ServiceContext = request.app.state.ctx
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        template, audio, labels, choices = await _from_multipart(request, ctx)
    else:
        body = _parse(JobRequest, await _json(request))
        choices = _choices(body.options)
        template = await run_in_threadpool(ctx.inputs.resolve, body.template, "template", "template")
        audio = await run_in_threadpool(ctx.inputs.resolve, body.audio, "audio", "audio")
        labels = {"template": body.template, "audio": body.audio}
    view = await run_in_threadpool(ctx.jobs.submit, template, audio, choices, labels, None)
    request.state.task_code = view.id
    return JSONResponse(job_json(view, ctx), status_code=202, headers={"Location": f"/v1/jobs/{view.id}"})


@router.get("/jobs", summary="List jobs, newest first")
def list_jobs(
    request: Request,
    status: str | None = Query(None, description=f"comma-separated states: {', '.join(STATES)}"),
    page: int = Query(1, ge=1),
    page_size: int | None = Query(None, ge=1, le=500),
) -> dict[str, Any]:
    ctx: ServiceContext = request.app.state.ctx
    states = tuple(part.strip() for part in (status or "").split(",") if part.strip())
    unknown = [state for state in states if state not in STATES]
    if unknown:
        raise ApiError(
            400,
            "InputError",
            Message(
                "status {unknown} is not a job state; use {states}",
                unknown=", ".join(unknown),
                states=", ".join(STATES),
            ),
        )
    size = page_size or ctx.settings.api_page_size
    views, total = ctx.jobs.page(states, page, size)
    return {"jobs": [job_json(view, ctx) for view in views], "page": page, "page_size": size, "total": total}


@router.get("/jobs/{job_id}", summary="One job: state, progress, stage, error, figures")
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    ctx: ServiceContext = request.app.state.ctx
    request.state.task_code = job_id
    return job_json(_find(ctx, job_id), ctx)


@router.get("/jobs/{job_id}/video", summary="The job's MP4 (range requests supported)", response_class=FileResponse)
def get_video(job_id: str, request: Request) -> FileResponse:
    ctx: ServiceContext = request.app.state.ctx
    request.state.task_code = job_id
    record = _find(ctx, job_id).record
    if record.output_deleted:
        raise ApiError(
            410, "Gone", Message("job {job}'s output was deleted; submit the job again to remake it", job=job_id)
        )
    if record.state != SUCCEEDED:
        raise ApiError(
            409,
            "NotReady",
            Message("job {job} is {state}; poll GET /v1/jobs/{job} until succeeded", job=job_id, state=record.state),
        )
    path = Path(record.output)
    if not path.is_file():
        raise ApiError(
            410,
            "Gone",
            Message("job {job}'s output {name} is no longer on disk; submit the job again", job=job_id, name=path.name),
        )
    return FileResponse(path, media_type="video/mp4", filename=path.name, content_disposition_type="inline")


@router.delete("/jobs/{job_id}", summary="Cancel a queued or running job, or delete a finished job's output")
def delete_job(job_id: str, request: Request) -> dict[str, Any]:
    ctx: ServiceContext = request.app.state.ctx
    request.state.task_code = job_id
    _find(ctx, job_id)
    try:
        return job_json(ctx.jobs.cancel_or_delete(job_id), ctx)
    except InputError as error:
        raise ApiError(409, "Conflict", error) from None


def job_json(view: JobView, ctx: ServiceContext) -> dict[str, Any]:
    record = view.record
    has_video = record.state == SUCCEEDED and not record.output_deleted
    return {
        "id": record.id,
        "code": record.code,
        "state": record.state,
        "stage": view.stage,
        "progress": view.progress,
        "position": view.position,
        "template": record.labels.get("template"),
        "audio": record.labels.get("audio"),
        "options": record.choices,
        "job_id": record.job_id,
        "attempts": record.attempts,
        "created_at": _when(record.created_at),
        "started_at": _when(record.started_at),
        "finished_at": _when(record.finished_at),
        "error": {"type": record.error_type, "message": record.error_text()} if record.error_type else None,
        "output": ctx.folders.relative(record.output),
        "output_deleted": record.output_deleted,
        "video_url": f"/v1/jobs/{record.id}/video" if has_video else None,
        "result": record.row,
    }


def _choices(options: JobOptions) -> Choices:
    """The job's choices, validated now: a bad option is a 400 naming it, before any input is fetched."""
    choices = Choices(**options.model_dump())
    choices.options()
    return choices


def _find(ctx: ServiceContext, job_id: str) -> JobView:
    view = ctx.jobs.get(job_id)
    if view is None:
        raise ApiError(404, "NotFound", Message("no job {job!r}; list jobs with GET /v1/jobs", job=job_id))
    return view


def _when(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(
            422, "InvalidBody", Message("the body is not JSON; send application/json or multipart/form-data")
        ) from None


def _parse(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(422, "InvalidBody", validation_message(error)) from None


def validation_message(error: ValidationError | Any) -> str:
    """'field options.crf: Input should be a valid integer; ...' from a pydantic error list."""
    issues = error.errors() if hasattr(error, "errors") else error
    return translate("; ").join(
        translate("field {field}: {problem}", field=".".join(str(p) for p in issue["loc"] if p != "body") or "body",
                  problem=issue["msg"])
        for issue in issues
    )  # fmt: skip


async def _from_multipart(request: Request, ctx: ServiceContext) -> tuple[Upload, Upload, dict[str, str], Choices]:
    """The two uploaded files, stored and checked, and the options from the form's other fields."""
    limit = 2 * int(ctx.settings.api_max_upload_mb * 2**20) + MULTIPART_SLACK_BYTES
    if int(request.headers.get("content-length") or 0) > limit:
        raise ApiError(
            413, "LimitExceededError", Message("the upload is over twice HEYGEM_API_MAX_UPLOAD_MB; send smaller files")
        )
    form = await request.form()
    try:
        files = {name: form.get(name) for name in ("template", "audio")}
        missing = [name for name, item in files.items() if item is None or isinstance(item, str)]
        if missing:
            raise ApiError(
                422, "InvalidBody", Message("multipart field(s) {fields} must be files", fields=", ".join(missing))
            )
        fields = {key: value for key, value in form.items() if key not in files and value != ""}
        choices = _choices(_parse(JobOptions, fields))
        stored = {name: await run_in_threadpool(_ingest_part, ctx, item, name) for name, item in files.items()}
        labels = {name: item.filename or name for name, item in files.items()}  # type: ignore[union-attr]
        return stored["template"], stored["audio"], labels, choices
    finally:
        await form.close()


def _ingest_part(ctx: ServiceContext, item: Any, kind: str) -> Upload:
    """Copy an uploaded part to a private temp file (within the size limit), then check and store it."""
    with tempfile.NamedTemporaryFile(dir=ctx.folders.temp, prefix="upload-", suffix=".part") as handle:
        item.file.seek(0)
        shutil.copyfileobj(item.file, handle)
        handle.flush()
        if handle.tell() > ctx.inputs.max_bytes:
            raise LimitExceededError(
                "{kind}: {name} is over the {limit:g} MiB limit",
                kind=kind,
                name=item.filename or kind,
                limit=ctx.settings.api_max_upload_mb,
                hint="upload a smaller file or raise HEYGEM_API_MAX_UPLOAD_MB",
            )
        return ctx.inputs.ingest_upload(Path(handle.name), kind, kind, item.filename)
