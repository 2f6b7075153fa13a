"""The web UI's job queue: submissions return at once, run in order, fail alone, and report progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from heygem_flows.jobs_queue import FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue, Ticket
from heygem_ops.errors import NoFaceError


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    jobs = JobQueue(workers=1)
    yield jobs
    jobs.shutdown(wait=True)


def _wait(queue: JobQueue, ticket: Ticket, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = queue.view(ticket.id)
        if view is not None and view.done:
            return view
        time.sleep(0.01)
    raise AssertionError(f"{ticket.label} did not finish")


def test_submit_returns_at_once_and_jobs_queue_in_order(queue: JobQueue) -> None:
    gate = threading.Event()
    order: list[str] = []

    def work(name: str):
        def run(ticket: Ticket) -> str:
            gate.wait(5)
            order.append(name)
            return name

        return run

    started = time.monotonic()
    tickets = [queue.submit(name, work(name)) for name in ("a", "b", "c")]
    assert time.monotonic() - started < 0.5  # nobody waits for a job to submit one
    time.sleep(0.05)
    views = [queue.view(t.id) for t in tickets]
    assert [v.state for v in views] == [RUNNING, QUEUED, QUEUED]
    assert [v.position for v in views] == [0, 0, 1]
    assert queue.active() == 3
    gate.set()
    assert [_wait(queue, t).result for t in tickets] == ["a", "b", "c"]
    assert order == ["a", "b", "c"] and queue.active() == 0


def test_a_failing_job_fails_alone_with_its_message(queue: JobQueue) -> None:
    def no_face(ticket: Ticket) -> None:
        raise NoFaceError("no face in any frame", path="wall.png", hint="use a template with a visible face")

    def bug(ticket: Ticket) -> None:
        raise ZeroDivisionError("oops")

    failed = queue.submit("bad", no_face)
    crashed = queue.submit("bug", bug)
    fine = queue.submit("good", lambda ticket: 42)
    assert (
        _wait(queue, failed).error == "NoFaceError: wall.png: no face in any frame; use a template with a visible face"
    )
    crash = _wait(queue, crashed)
    assert crash.state == FAILED and crash.error.startswith("InternalError: ZeroDivisionError: oops")
    done = _wait(queue, fine)
    assert (done.state, done.result) == (SUCCEEDED, 42)


def test_the_same_job_submitted_twice_while_active_is_joined(queue: JobQueue) -> None:
    gate = threading.Event()
    runs: list[int] = []

    def work(ticket: Ticket) -> str:
        runs.append(1)
        gate.wait(5)
        return "video.mp4"

    first = queue.submit("tab 1", work, key="/out/x.mp4")
    second = queue.submit("tab 2", work, key="/out/x.mp4")
    assert second is first
    gate.set()
    assert _wait(queue, first).result == "video.mp4"
    third = queue.submit("tab 3", work, key="/out/x.mp4")  # finished: a new submission runs again
    assert third is not first and _wait(queue, third).result == "video.mp4"
    assert len(runs) == 2


def test_two_tabs_submitting_at_once_both_get_their_results() -> None:
    queue = JobQueue(workers=2)
    barrier = threading.Barrier(8)
    tickets: dict[int, Ticket] = {}

    def tab(number: int) -> None:
        barrier.wait()
        tickets[number] = queue.submit(f"tab {number}", lambda ticket, n=number: f"video-{n}.mp4")

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: _wait(queue, t).result for n, t in tickets.items()} == {n: f"video-{n}.mp4" for n in range(8)}
    queue.shutdown()


def test_progress_reports_reach_the_view(queue: JobQueue) -> None:
    reported = threading.Event()
    release = threading.Event()

    def work(ticket: Ticket) -> None:
        listener = ticket.listener("/out/a.mp4")
        listener("track", 1, 1)
        listener("render", 40, 84)
        reported.set()
        release.wait(5)

    ticket = queue.submit("job", work)
    assert reported.wait(5)
    view = queue.view(ticket.id)
    assert view.progress == {"/out/a.mp4": {"track": (1, 1), "render": (40, 84)}}
    assert view.state == RUNNING and view.elapsed_s >= 0
    release.set()
    _wait(queue, ticket)


def test_unknown_tickets_are_none(queue: JobQueue) -> None:
    assert queue.view("nope") is None and queue.get(None) is None
