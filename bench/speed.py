"""A full `warp` job through the `generate` flow against the floor (decode + libx264 + AAC) of the same
output, measured in the same run, for a 60-second output from a 512x512 and a 1080p real clip.

    .venv/bin/python bench/speed.py [--seconds 60]

Cold: an empty template cache (the face is tracked). Warm: the same template again (track cached).
The ratio is the job's own time (decode..encode, as the flow reports it) over the floor. Fixed
start-up — process start, imports, Prefect's ephemeral API, model load — is the process wall time
minus the job time, printed on its own. Quality scoring (an extra tracker pass) is off here; its
cost is printed separately.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import MEDIA, floor_seconds, long_recording, run_cli_job

CLIPS = {"512x512": "sadtalker_WDA_KatieHill_000.mp4", "1080p": "latentsync_demo1_video.mp4"}
GOALS = {("512x512", "cold"): 3.0, ("512x512", "warm"): 2.0, ("1080p", "warm"): 2.5}


def measure(name: str, template: Path, audio: Path, root: Path) -> list[tuple[str, float, float, float]]:
    home = root / f"home-{name}"
    rows = []
    for state in ("cold", "warm"):
        floor_out = root / f"floor-{name}-{state}.mp4"
        job = run_cli_job(template, audio, root / f"job-{name}-{state}.mp4", home, HEYGEM_QA="false")
        floor = floor_seconds(template, audio, int(job["frames"]), floor_out)
        rows.append((state, job["total_s"], floor, job["wall_s"] - job["total_s"]))
    qa = run_cli_job(template, audio, root / f"qa-{name}.mp4", home)
    print(f"  {name}: quality scoring adds {qa['quality_s']:.1f} s per job when on (HEYGEM_QA, default on)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="heygem-speed-") as tmp:
        root = Path(tmp)
        audio = long_recording(root / "speech.wav", args.seconds)
        print(f"{args.seconds:.0f} s output, warp engine, libx264 veryfast crf 18, this machine's CPU")
        for name, clip in CLIPS.items():
            for state, job, floor, startup in measure(name, MEDIA / clip, audio, root):
                goal = GOALS.get((name, state))
                verdict = "" if goal is None else (" ok" if job / floor <= goal else f" ABOVE GOAL {goal}")
                failed |= goal is not None and job / floor > goal
                print(
                    f"{name:8} {state}: job {job:6.1f} s  floor {floor:6.1f} s  ratio {job / floor:4.2f}x"
                    f"{verdict}   start-up {startup:4.1f} s"
                )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
