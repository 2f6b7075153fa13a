"""Progress of running jobs, published to whoever listens: a terminal bar, the web UI, Prefect.

Stages report into a board keyed by a job key the caller picks (the output path), so a flow's
tasks, running in worker threads, reach the listener of the command that started the job without
passing callables through task parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from heygem_ops.i18n import N_, translate

Listener = Callable[[str, int, int], None]  # (stage, done, total)
STAGE_NAMES = {
    "queued": N_("queued"),
    "decode": N_("decoding"),
    "track": N_("tracking face"),
    "render": N_("rendering"),
    "encode": N_("encoding"),
}  # what a progress bar or status line calls each stage


def stage_name(stage: str) -> str:
    """A stage as shown to the user, in the current language (an unknown one as it is)."""
    return translate(STAGE_NAMES[stage]) if stage in STAGE_NAMES else stage


class ProgressBoard:
    """Thread-safe counters per (job key, stage), fanned out to the job's listeners."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._done: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def listening(self, key: str, listener: Listener) -> Iterator[None]:
        """Send progress of job `key` to `listener` while the block runs."""
        with self._lock:
            self._listeners.setdefault(key, []).append(listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners[key].remove(listener)
                if not self._listeners[key]:
                    del self._listeners[key]
                    for done_key in [k for k in self._done if k[0] == key]:
                        del self._done[done_key]

    def counter(self, key: str, stage: str, total: int) -> Callable[[int], None]:
        """A function that adds n finished units of `stage` (out of `total`) for job `key`."""

        def advance(n: int) -> None:
            with self._lock:
                if key not in self._listeners:
                    return  # nobody watches this job: keep no state for it
                done = self._done.get((key, stage), 0) + n
                self._done[(key, stage)] = done
                listeners = list(self._listeners.get(key, ()))
            for listener in listeners:
                listener(stage, done, total)

        return advance


board = ProgressBoard()
