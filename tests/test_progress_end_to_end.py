"""Progress as a user sees it: the CLI's bars and the web UI's counters stay within the job's frames.

Trackers and renderers report into the board, which adds what it is given; a reporter that sends a
running total instead of a count makes the bar overshoot (a 30-frame track would show 465 frames).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tqdm import tqdm

from heygem_flows.cli import progress as cli_progress
from heygem_flows.cli.main import cli
from heygem_flows.jobs_queue import JobQueue, Ticket
from heygem_flows.single_job import Choices, run_single
from heygem_ops.progress import STAGE_NAMES, stage_name
from tests.face_clips import make_face_clip, make_speech

FRAMES = 30  # template frames (tracked) and output frames (1.2 s of speech at 25 fps)

pytestmark = pytest.mark.media


@pytest.fixture
def clip(media_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    template = make_face_clip(tmp_path / "face.mp4", media_dir / "sadtalker_people_0.png", frames=FRAMES, size=192)
    return template, make_speech(tmp_path / "speech.wav", FRAMES / 25)


def _check(history: dict[str, list[tuple[int, int]]]) -> None:
    """Every stage ran, never passed its total, and ended at it; the totals are the job's frames."""
    assert set(history) == {"track", "render"}, history
    for stage, seen in history.items():
        totals = {total for _, total in seen}
        assert totals == {FRAMES}, (stage, totals)
        assert all(0 <= done <= total for done, total in seen), (stage, seen)
        assert seen[-1][0] == FRAMES, (stage, seen[-1])


def test_the_cli_bars_end_at_the_frame_count(
    clip: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history: dict[str, list[tuple[int, int]]] = {}

    class RecordingBar(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            history.setdefault(self.desc_stage, []).append((int(self.n), int(self.total)))
            return shown

        def __init__(self, *args: object, desc: str = "", **kwargs: object) -> None:
            super().__init__(*args, desc=desc, file=io.StringIO(), **kwargs)
            self.desc_stage = {stage_name(stage): stage for stage in STAGE_NAMES}[desc]

    monkeypatch.setattr(cli_progress, "tqdm", RecordingBar)
    monkeypatch.setenv("HEYGEM_QA", "false")
    template, audio = clip
    result = CliRunner().invoke(cli, ["generate", "-t", str(template), "-a", str(audio), "-o", str(tmp_path / "o.mp4")])
    assert result.exit_code == 0, result.output
    _check(history)


def test_the_ui_counters_end_at_the_frame_count(
    clip: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history: dict[str, list[tuple[int, int]]] = {}
    report = Ticket.report

    def recording(self: Ticket, job: str, stage: str, done: int, total: int) -> None:
        history.setdefault(stage, []).append((done, total))
        report(self, job, stage, done, total)

    monkeypatch.setattr(Ticket, "report", recording)
    monkeypatch.setenv("HEYGEM_QA", "false")
    template, audio = clip
    queue = JobQueue()
    ticket = queue.submit("one", lambda t: run_single(t, template, audio, Choices(), tmp_path / "out"))
    deadline = time.monotonic() + 300
    while not (view := queue.view(ticket.id)).done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view.state == "succeeded", view.error
    _check(history)
    assert next(iter(view.progress.values())) == {"track": (FRAMES, FRAMES), "render": (FRAMES, FRAMES)}
