"""Compose in worker processes of this machine.

Rendering a frame is a few milliseconds of NumPy and OpenCV calls over small arrays, which hold the
GIL most of the time: threads of one process render barely faster than one core (two threads
measured 1.24x one). A pool of spawned processes renders on every core. Workers start without
torch (they never run a model), are warmed as soon as the pool exists so a job does not wait for
their imports, and die with the process that started them, so a killed job leaves no renderer
behind to race its rerun.

Spawned workers import the main script again, as every spawned Python process does: a script that
calls `generate` must do so under ``if __name__ == "__main__":``. When workers cannot start for
that (or any) reason, rendering falls back to the calling thread with a warning saying so.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import cv2

from heygem_ops.compose.chunk import render_chunk
from heygem_ops.compose.relay import BEGUN, FINISHED, ProgressRelay, ProgressSender, relay_supported
from heygem_ops.errors import ResourceError
from heygem_ops.logs import get_logger
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.settings import get_settings

log = get_logger(__name__)

PROGRESS_EVERY = 5  # frames a worker renders between progress messages
HANDOVER_ATTEMPTS = 3  # pools tried for a chunk that never reached a worker before giving up
RELAY_WAIT_S = 10.0  # longest wait for a finished chunk's last progress report (progress is only for show)
PARENT_POLL_S = 0.25  # how often a worker checks that the process that started it is still alive

_sender: ProgressSender | None = None  # in a worker: where it reports rendered frames


def _start_worker(relay_address: str, parent: int) -> None:
    """Initializer of every worker: die with the parent, report progress, one OpenCV thread."""
    global _sender
    _sender = ProgressSender(relay_address)
    threading.Thread(target=_exit_with, args=(parent,), name="heygem-parent-watch", daemon=True).start()
    cv2.setNumThreads(1)  # the pool already has a process per core


def _exit_with(parent: int) -> None:
    """End this process soon after `parent` has gone, however it went (SIGKILL included).

    A worker holds both ends of the pool's queues, so it would never see them close; and Linux's
    parent-death signal fires when the *thread* that started a process ends, which a pool created
    from a task thread would trip. Watching the parent's pid has neither problem.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _ready() -> None:
    """A no-op the pool runs once per worker, so that spawning and imports happen before work arrives."""


_NO_WORKERS = (
    "compose workers could not start, so chunks render in this process (slower). If a script of yours "
    'calls heygem_ops.generate, call it under `if __name__ == "__main__":`; HEYGEM_COMPOSE_WORKERS=0 '
    "silences this"
)


def _render_in_worker(token: int, order: ChunkOrder, inference: ChunkInference, encoder_threads: int) -> Segment:
    assert _sender is not None
    sender = _sender
    sender.send(token, BEGUN)  # from here on, this worker dying fails the chunk
    pending = 0

    def advance(frames: int) -> None:
        nonlocal pending
        pending += frames
        if pending >= PROGRESS_EVERY:
            sender.send(token, pending)
            pending = 0

    try:
        return render_chunk(order, inference, advance, encoder_threads)
    finally:
        if pending:
            sender.send(token, pending)
        sender.send(token, FINISHED)


class ComposeWorkers:
    """A process pool that renders chunk segments and relays each worker's progress to its caller."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._encoder_threads = max(1, (os.cpu_count() or 1) // workers)  # the workers share the CPUs
        self._context = multiprocessing.get_context("spawn")  # fork would copy threads and CUDA state
        self._relay = ProgressRelay()
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._started = False  # a worker has come up: a broken pool after that is a crash, not a set-up problem
        self._pool: ProcessPoolExecutor | None = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        starting = (self._relay.address, os.getpid())
        pool = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_start_worker, initargs=starting)
        for _ in range(self.workers):
            pool.submit(_ready).add_done_callback(self._note_started)
        return pool

    def _note_started(self, ready: Future) -> None:
        if not ready.cancelled() and ready.exception() is None:
            self._started = True

    def render(
        self, order: ChunkOrder, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment:
        """Render one chunk in a worker and wait for it.

        A chunk that never reached a worker (the pool broke while it waited: a worker died since the
        last chunk) goes to a replacement pool; a worker that dies while rendering it is a retryable
        ResourceError.
        """
        token = next(self._tokens)
        listener = self._relay.listen(token, progress)
        try:
            for _ in range(HANDOVER_ATTEMPTS):
                if (pool := self._pool) is None:
                    return render_chunk(order, inference, progress)
                try:
                    job = (token, order, inference, self._encoder_threads)
                    segment = pool.submit(_render_in_worker, *job).result()
                except BrokenProcessPool:
                    self._replace(pool)
                    if listener.began.is_set():
                        break
                    continue
                if not listener.finished.wait(RELAY_WAIT_S):  # sent before the result: it is on its way
                    log.warning("the last progress report of chunk %d did not arrive", inference.chunk.index)
                return segment
            raise ResourceError(
                "a compose worker died while rendering chunk {chunk}",
                chunk=inference.chunk.index,
                path=order.video.path,
                hint="the machine may be out of memory: lower HEYGEM_COMPOSE_WORKERS or HEYGEM_CHUNK_FRAMES, "
                "then retry",
            )
        finally:
            self._relay.forget(token)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Swap a broken pool for a new one, or for none (render here) when no worker ever came up."""
        with self._lock:
            if self._pool is not broken:
                return  # another caller already replaced it
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool() if self._started else None
            if not self._started:
                log.warning(_NO_WORKERS)


def worker_count() -> int:
    """How many compose workers a host starts: HEYGEM_COMPOSE_WORKERS, else one per CPU (0: none)."""
    configured = get_settings().compose_workers
    return os.cpu_count() or 1 if configured is None else configured


def chunks_in_flight() -> int:
    """Chunks a job keeps submitted at once: two per compose worker (or CPU), so that a queued chunk
    is ready the moment a worker finishes one, whatever the caller is doing between chunks."""
    return 2 * max(1, worker_count() or os.cpu_count() or 1)


def can_start_workers() -> bool:
    """False inside a daemonic process (a Dask worker, for one), which may not have children, and
    where the progress relay's Unix sockets do not exist (Windows)."""
    return relay_supported() and not multiprocessing.current_process().daemon
