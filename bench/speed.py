"""A full `warp` job through the `generate` flow against the floor (decode + libx264 + AAC) of the same
output, measured in the same run, for a 60-second output from a 512x512 and a 1080p real clip, and a
1080p template generated from a talking clip (`memory.make_template`): the real 1080p clip never shuts
its mouth, so only that one builds a mouth bank and draws the template's own mouths at 1080p.

    .venv/bin/python bench/speed.py [--seconds 60] [--clips 512x512 1080p 1080p-talking]

Every job is `heygem generate --json` in a fresh process, as a user runs it. Cold: an empty template
cache (the face is tracked). Warm: the same template again (track cached). The ratio is the job's
own time (decode..encode, as the flow reports it) over the floor. Fixed start-up — process launch
to the job's first stage: imports, Prefect's API, compose workers, model load — is printed on its
own, with the temporary API the CLI starts by default and with a Prefect server already running
(PREFECT_API_URL, as deployments and the web UI use). The ratios are of jobs with quality scoring
off; the default job (scoring on, measured during compose) is run too and printed beside them, with
what scoring adds per minute of output, and its worker seconds as a share of the job's (goal <= 10 %:
the same-run difference of two jobs' wall times is noisier than the share each job records).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import MEDIA, floor_seconds, long_recording, run_cli_job, running_prefect_server
from memory import make_template

from heygem_ops.results import WORKER_STAGES
from heygem_ops.settings import get_settings

CLIPS = {"512x512": "sadtalker_WDA_KatieHill_000.mp4", "1080p": "latentsync_demo1_video.mp4"}
GENERATED = {"1080p-talking": 16.0}  # seconds of a talking 1080p template `memory.make_template` writes
GOALS = {("512x512", "cold"): 3.0, ("512x512", "warm"): 2.0, ("1080p", "warm"): 2.5, ("1080p-talking", "warm"): 2.5}
STARTUP_GOAL_S = 5.0
QA_SHARE_GOAL = 0.10  # quality scoring's share of a default job's worker seconds


def measure(name: str, template: Path, audio: Path, root: Path) -> tuple[list[tuple[str, float, float, float]], float]:
    """Cold and warm QA-off jobs beside their floors, then a default (QA-on) job; also scoring's share."""
    home = root / f"home-{name}"
    rows = []
    for state in ("cold", "warm"):
        floor_out = root / f"floor-{name}-{state}.mp4"
        job = run_cli_job(template, audio, root / f"job-{name}-{state}.mp4", home, HEYGEM_QA="false")
        floor = floor_seconds(template, audio, int(job["frames"]), floor_out)
        rows.append((state, job["total_s"], floor, job["startup_s"]))
    qa = run_cli_job(template, audio, root / f"qa-{name}.mp4", home)
    added = qa["total_s"] - rows[-1][1]
    per_minute = 60.0 * added / float(qa["duration_s"])
    worker = sum(float(qa[f"{stage}_worker_s"] or 0.0) for stage in WORKER_STAGES)
    share = float(qa["quality_worker_s"]) / worker
    print(
        f"  {name}: default job (quality scoring on, warm) {qa['total_s']:.1f} s: scoring adds {added:+.1f} s "
        f"({per_minute:+.1f} s per minute of output, {100 * added / rows[-1][1]:+.0f} % of the job); "
        f"its worker seconds {qa['quality_worker_s']:.1f} s = {100 * share:.1f} % of the job's "
        f"(goal {100 * QA_SHARE_GOAL:.0f} %){verdict(share, QA_SHARE_GOAL)}"
    )
    return rows, share


def startup_with_server(template: Path, root: Path) -> float:
    """Start-up of a warm-cache job when a Prefect server is already up (no temporary API to start)."""
    audio = long_recording(root / "short.wav", 4.0)
    home = root / "home-server"
    with running_prefect_server(root / "prefect") as api_url:
        run_cli_job(template, audio, root / "server-cold.mp4", home, HEYGEM_QA="false", PREFECT_API_URL=api_url)
        warm = run_cli_job(template, audio, root / "server-warm.mp4", home, HEYGEM_QA="false", PREFECT_API_URL=api_url)
    return warm["startup_s"]


def verdict(value: float, goal: float | None) -> str:
    return "" if goal is None else (" ok" if value <= goal else f" ABOVE GOAL {goal:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clips", nargs="+", choices=[*CLIPS, *GENERATED], default=[*CLIPS, *GENERATED])
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="heygem-speed-") as tmp:
        root = Path(tmp)
        audio = long_recording(root / "speech.wav", args.seconds)
        crf = get_settings().x264_crf
        print(f"{args.seconds:.0f} s output, warp engine, libx264 veryfast crf {crf}, this machine's CPU")
        templates = {name: MEDIA / CLIPS[name] for name in args.clips if name in CLIPS}
        for name in args.clips:
            if name in GENERATED:
                templates[name] = make_template(root / f"{name}.mp4", GENERATED[name], talking=True)
            rows, share = measure(name, templates[name], audio, root)
            failed |= share > QA_SHARE_GOAL
            for state, job, floor, startup in rows:
                goal = GOALS.get((name, state))
                failed |= goal is not None and job / floor > goal
                print(
                    f"{name:8} {state}: job {job:6.1f} s  floor {floor:6.1f} s  ratio {job / floor:4.2f}x"
                    f"{verdict(job / floor, goal)}   start-up {startup:4.1f} s (temporary Prefect API)"
                )
        startup = startup_with_server(templates[args.clips[0]], root)
        failed |= startup > STARTUP_GOAL_S
        print(f"start-up, warm cache, Prefect server running: {startup:4.1f} s{verdict(startup, STARTUP_GOAL_S)}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
