"""The local model host: one lock per loaded model, so one job's tracking never holds up another's inference."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from face_factory import articulation, synthetic_landmarks

from heygem_ops import hosting
from heygem_ops.audio import AudioFeatures
from heygem_ops.engines.base import InferenceBatch
from heygem_ops.engines.registry import EngineSpec
from heygem_ops.face.trackers import TrackerSpec

WAIT_S = 30.0  # far above any honest inference of one frame; only a lock held by the tracker reaches it


class BlockingTracker:
    """A tracker that stays in its pass until told to finish, like one tracking a long template."""

    name = "blocking"

    def __init__(self) -> None:
        self.inside, self.finish = threading.Event(), threading.Event()

    def track(self, frames, progress=None):
        self.inside.set()
        self.finish.wait(WAIT_S)
        return None


@pytest.fixture
def tracker(monkeypatch) -> BlockingTracker:
    """The tracker every LocalHost of the test builds."""
    blocking = BlockingTracker()
    monkeypatch.setattr(hosting, "create_tracker", lambda name, **_: blocking)
    return blocking


@contextmanager
def tracking(host: hosting.LocalHost, tracker: BlockingTracker) -> Iterator[list[threading.Thread]]:
    """A tracking pass of `host`, under way in another thread while the block runs (more may be added)."""
    threads = [threading.Thread(target=host.track, args=(TrackerSpec("blocking"), None))]
    threads[0].start()
    try:
        assert tracker.inside.wait(WAIT_S)
        yield threads
    finally:
        tracker.finish.set()
        for thread in threads:
            thread.join()


def _batch() -> InferenceBatch:
    features = AudioFeatures(np.zeros(1, np.float32), np.ones(1, np.float32), np.full(1, 0.5, np.float32))
    return InferenceBatch(synthetic_landmarks()[None], features, mouth_width=0.8, articulation=articulation(1.0))


def test_inference_runs_while_another_job_tracks(tracker):
    host = hosting.LocalHost()
    with tracking(host, tracker):
        answered = []
        inference = threading.Thread(target=lambda: answered.append(host.infer(EngineSpec("warp"), _batch())))
        inference.start()
        inference.join(WAIT_S / 2)
        assert answered, "inference waited for another job's tracking pass"
        assert not tracker.finish.is_set()
        assert answered[0].present.tolist() == [True]


def test_one_tracker_serves_one_video_at_a_time(tracker):
    host = hosting.LocalHost()
    with tracking(host, tracker) as threads:
        tracker.inside.clear()
        threads.append(threading.Thread(target=host.track, args=(TrackerSpec("blocking"), None)))
        threads[-1].start()
        assert not tracker.inside.wait(0.5), "two videos interleaved in one tracker"
