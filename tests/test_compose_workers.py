"""Compose in worker processes: the same segment as rendering here, progress relayed, a dead worker
a retryable error, and a script that cannot have workers still rendered (here, with a warning)."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from face_factory import synthetic_landmarks
from media_factory import make_audio, make_video

from heygem_ops.audio import audio_features
from heygem_ops.compose.chunk import render_chunk
from heygem_ops.compose.relay import BEGUN, FINISHED, ProgressRelay, ProgressSender
from heygem_ops.compose.workers import ComposeWorkers
from heygem_ops.engines.base import MouthUpdate
from heygem_ops.errors import ResourceError, is_retryable
from heygem_ops.face.track import FaceTrack
from heygem_ops.features import JobFeatures, chunk_orders
from heygem_ops.options import GenerateOptions
from heygem_ops.orders import ChunkInference, ChunkOrder
from heygem_ops.plan import plan_job
from heygem_ops.quality.chunk import _TRACKER_LOCK

REPO = Path(__file__).resolve().parents[1]
FRAMES = 48  # one chunk: long enough that a worker can be killed in the middle of it


@pytest.fixture
def scene(tmp_path: Path) -> tuple[ChunkOrder, ChunkInference]:
    """A one-chunk job's order on a generated 256x256 video with a synthetic face track, and mouths opening on it."""
    template = make_video(tmp_path / "template.mp4", frames=FRAMES, size=(256, 256))
    audio = make_audio(tmp_path / "speech.wav", duration_s=FRAMES / 25)
    plan = plan_job(template, audio, tmp_path / "out.mp4", GenerateOptions.from_settings(chunk_frames=FRAMES))
    face = synthetic_landmarks(centre=(128.0, 110.0), iod=60.0)
    track = FaceTrack(
        landmarks=np.repeat(face[None], FRAMES, axis=0),
        boxes=np.tile(np.array([80.0, 60.0, 176.0, 190.0], dtype=np.float32), (FRAMES, 1)),
        confidence=np.ones(FRAMES, dtype=np.float32),
        size=(256, 256),
        backend="mesh",
    )
    track_path = tmp_path / "track.npz"
    track.save(track_path)
    gaps = 12.0 * np.abs(np.sin(np.arange(FRAMES) / 4.0))
    targets = np.stack([synthetic_landmarks(centre=(128.0, 110.0), iod=60.0, gap=g) for g in gaps])
    update = MouthUpdate(np.ones(FRAMES, bool), targets.astype(np.float32), np.full(FRAMES, 0.8, np.float32))
    features = JobFeatures(
        track_path, audio_features(np.load(plan.audio_16k), plan.fps, FRAMES), 0.8, FRAMES, False, 0.0
    )
    (order,) = chunk_orders(plan, features)
    return order, ChunkInference(order.chunk, update, 0.0)


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(float)


def worker_processes() -> set[psutil.Process]:
    """This process's spawned children: compose workers (this test's and any the session started)."""
    found = set()
    for child in psutil.Process().children():
        try:
            if alive(child) and "spawn_main" in " ".join(child.cmdline()):
                found.add(child)
        except psutil.Error:  # ended meanwhile
            pass
    return found


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def started_workers(count: int) -> tuple[ComposeWorkers, set[psutil.Process]]:
    """A pool of `count` workers, and its processes (told from other pools' by when they appeared)."""
    before = worker_processes()
    workers = ComposeWorkers(count)
    while len(ours := worker_processes() - before) < count:
        time.sleep(0.05)
    return workers, ours


def test_workers_render_the_segment_this_process_renders(scene: tuple, tmp_path: Path) -> None:
    order, inference = scene
    workers = ComposeWorkers(2)
    frames: list[int] = []
    segment = workers.render(order, inference, frames.append)
    assert segment.frames == FRAMES and sum(frames) == FRAMES  # progress came back from the worker
    here = dataclasses.replace(order, work_dir=tmp_path / "here")
    reference = render_chunk(here, inference)
    ours, theirs = decoded(segment.path), decoded(reference.path)
    psnr = 10 * np.log10(255.0**2 / np.mean((ours - theirs) ** 2))
    assert ours.shape == theirs.shape and psnr > 40  # only x264's threading differs
    assert np.abs(ours[FRAMES // 2] - decoded(order.video.path)[FRAMES // 2]).max() > 20  # a mouth was drawn


def test_a_segments_seconds_hold_the_scoring_that_rode_along(scene: tuple) -> None:
    """The job counts compose's worker seconds as the segment's less its scoring's: the first must hold the second,
    even when the scoring waited for the mouth tracker another chunk was using (CI once saw a negative remainder)."""
    order, inference = scene
    _TRACKER_LOCK.acquire()
    threading.Timer(0.5, _TRACKER_LOCK.release).start()  # another chunk's tracking pass, for half a second
    segment = render_chunk(dataclasses.replace(order, qa=True), inference)
    assert segment.quality is not None and 0 < segment.quality.seconds < segment.seconds


def test_a_worker_that_dies_is_a_retryable_error_and_the_pool_recovers(scene: tuple, tmp_path: Path) -> None:
    order, inference = scene
    workers, processes = started_workers(1)
    killed = threading.Event()

    def kill_the_worker(_: int) -> None:  # at the first progress message: mid-chunk
        if not killed.is_set():
            killed.set()
            for process in processes:
                process.kill()

    with pytest.raises(ResourceError, match="compose worker died") as error:
        workers.render(order, inference, kill_the_worker)
    assert killed.is_set() and is_retryable(error.value)
    assert not list((order.work_dir / "segments").glob("0*.mp4"))  # nothing half-written was published
    assert workers.render(order, inference).frames == FRAMES  # a new pool took over


def test_a_pool_broken_between_chunks_is_replaced_without_an_error(scene: tuple) -> None:
    order, inference = scene
    workers, processes = started_workers(2)
    for process in processes:  # e.g. the kernel's OOM killer, while no chunk was running
        process.kill()
    while any(alive(process) for process in processes):  # dead; the pool, their parent, reaps them
        time.sleep(0.05)
    assert workers.render(order, inference).frames == FRAMES


def test_a_script_without_a_main_guard_still_renders_here_with_a_warning(scene: tuple, tmp_path: Path) -> None:
    """Spawned workers re-run an unguarded script and fail to start; the job must not fail with them."""
    inputs = tmp_path / "inputs.pickle"
    inputs.write_bytes(pickle.dumps(scene))
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import pickle, sys\n"
        "from heygem_ops.compose.workers import ComposeWorkers\n"
        f"order, inference = pickle.loads(open({str(inputs)!r}, 'rb').read())\n"
        "print('frames', ComposeWorkers(1).render(order, inference).frames)\n"
    )
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"frames {FRAMES}" in run.stdout
    assert "compose workers could not start" in run.stderr and "__main__" in run.stderr


def test_progress_reports_reach_their_chunk_and_a_lost_relay_never_fails_a_worker() -> None:
    relay = ProgressRelay()
    frames: list[int] = []
    listener = relay.listen(7, frames.append)
    sender = ProgressSender(relay.address)
    for report in (BEGUN, 5, 3, FINISHED):
        sender.send(7, report)
    assert listener.finished.wait(5) and listener.began.is_set() and frames == [5, 3]
    relay.close()
    sender.send(7, 5)  # the relay's process is ending: the report is lost, nothing is raised
