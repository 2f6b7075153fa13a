"""Peak memory of a warp job against output length: 1, 5 and 10 minutes of 1080p.

    .venv/bin/python bench/memory.py [--minutes 1 5 10]
    .venv/bin/python bench/memory.py --talking [--minutes 1 3]   # a talking template: its mouths banked

Each job runs in a fresh process (the library's `generate`, no Prefect) on a generated 1080p template
as long as the recording (a real portrait drifting across the frame; with --talking, a real talking
clip played forth and back, so the job builds a mouth bank and draws the template's own mouths) and
a recording made of the sample speech. A job is several processes (the job and its compose workers), so two figures are
printed: the most resident memory they held together at any sample (every 0.1 s), and the sum of
each process's own peak (VmHWM), which no moment can exceed. Memory must stay flat: chunks bound
it, not the video's length (goal: that sum <= 2.5 GB at 10 minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import psutil
from common import MEDIA, REPO, long_recording
from PIL import Image

from heygem_ops.media import iter_frames, probe_video

GOAL_MB = 2.5 * 1024
TALKING = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"


def make_template(path: Path, seconds: float, talking: bool = False, size: tuple[int, int] = (1920, 1080)) -> Path:
    """A 25 fps 1080p H.264 template of `seconds`: the portrait drifting slowly on a plain backdrop, or
    (`talking`) the frames of TALKING, forth and back, drifting so."""
    if talking:
        faces = [np.asarray(Image.fromarray(f).resize((640, 640))) for f in iter_frames(probe_video(TALKING))]
    else:
        faces = [np.asarray(Image.open(MEDIA / "sadtalker_people_0.png").convert("RGB").resize((640, 640)))]
    turn = max(2 * len(faces) - 2, 1)
    canvas = np.full((size[1], size[0], 3), 90, np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(int(seconds * 25)):
            frame = canvas.copy()
            x = 640 + int(40 * np.sin(index / 50.0))
            step = index % turn
            frame[220:860, x : x + 640] = faces[min(step, turn - step)]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def peak_rss_mb(template: Path, audio: Path, output: Path, home: Path) -> tuple[float, float, float]:
    """(peak RSS together, sum of per-process peaks, both MiB; seconds) of one job in a fresh process."""
    code = "import sys\nfrom heygem_ops import generate\ngenerate(sys.argv[1], sys.argv[2], sys.argv[3])\n"
    env = {**os.environ, "HEYGEM_HOME": str(home), "HEYGEM_QA": "false"}
    start = time.perf_counter()
    job = subprocess.Popen([sys.executable, "-c", code, str(template), str(audio), str(output)], cwd=REPO, env=env)
    root, peaks, together = psutil.Process(job.pid), {}, 0
    while job.poll() is None:
        try:
            processes = [root, *root.children(recursive=True)]
            together = max(together, sum(_kib(p, "VmRSS") for p in processes))
            peaks.update({p.pid: max(peaks.get(p.pid, 0), _kib(p, "VmHWM")) for p in processes})
        except psutil.Error:
            pass  # a process ended between listing and reading
        time.sleep(0.1)
    if job.returncode:
        raise SystemExit(f"the job failed with exit code {job.returncode}")
    return together / 1024.0, sum(peaks.values()) / 1024.0, time.perf_counter() - start


def _kib(process: psutil.Process, field: str) -> int:
    """A /proc/PID/status memory figure in KiB (VmRSS: now, VmHWM: the process's peak); 0 once it has gone."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--talking", action="store_true", help="a talking template, whose mouths are banked")
    args = parser.parse_args()
    failed = False
    for minutes in sorted(args.minutes):
        with tempfile.TemporaryDirectory(prefix="heygem-memory-") as tmp:
            root = Path(tmp)
            template = make_template(root / "template.mp4", minutes * 60, args.talking)
            audio = long_recording(root / "speech.wav", minutes * 60)
            together, bound, seconds = peak_rss_mb(template, audio, root / "out.mp4", root / "home")
            failed |= bound > GOAL_MB
            verdict = "" if bound <= GOAL_MB else " ABOVE 2.5 GB"
            print(
                f"{minutes:4.0f} min 1080p{' talking' if args.talking else ''}: peak RSS together {together:6.0f} MiB, "
                f"sum of per-process peaks {bound:6.0f} MiB  ({seconds:5.0f} s){verdict}"
            )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
