"""Fuzz the decode stage's entry points with Hypothesis, for a bounded time.

Every input is a file: either a small valid seed (video, audio or still, made by
tests/media_factory.py) put through a few byte-level mutations (flips, overwrites with boundary
integers, cuts, insertions, duplicated chunks) or plain random bytes. Each input goes through
`probe_video`, `probe_audio`, then, when those accept it, `iter_frames` (first frames),
`decode_audio`, and the whole decode stage `plan_job` (as template and as recording).

The contract: a bad file raises a `HeyGemError` (an `InputError` naming the file); anything else
is a finding. A case that runs past --case-timeout is a hang: faulthandler prints every thread's
stack and the process exits 1, leaving the input at the path printed at the start.

    .venv/bin/python bench/fuzz_probe.py --seconds 60 [--seed 1] [--save findings/]

Prints the cases tried, outcomes by error type, the slowest case and each distinct finding
(type, message, where raised); exits 1 when there is a finding, 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import os
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # media_factory

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from media_factory import AudioTrack, make_audio, make_still, make_video  # noqa: E402

from heygem_ops.errors import HeyGemError  # noqa: E402
from heygem_ops.media.audio_io import decode_audio  # noqa: E402
from heygem_ops.media.frames import iter_frames  # noqa: E402
from heygem_ops.media.probe import probe_audio, probe_video  # noqa: E402
from heygem_ops.options import GenerateOptions  # noqa: E402
from heygem_ops.plan import plan_job  # noqa: E402
from heygem_ops.settings import get_settings  # noqa: E402

BOUNDARY_INTS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


class TimeUp(BaseException):
    """Raised inside the Hypothesis loop when the time budget is spent (not an Exception: it is not a failure)."""


def make_seeds(folder: Path) -> list[Path]:
    """Small valid inputs of every kind the decode stage accepts."""
    tone = AudioTrack("aac", sample_rate=16000)
    return [
        make_video(folder / "h264.mp4", frames=6, size=(48, 32), audio=tone),
        make_video(folder / "rot90.mov", frames=4, size=(48, 32), rotation=90),
        make_video(folder / "vfr.mkv", frames=4, size=(48, 32), timestamps_s=[0, 0.04, 0.1, 0.13]),
        make_video(folder / "vp9.webm", frames=4, size=(48, 32), codec="libvpx-vp9"),
        make_video(folder / "mpeg4.avi", frames=4, size=(48, 32), codec="mpeg4", fps=Fraction(30000, 1001)),
        make_audio(folder / "speech.wav", duration_s=0.2),
        make_audio(folder / "speech.mp3", duration_s=0.2, sample_rate=22050),
        make_audio(folder / "speech.m4a", duration_s=0.2, channels=2),
        make_audio(folder / "speech.flac", duration_s=0.2),
        make_audio(folder / "speech.ogg", duration_s=0.2, sample_rate=48000),
        make_still(folder / "face.png", size=(48, 32)),
        make_still(folder / "face.jpg", size=(48, 32), exif_orientation=6),
        make_still(folder / "face.webp", size=(48, 32)),
        make_still(folder / "face.bmp", size=(48, 32)),
    ]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """(suffix, bytes): a seed with 1-4 mutations at positions relative to its length, or random bytes."""
    suffix, data = seeds[draw(st.integers(0, len(seeds) - 1))]
    if draw(st.integers(0, 9)) == 0:
        return suffix, draw(st.binary(max_size=2048))
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = int(draw(st.floats(0, 1, exclude_max=True)) * max(len(buffer), 1))
        kind = draw(st.sampled_from(["flip", "int", "bytes", "cut", "insert", "repeat"]))
        if kind == "flip" and buffer:
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "int":
            width = draw(st.sampled_from([1, 2, 4]))
            value = draw(st.sampled_from(BOUNDARY_INTS)) & (256**width - 1)
            buffer[at : at + width] = value.to_bytes(width, draw(st.sampled_from(["big", "little"])))
        elif kind == "bytes":
            chunk = draw(st.binary(min_size=1, max_size=16))
            buffer[at : at + len(chunk)] = chunk
        elif kind == "cut":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "repeat":
            buffer[at:at] = buffer[at : at + draw(st.integers(1, 512))]
    return suffix, bytes(buffer)


@dataclass
class Tally:
    """What the run saw."""

    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)  # "probe_video:UnreadableMediaError" -> count
    findings: dict[tuple[str, str], tuple[str, str, Path | None]] = field(default_factory=dict)
    slowest: tuple[float, str, object] = (0.0, "", None)  # seconds, description, (suffix, bytes) or saved path


def run_case(path: Path, valid: dict[str, Path], output: Path, tally: Tally) -> None:
    """Feed one file to every decode-stage entry; record each outcome, and any non-HeyGemError as a finding."""

    def attempt(name: str, call) -> object:
        try:
            value = call()
        except HeyGemError as error:
            tally.outcomes[f"{name}:{type(error).__name__}"] += 1
            return None
        except Exception as error:  # the finding: anything else escaping the decode stage
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"
            key = (f"{name}:{type(error).__name__}", where)
            if key not in tally.findings:
                tally.findings[key] = (str(error)[:200], traceback.format_exc(), None)
            tally.outcomes[f"{name}:{type(error).__name__} (FINDING)"] += 1
            return None
        tally.outcomes[f"{name}:ok"] += 1
        return value

    options = GenerateOptions()
    video = attempt("probe_video", lambda: probe_video(path))
    if video is not None:
        attempt("iter_frames", lambda: sum(1 for _ in iter_frames(video, 0, 3)))
        attempt("plan_job(template)", lambda: plan_job(path, valid["audio"], output, options))
    sound = attempt("probe_audio", lambda: probe_audio(path))
    if sound is not None:
        attempt("decode_audio", lambda: decode_audio(path))
        attempt("plan_job(recording)", lambda: plan_job(valid["still"], path, output, options))


def fuzz(args: argparse.Namespace, folder: Path) -> Tally:
    """Run Hypothesis until the time budget is spent; return the tally."""
    seeds_dir, cases_dir = folder / "seeds", folder / "cases"
    seeds_dir.mkdir()
    cases_dir.mkdir()
    seed_files = make_seeds(seeds_dir)
    seeds = [(p.suffix, p.read_bytes()) for p in seed_files]
    valid = {"audio": seeds_dir / "speech.wav", "still": seeds_dir / "face.png"}
    output = folder / "out.mp4"
    tally, deadline = Tally(), time.monotonic() + args.seconds
    print(f"{len(seeds)} seeds; on a hang the input is left at {cases_dir}/case.<suffix>", flush=True)

    @seed(args.seed)
    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated(seeds))
    def one(case: tuple[str, bytes]) -> None:
        if time.monotonic() > deadline:
            raise TimeUp
        suffix, data = case
        path = cases_dir / f"case{suffix}"
        path.write_bytes(data)
        faulthandler.dump_traceback_later(args.case_timeout, exit=True)
        started = time.monotonic()
        known = len(tally.findings)
        try:
            run_case(path, valid, output, tally)
        finally:
            faulthandler.cancel_dump_traceback_later()
        elapsed = time.monotonic() - started
        tally.cases += 1
        if elapsed > tally.slowest[0]:
            tally.slowest = (elapsed, f"{len(data)} bytes {suffix}", (suffix, data))
        if len(tally.findings) > known and args.save:
            saved = save_input(args.save, suffix, data)
            for key in list(tally.findings)[known:]:
                message, trace, _ = tally.findings[key]
                tally.findings[key] = (message, trace, saved)

    with contextlib.suppress(TimeUp):
        one()
    if args.save and tally.slowest[2]:
        tally.slowest = (*tally.slowest[:2], save_input(args.save / "slowest", *tally.slowest[2]))
    return tally


def save_input(folder: Path, suffix: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    path.write_bytes(data)
    return path


def report(tally: Tally, seconds: float) -> None:
    print(f"cases tried: {tally.cases} in {seconds:.0f} s ({tally.cases / max(seconds, 1e-9):.0f}/s)")
    seconds_, what, saved = tally.slowest
    print(f"slowest case: {seconds_:.2f} s ({what})" + (f", input: {saved}" if isinstance(saved, Path) else ""))
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print("outcomes:")
    for outcome, count in sorted(tally.outcomes.items()):
        print(f"  {count:7d}  {outcome}")
    print(f"findings: {len(tally.findings)}")
    for (kind, where), (message, trace, saved) in tally.findings.items():
        print(f"\n--- {kind} at {where}: {message}" + (f"\n    input: {saved}" if saved else ""))
        print(trace.rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--case-timeout", type=float, default=20.0, help="seconds one case may take (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed, for a reproducible run (default 0)")
    parser.add_argument("--save", type=Path, help="folder to keep the inputs behind findings")
    args = parser.parse_args()
    faulthandler.enable()
    with tempfile.TemporaryDirectory(prefix="heygem-fuzz-") as folder:
        os.environ["HEYGEM_HOME"] = str(Path(folder) / "home")
        get_settings.cache_clear()
        started = time.monotonic()
        tally = fuzz(args, Path(folder))
        report(tally, time.monotonic() - started)
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
