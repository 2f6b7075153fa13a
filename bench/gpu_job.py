"""One job configuration of bench/gpu_check.py, in a fresh process as a user runs one: its jobs, described.

    python bench/gpu_job.py '{"template": ..., "audio": ..., "checkpoint": ..., "device": "cuda",
                              "encoder": "libx264", "runs": ["first", "warm"], "work": "/tmp/w"}'

Its own script, importing only the library: compose workers are spawned processes that import the main
script again, so a main script that imported torch would make each of them pay for it. The caller sets
HEYGEM_HOME, HEYGEM_CACHE_DIR and HEYGEM_ENCODER; the runs follow one another in this process (the model
stays loaded), each in a fresh work folder so that no segment of an earlier run is reused. The last line
of stdout is the JSON list of the runs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ORCHESTRATION = ("prefect", "ray", "dask", "gradio")  # none of these may be imported by a library job


def run_jobs(settings: dict) -> list[dict]:
    from heygem_ops import GenerateOptions, generate
    from heygem_ops.logs import setup_logging
    from heygem_ops.media import probe_video
    from heygem_ops.settings import get_settings

    setup_logging(get_settings().resolved_log_dir)
    # qa off: the quality pass tracks the output's mouth with LiteRT, which the GPU machine does not have
    options = GenerateOptions(engine="wav2lip", checkpoint=settings["checkpoint"], device=settings["device"], qa=False)
    rows = []
    for index, run in enumerate(settings["runs"]):
        os.environ["HEYGEM_WORK_DIR"] = f"{settings['work']}-{index}"
        get_settings.cache_clear()
        output = Path(f"{settings['work']}-{index}.mp4")
        result = generate(settings["template"], settings["audio"], output, options)
        rows.append({"run": run, "device": result.device, "encoder": settings["encoder"], "frames": result.frames,
                     "output_frames": probe_video(output).frame_count, "track_cached": result.track_cached,
                     "orchestration": [name for name in ORCHESTRATION if name in sys.modules],
                     "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
                     "worker_seconds": {k: round(v, 2) for k, v in result.worker_seconds.items()}})  # fmt: skip
    return rows


if __name__ == "__main__":
    print(json.dumps(run_jobs(json.loads(sys.argv[1]))))
