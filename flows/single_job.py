"""One job through the `generate` flow, recorded in its output folder's results dataset.

What the web UI's Single tab and the HTTP service (`heygem serve`) run for every job, so both go
the same way as the CLI: the `generate` flow embedded in this process (Prefect's API), or a
Prefect deployment when one is named (its worker must see the same file system). The row of
every attempt, succeeded or failed, lands in the results dataset of the output folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from heygem_flows.jobs_queue import Ticket
from heygem_ops.errors import InternalError, as_heygem_error
from heygem_ops.hashing import file_digest
from heygem_ops.manifest import default_output_name
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import job_identity
from heygem_ops.progress import board
from heygem_ops.results import JobResult
from heygem_ops.results_store import ResultsStore


@dataclass(frozen=True)
class Choices:
    """The options a user picks for one job; None means the HEYGEM_* default."""

    engine: str | None = None
    device: str | None = None
    face: str | None = None
    crf: int | None = None
    still_fps: float | None = None
    tracker: str | None = None
    loop: str | None = None  # heygem_ops.timeline.LOOPS
    max_size: int | None = None  # long side templates are scaled down to, px
    text: str | None = None  # the words spoken, when known: the lips are timed to their phones

    def options(self) -> GenerateOptions:
        """Validated options (InputError names a bad one)."""
        return GenerateOptions.from_settings(**dataclasses.asdict(self))

    def given(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


def plan_single(template: Path, audio: Path, choices: Choices, out_dir: Path) -> tuple[str, Path]:
    """The job's id (content hash of inputs and options) and its generated output path."""
    job_id = job_identity(file_digest(template), file_digest(audio), choices.options())
    return job_id, out_dir / default_output_name(template, audio, job_id)


def run_single(
    ticket: Ticket,
    template: Path,
    audio: Path,
    choices: Choices,
    out_dir: Path,
    deployment: str | None = None,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Run one job through the `generate` flow, reporting progress to `ticket`; record its row either way."""
    job_id, output = plan_single(template, audio, choices, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(out_dir)
    parameters = {"template": str(template), "audio": str(audio), "output": str(output), **choices.given()}
    if ray_address:
        parameters["ray_address"] = ray_address
    try:
        with board.listening(str(output), ticket.listener(str(output))):
            row = call_flow("generate", deployment, parameters)
    except Exception as error:
        failed = JobResult(job_id, str(template), str(audio), str(output))
        failed.engine = choices.options().engine
        failed.fail(as_heygem_error(error))
        store.append([failed])
        raise
    store.append([result_from_row(row)])
    return row


def result_from_row(row: Mapping[str, Any]) -> JobResult:
    """A `JobResult` back from its `as_row()` dict (as a flow returns it)."""
    names = {f.name for f in dataclasses.fields(JobResult)} - {"stage_seconds", "worker_seconds"}
    values = {name: row[name] for name in names if name in row}
    for name in ("started_at", "finished_at"):
        if isinstance(values.get(name), str):
            values[name] = datetime.fromisoformat(values[name])
    result = JobResult(**values)
    result.read_seconds(row)
    return result


def call_flow(name: str, deployment: str | None, parameters: dict[str, Any]) -> Any:
    """Run flow `name` (`generate` or `bulk`) in-process, or as `deployment` on a Prefect server and wait for it."""
    if deployment is None:
        if name == "generate":
            from heygem_flows.generate import generate as flow
        else:
            from heygem_flows.bulk import bulk as flow
        return flow(**parameters)
    from prefect.deployments import run_deployment

    flow_run = run_deployment(deployment, parameters=parameters, timeout=None)
    state = flow_run.state
    if state is None or not state.is_completed():
        raise InternalError(
            "flow run {run} of {deployment} ended {state}: {message}",
            run=flow_run.name,
            deployment=deployment,
            state=state.name if state else "?",
            message=state.message if state is not None else "no final state",
        )
    return state.result()
