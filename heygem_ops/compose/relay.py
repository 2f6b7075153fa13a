"""Frames rendered in worker processes, reported back to whoever waits for each chunk.

Workers send one small Unix datagram per report to a socket the parent binds. A datagram is sent
whole or not at all and no lock is shared between senders, so a worker killed mid-report (the OOM
killer, a crash) cannot wedge the others, as it could by dying while holding a multiprocessing
queue's write lock. On Linux the socket has an abstract address, so no /tmp cleaner can remove it
from under a long-running process; elsewhere it is a file in a private temporary folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from heygem_ops.logs import get_logger

log = get_logger(__name__)

_MESSAGE = struct.Struct("!qq")  # chunk token, frames (BEGUN or FINISHED, or frames rendered since the last report)
BEGUN, FINISHED = 0, -1


@dataclass
class Listener:
    """One chunk's reports: frames go to `progress`; `began` and `finished` mark the first and last report."""

    progress: Callable[[int], None] | None
    began: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


class ProgressRelay:
    """The parent's end: a bound datagram socket and a thread handing each report to its chunk's listener."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        if sys.platform.startswith("linux"):
            self.address = f"\0heygem-relay-{os.getpid()}-{uuid.uuid4().hex}"
        else:
            self._folder = Path(tempfile.mkdtemp(prefix="heygem-relay-"))
            self.address = str(self._folder / "progress.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.address)
        self._listeners: dict[int, Listener] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._relay, name="heygem-compose-progress", daemon=True).start()
        atexit.register(self.close)  # the socket's folder goes with the process

    def listen(self, token: int, progress: Callable[[int], None] | None) -> Listener:
        listener = Listener(progress)
        with self._lock:
            self._listeners[token] = listener
        return listener

    def forget(self, token: int) -> None:
        with self._lock:
            self._listeners.pop(token, None)

    def close(self) -> None:
        self._socket.close()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _relay(self) -> None:
        while True:
            try:
                token, frames = _MESSAGE.unpack(self._socket.recv(_MESSAGE.size))
            except OSError:
                return  # closed
            with self._lock:
                listener = self._listeners.get(token)
            if listener is None:
                continue
            listener.began.set()
            if frames == FINISHED:
                listener.finished.set()
            elif frames > 0 and listener.progress:
                try:
                    listener.progress(frames)
                except Exception:  # a broken display must not stop the reports every chunk waits on
                    log.exception("progress listener failed")


class ProgressSender:
    """A worker's end: reports for chunk tokens, sent to the relay at `address`."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(self, token: int, frames: int) -> None:
        """Report; a relay that has gone (its process is ending) loses the report, never the chunk."""
        with contextlib.suppress(OSError):
            self._socket.sendto(_MESSAGE.pack(token, frames), self.address)


def relay_supported() -> bool:
    """Unix datagram sockets: Linux and macOS, not Windows."""
    return hasattr(socket, "AF_UNIX") and os.name == "posix"
