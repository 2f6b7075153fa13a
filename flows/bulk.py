"""Flow `bulk`: a manifest of jobs in, every video out exactly once, one results row per attempt.

Jobs already succeeded (same id, output present and intact) are skipped and recorded as skipped;
a bad job fails alone and is recorded; each finished job's row is flushed at once, so a killed run
loses only the jobs in flight, and a rerun picks up where it stopped.
"""

from __future__ import annotations

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from heygem_flows.job import TaskStages, current_flow_run_id
from heygem_ops.errors import as_heygem_error
from heygem_ops.job import JobRun
from heygem_ops.manifest import Job, JobSpec, JobSpecError, jobs_from_pairs, pending, read_jobs
from heygem_ops.options import GenerateOptions
from heygem_ops.results import JobResult
from heygem_ops.results_store import ResultsStore


def collect_jobs(
    out_dir: Path,
    defaults: GenerateOptions,
    manifest: str | None,
    templates: list[str] | None,
    audios: list[str] | None,
) -> list[Job]:
    """Jobs from a manifest file, or from HeyGem's batch shortcuts (one audio × many templates, or the reverse)."""
    if manifest:
        return read_jobs(manifest, out_dir, defaults)
    return jobs_from_pairs(templates or [], audios or [], out_dir, defaults)


def attempt(spec: JobSpec, ray_address: str | None) -> JobResult:
    """Run one job; any failure becomes its failed row (with the stage times it got to), not the batch's end."""
    run: JobRun | None = None
    try:
        spec.output.parent.mkdir(parents=True, exist_ok=True)
        stages, flow_run_id = TaskStages(ray_address), current_flow_run_id()
        run = JobRun(
            stages, spec.template, spec.audio, spec.output, spec.options, job_id=spec.job_id, flow_run_id=flow_run_id
        )
        return run.run()
    except Exception as error:
        if run is None:
            failed = JobResult(spec.job_id, str(spec.template), str(spec.audio), str(spec.output))
            failed.flow_run_id = current_flow_run_id()
        else:
            failed = run.result
        failed.fail(as_heygem_error(error))
        return failed


def run_all(specs: list[JobSpec], store: ResultsStore, ray_address: str | None, jobs_at_once: int) -> list[JobResult]:
    """Run jobs `jobs_at_once` at a time, recording each row the moment its job ends."""
    logger = get_run_logger()
    artifact = create_progress_artifact(0.0, description=f"jobs finished of {len(specs)}")
    results: list[JobResult] = []
    with ThreadPoolExecutor(max(1, jobs_at_once), thread_name_prefix="heygem-job") as pool:
        # Each job thread carries the flow run's context, so its tasks belong to this flow run.
        futures = [pool.submit(contextvars.copy_context().run, attempt, spec, ray_address) for spec in specs]
        for future in as_completed(futures):
            result = future.result()
            store.append([result])
            results.append(result)
            if not result.succeeded:
                logger.warning("job %s failed: %s", result.job_id, result.error_message)
            update_progress_artifact(artifact, 100.0 * len(results) / max(1, len(specs)))
    return results


def default_jobs_at_once(ray_address: str | None) -> int:
    """Enough jobs in flight to keep every core (or every model actor) busy between stages."""
    return (os.cpu_count() or 2) * (2 if ray_address else 1)


def with_dask(address: str) -> Any:
    """The bulk flow with its tasks (CPU stages included) run on the Dask cluster at `address`."""
    from prefect_dask import DaskTaskRunner

    return bulk.with_options(task_runner=DaskTaskRunner(address=address))


@flow(
    name="bulk",
    flow_run_name="bulk-{out_dir}",
    task_runner=ThreadPoolTaskRunner(max_workers=max(4, 2 * (os.cpu_count() or 2))),
)
def bulk(
    out_dir: str,
    manifest: str | None = None,
    templates: list[str] | None = None,
    audios: list[str] | None = None,
    engine: str | None = None,
    device: str | None = None,
    face: str | None = None,
    tracker: str | None = None,
    checkpoint: str | None = None,
    face_weights: str | None = None,
    checkpoint_dir: str | None = None,
    bbox_shift: int | None = None,
    extra_margin: int | None = None,
    parsing_mode: str | None = None,
    max_size: int | None = None,
    ray_address: str | None = None,
    jobs_at_once: int | None = None,
    verify_outputs: bool = False,
) -> dict[str, Any]:
    """Generate every job of `manifest` (CSV, Parquet, JSON Lines) or of templates × audios into `out_dir`.

    Returns counts by status for this run; the results dataset under `out_dir/_results` has the rows.
    """
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    defaults = GenerateOptions.from_settings(
        engine=engine, device=device, face=face, tracker=tracker, checkpoint=checkpoint, face_weights=face_weights,
        checkpoint_dir=checkpoint_dir, bbox_shift=bbox_shift, extra_margin=extra_margin, parsing_mode=parsing_mode,
        max_size=max_size,
    )  # fmt: skip
    jobs = collect_jobs(out, defaults, manifest, templates, audios)
    store = ResultsStore(out)
    store.append([job.as_result() for job in jobs if isinstance(job, JobSpecError)])
    specs = [job for job in jobs if isinstance(job, JobSpec)]
    todo = pending(specs, store.succeeded(verify=verify_outputs))
    todo_ids = {spec.job_id for spec in todo}
    store.append([spec.skipped() for spec in specs if spec.job_id not in todo_ids])
    results = run_all(todo, store, ray_address, jobs_at_once or default_jobs_at_once(ray_address))
    counts = {"jobs": len(jobs), "skipped": len(specs) - len(todo), "invalid": len(jobs) - len(specs)}
    counts["succeeded"] = sum(result.succeeded for result in results)
    counts["failed"] = len(results) - counts["succeeded"] + counts["invalid"]
    return {**counts, "results": str(store.folder)}
