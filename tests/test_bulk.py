"""Bulk generation: every job exactly once, failures recorded alone, a killed run resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from face_clips import make_face_clip, make_speech
from media_factory import make_random_bytes
from output_checks import playable

from heygem_ops.results_store import ResultsStore

pytestmark = pytest.mark.media
REPO = Path(__file__).resolve().parents[1]


def _jobs(root: Path, portrait: Path, count: int, seconds: float = 1.0) -> Path:
    """A CSV of `count` jobs over 2 templates (so templates are shared) with distinct recordings."""
    templates = [make_face_clip(root / f"t{i}.mp4", portrait, seed=i) for i in range(2)]
    rows = [
        {"template": templates[i % 2].name, "audio": make_speech(root / f"a{i}.wav", seconds, seed=i).name}
        for i in range(count)
    ]
    manifest = root / "jobs.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def _heygem(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.Popen(
        [sys.executable, "-c", "from heygem_flows.cli import main; main()", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def test_batch_records_every_job_and_fails_bad_ones_alone(media_dir, tmp_path):
    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 3)
    make_random_bytes(tmp_path / "broken.mp4")
    with manifest.open("a") as handle:
        handle.write("broken.mp4,a0.wav\n")
    out = tmp_path / "out"
    run = _heygem("batch", str(manifest), "--out", str(out))
    text, _ = run.communicate(timeout=300)
    assert run.returncode == 1, text  # one job failed: the batch says so, after finishing the rest
    latest = ResultsStore(out).latest()
    assert sorted(latest["status"]) == ["failed", "succeeded", "succeeded", "succeeded"]
    failed = latest[latest["status"] == "failed"].iloc[0]
    assert failed["error_type"] == "UnreadableMediaError" and "broken.mp4" in failed["error_message"]
    assert latest["track_cached"].fillna(True).tolist().count(False) == 2  # each distinct template tracked once
    rerun = _heygem("batch", str(manifest), "--out", str(out))
    text, _ = rerun.communicate(timeout=300)
    assert "3 skipped" in text, text


@pytest.mark.slow
def test_killed_batch_resumes_and_finishes_every_job_exactly_once(media_dir, tmp_path):
    manifest = _jobs(tmp_path, media_dir / "sadtalker_people_0.png", 8, seconds=1.5)
    out = tmp_path / "out"
    run = _heygem("batch", str(manifest), "--out", str(out), "--jobs-at-once", "2")
    deadline = time.monotonic() + 240
    while len(ResultsStore(out).files()) < 2 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert run.poll() is None, "the batch finished before it could be killed; make the jobs longer"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    finished_before = set(ResultsStore(out).succeeded_ids())
    assert 0 < len(finished_before) < 8
    assert all(playable(path) for path in out.glob("*.mp4"))  # nothing half-written under an output name
    rerun = _heygem("batch", str(manifest), "--out", str(out))
    text, _ = rerun.communicate(timeout=400)
    assert rerun.returncode == 0, text
    store = ResultsStore(out)
    rows = store.frame()
    succeeded = rows[rows["status"] == "succeeded"].groupby("job_id").size()
    assert len(succeeded) == 8 and (succeeded == 1).all()  # every job succeeded exactly once
    latest = store.latest()
    assert (latest["status"] == "succeeded").all() and len(latest) == 8
    assert all(playable(Path(path)) for path in latest["output"])
    assert not [p for p in out.iterdir() if p.is_file() and p.suffix != ".mp4"]  # no temp files left
