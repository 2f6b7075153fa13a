"""Bulk throughput: the same short jobs through the bare library (one process, one job at a time)
and through `heygem batch --ray local` (Prefect flow + Ray model actors), printed as a ratio.

    .venv/bin/python bench/scale.py              # 200 jobs, 1-2 s each
    .venv/bin/python bench/scale.py --jobs 20    # a quick look
    .venv/bin/python bench/scale.py --long 4     # 4 distinct 20 s templates started at once, one host

Media is generated from one real portrait (../shared/media, or $HEYGEM_TEST_MEDIA): 10 drifting-crop
templates and 20 speech-like recordings, paired into distinct jobs. Each path gets its own empty
HEYGEM_HOME, so both track the templates once, cold. The batch path's time includes starting
Prefect's ephemeral API and the local Ray cluster; both are also reported without that start-up.

`--long N` measures instead what a batch of N distinct, longer templates does to one host when all
start at once: N jobs in N threads of one process, sharing its models. Each tracks its own cold
template, so a host that lets one job's tracking block the others' inference shows here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import pandas as pd  # noqa: E402
from face_clips import make_face_clip, make_speech  # noqa: E402


def make_jobs(root: Path, portrait: Path, count: int) -> Path:
    templates = [make_face_clip(root / f"t{i}.mp4", portrait, frames=38, seed=i) for i in range(10)]
    audios = [make_speech(root / f"a{i}.wav", 1.0 + (i % 5) * 0.25, seed=i) for i in range(20)]
    rows = [{"template": str(templates[i % 10]), "audio": str(audios[i // 10 % 20])} for i in range(count)]
    manifest = root / "jobs.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def library_run(manifest: Path, home: Path) -> float:
    """Seconds for every job through heygem_ops.generate, sequentially, in a fresh process."""
    code = (
        "import sys, time, pandas as pd\n"
        "from heygem_ops import generate\n"
        "jobs = pd.read_csv(sys.argv[1]); out = sys.argv[2]; start = time.perf_counter()\n"
        "for i, job in jobs.iterrows(): generate(job.template, job.audio, f'{out}/lib{i}.mp4')\n"
        "print(time.perf_counter() - start)\n"
    )
    out = home / "out"
    out.mkdir(parents=True)
    env = {**os.environ, "HEYGEM_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-c", code, str(manifest), str(out)], env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return float(result.stdout.strip().splitlines()[-1])


LONG_CODE = """\
import sys, time
from concurrent.futures import ThreadPoolExecutor
from heygem_ops import generate
from heygem_ops.rendering import local_renderer
pairs = [line.split(",") for line in open(sys.argv[1]).read().split()]
local_renderer()  # its compose workers start before the clock does
start = time.perf_counter()
with ThreadPoolExecutor(len(pairs)) as pool:
    list(pool.map(lambda i: generate(*pairs[i], f"{sys.argv[2]}/long{i}.mp4"), range(len(pairs))))
print(time.perf_counter() - start)
"""


def long_run(root: Path, portrait: Path, count: int) -> float:
    """Seconds for `count` jobs of distinct 500-frame templates, all started at once in one process."""
    templates = [make_face_clip(root / f"long{i}.mp4", portrait, frames=500, seed=100 + i) for i in range(count)]
    audios = [make_speech(root / f"long{i}.wav", 4.0, seed=100 + i) for i in range(count)]
    pairs = root / "long.txt"
    pairs.write_text("\n".join(f"{t},{a}" for t, a in zip(templates, audios, strict=True)))
    home = root / "long-home"
    (home / "out").mkdir(parents=True)
    env = {**os.environ, "HEYGEM_HOME": str(home), "HEYGEM_QA": "false"}
    result = subprocess.run(
        [sys.executable, "-c", LONG_CODE, str(pairs), str(home / "out")], env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return float(result.stdout.strip().splitlines()[-1])


def batch_run(manifest: Path, home: Path) -> tuple[float, float]:
    """(wall seconds of the whole `heygem batch --ray local`, seconds from first job start to last end)."""
    env = {**os.environ, "HEYGEM_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    start = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv/bin/heygem"), "batch", str(manifest), "--out", str(home / "out"), "--ray", "local"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(result.stdout[-2000:] + result.stderr[-2000:])
    rows = pd.read_parquet(home / "out" / "_results")
    span = (rows["finished_at"].max() - rows["started_at"].min()).total_seconds()
    assert (rows["status"] == "succeeded").all(), rows[["status", "error_message"]]
    return wall, span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--long", type=int, default=0, metavar="N", help="only the case of N long templates at once")
    args = parser.parse_args()
    media = Path(os.environ.get("HEYGEM_TEST_MEDIA", REPO.parent / "shared" / "media"))
    if args.long:
        with tempfile.TemporaryDirectory(prefix="heygem-scale-") as tmp:
            seconds = long_run(Path(tmp), media / "sadtalker_people_0.png", args.long)
        print(
            f"{args.long} distinct 500-frame templates at once, one host: {seconds:6.1f} s  "
            f"{60 * args.long / seconds:6.1f} jobs/min"
        )
        return
    with tempfile.TemporaryDirectory(prefix="heygem-scale-") as tmp:
        root = Path(tmp)
        manifest = make_jobs(root, media / "sadtalker_people_0.png", args.jobs)
        library = library_run(manifest, root / "library")
        wall, span = batch_run(manifest, root / "batch")
    print(f"jobs: {args.jobs}")
    print(f"library, one process, sequential: {library:8.1f} s  {60 * args.jobs / library:6.1f} jobs/min")
    print(f"heygem batch --ray local (wall):   {wall:8.1f} s  {60 * args.jobs / wall:6.1f} jobs/min")
    print(f"  of which running jobs:           {span:8.1f} s  {60 * args.jobs / span:6.1f} jobs/min")
    print(f"ratio batch/library: {wall / library:.2f} wall, {span / library:.2f} without start-up (goal <= 1.3)")


if __name__ == "__main__":
    main()
