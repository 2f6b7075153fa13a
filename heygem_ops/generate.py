"""One job, start to finish, in this process: the plain library entry point (no Prefect needed).

It runs the same `job.JobRun` the Prefect flows run, with the library's executor (`ThreadStages`),
so a job run here and a job run by a deployment produce the same file and the same results row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from heygem_ops.compose.workers import chunks_in_flight
from heygem_ops.host import ModelHost
from heygem_ops.hosting import local_host
from heygem_ops.job import JobRun, ThreadStages
from heygem_ops.options import GenerateOptions
from heygem_ops.progress import Listener, board
from heygem_ops.rendering import Renderer, local_renderer
from heygem_ops.results import JobResult


def generate(
    template: str | Path,
    audio: str | Path,
    output: str | Path,
    options: GenerateOptions | None = None,
    *,
    host: ModelHost | None = None,
    renderer: Renderer | None = None,
    progress: Listener | None = None,
) -> JobResult:
    """Lip-sync `template` (video or image) to `audio` and write the MP4 `output`.

    Raises a `HeyGemError` subclass with an actionable message when the job cannot be done; no
    file appears at `output` unless the job succeeded. `progress(stage, done, total)` is called as
    frames are tracked ("track") and rendered ("render").
    """
    options = options or GenerateOptions.from_settings()
    renderer = renderer or local_renderer()  # first: new compose workers start while the inputs are checked
    host = host or local_host()
    template, audio, output = Path(template), Path(audio), Path(output)
    with (
        board.listening(str(output.expanduser().resolve()), progress or (lambda *_: None)),
        ThreadPoolExecutor(chunks_in_flight(), thread_name_prefix="heygem-chunk") as pool,
    ):
        return JobRun(ThreadStages(host, renderer, pool), template, audio, output, options).run()
