import multiprocessing
import time
from pathlib import Path

from heygem_ops.cache import TemplateCache


def _encode(value: str) -> bytes:
    return value.encode()


def _decode(data: bytes) -> str:
    text = data.decode()
    if not text.startswith("ok:"):
        raise ValueError("damaged entry")
    return text


def test_builds_once_then_reads(tmp_path: Path):
    cache, calls = TemplateCache(tmp_path), []

    def build() -> str:
        calls.append(1)
        return "ok:track"

    assert cache.get_or_build("ab" * 16, "track.npz", build, _encode, _decode) == ("ok:track", False)
    assert cache.get_or_build("ab" * 16, "track.npz", build, _encode, _decode) == ("ok:track", True)
    assert len(calls) == 1


def test_damaged_entry_is_rebuilt(tmp_path: Path):
    cache = TemplateCache(tmp_path)
    path = cache.path("cd" * 16, "track.npz")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half-writ")  # what a killed writer without atomic rename would leave
    value, cached = cache.get_or_build("cd" * 16, "track.npz", lambda: "ok:fresh", _encode, _decode)
    assert (value, cached) == ("ok:fresh", False)
    assert path.read_bytes() == b"ok:fresh"


def _slow_build(root: str, counter: str) -> None:
    def build() -> str:
        with open(counter, "a") as handle:
            handle.write("x")
        time.sleep(0.5)
        return "ok:shared"

    TemplateCache(Path(root)).get_or_build("ef" * 16, "track.npz", build, _encode, _decode)


def test_concurrent_jobs_build_a_template_once(tmp_path: Path):
    counter = tmp_path / "builds.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_slow_build, args=(str(tmp_path), str(counter))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert counter.read_text() == "x"
    assert not list(tmp_path.rglob(".*.part"))
