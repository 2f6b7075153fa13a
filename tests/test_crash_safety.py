"""Issue 7.4: a job killed with SIGKILL at any stage leaves no output, a valid cache, and reruns fine.

Each test runs a plain job (`heygem_ops.generate`, no Prefect) in a child process, waits for a
file that proves the child is inside the stage under test, kills it with SIGKILL, then checks what
the kill left and runs the job again in this process. The child holds each stage open a little
longer (a short sleep per frame or packet) so that the kill lands inside the stage on any machine;
the files it writes are the real ones. The hold is installed by a `sitecustomize` module on the
child's PYTHONPATH, so it is in force in every process of the job: its compose workers too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from media_factory import make_audio

from heygem_ops import generate
from heygem_ops.face.track import FaceTrack
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.probe import probe_video
from heygem_ops.settings import get_settings

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = "sadtalker_WDA_KatieHill_000.mp4"
SPEECH = "sadtalker_RD_Radio34_002.wav"
TEMPLATE_FRAMES = 20  # the first 0.8 s of the clip, at half size: cheap to track, still a real moving face
SIZE = 256  # px, width and height of the template
SPEECH_S = 1.2  # longer than the template: the output plays it forward then back
WAIT_S = 90.0  # longest wait for the child to reach the stage under test

# Imported at start-up by every process of the job: hold one stage open (sleep per frame / packet / write).
HOLD = """
import os, time
hold, stage = float(os.environ["HOLD_S"]), os.environ["HOLD_STAGE"]
from heygem_ops import atomic, cache
from heygem_ops.media import publish, segments

def slowed(function):
    def wrapper(*args, **kwargs):
        time.sleep(hold)
        return function(*args, **kwargs)
    return wrapper

def slowed_packets(function):
    def wrapper(*args, **kwargs):
        for packet in function(*args, **kwargs):
            time.sleep(hold)
            yield packet
    return wrapper

def half_written(path, data):  # a writer without atomic rename, killed halfway through the entry
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(3600)

if stage == "compose":
    segments.SegmentWriter.write = slowed(segments.SegmentWriter.write)
elif stage == "encode":
    publish._video_packets = slowed_packets(publish._video_packets)
elif stage == "cache-fsync":  # the real atomic writer, killed after writing the temporary, before the rename
    def paused_before_rename(path, data):
        with atomic.atomic_output(path) as temporary:
            temporary.write_bytes(data)
            time.sleep(hold)
    cache.write_atomically = paused_before_rename
elif stage == "cache-half":
    cache.TemplateCache._store = staticmethod(half_written)
"""
RUNNER = "import sys\nfrom heygem_ops import generate\ngenerate(sys.argv[1], sys.argv[2], sys.argv[3])\n"


@pytest.fixture(scope="module")
def inputs(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(template, speech): the start of a real talking-head clip, and a little more real speech."""
    folder = tmp_path_factory.mktemp("crash-inputs")
    template = folder / "template.mp4"
    with av.open(str(media_dir / TEMPLATE)) as source, av.open(str(template), mode="w") as target:
        stream = target.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        for index, frame in enumerate(source.decode(video=0)):
            if index == TEMPLATE_FRAMES:
                break
            rgb = frame.reformat(SIZE, SIZE, format="rgb24").to_ndarray()
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            picture.pts = index
            target.mux(stream.encode(picture))
        target.mux(stream.encode(None))
    samples = decode_audio(media_dir / SPEECH)[: round(SPEECH_S * 16000)]
    return template, make_audio(folder / "speech.wav", samples=samples[None], sample_rate=16000)


@pytest.fixture
def job(inputs: tuple[Path, Path], tmp_path: Path, heygem_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """One job's paths, with small chunks so that compose writes several segments."""
    monkeypatch.setenv("HEYGEM_CHUNK_FRAMES", "10")
    get_settings.cache_clear()
    output = tmp_path / "out" / "result.mp4"
    output.parent.mkdir()
    return {"template": inputs[0], "audio": inputs[1], "output": output, "home": heygem_home}


def kill_when(job: dict, stage: str, hold_s: float, ready: Callable[[], list[Path]]) -> list[Path]:
    """Start the job in a child that holds `stage` open; SIGKILL it once `ready()` finds files; return them.

    The processes the child started (its compose workers) must die with it: none may go on writing.
    """
    hooks = job["home"].parent / "hold-hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(HOLD)
    env = {**os.environ, "HOLD_S": str(hold_s), "HOLD_STAGE": stage, "PYTHONPATH": f"{hooks}{os.pathsep}{REPO}"}
    command = [sys.executable, "-c", RUNNER, str(job["template"]), str(job["audio"]), str(job["output"])]
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + WAIT_S
    try:
        while not (found := ready()):
            if child.poll() is not None:
                pytest.fail(f"the job ended (rc {child.returncode}) before {stage}: {child.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the job did not reach {stage} within {WAIT_S} s")
            time.sleep(0.005)
        print(f"killed {stage} after {time.monotonic() - deadline + WAIT_S:.1f} s")
        started = psutil.Process(child.pid).children(recursive=True)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
        _, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, f"processes outlived the killed job: {[p.pid for p in alive]}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    return found


def segment_files(home: Path) -> list[Path]:
    return [p for p in (home / "work").glob("*/segments/*") if p.is_file()]


def output_temporaries(output: Path) -> list[Path]:
    return list(output.parent.glob(f".{output.name}.*.part"))


def cache_entries(home: Path) -> list[Path]:
    return [p for p in (home / "cache").rglob("track-*.npz") if not p.name.startswith(".")]


def assert_rerun_succeeds(job: dict, *, track_cached: bool) -> None:
    """A second run of the same job publishes a whole file, reusing (or rebuilding) the face track."""
    started = time.monotonic()
    result = generate(job["template"], job["audio"], job["output"])
    print(f"rerun {time.monotonic() - started:.1f} s: {result.stage_seconds}")
    assert result.succeeded and result.track_cached is track_cached
    info = probe_video(job["output"])
    assert abs(info.frame_count - SPEECH_S * 25) <= 1 and (info.width, info.height) == (SIZE, SIZE)
    assert [p.name for p in job["output"].parent.iterdir()] == [job["output"].name]  # no temporaries left
    assert not list((job["home"] / "work").glob("*/"))  # the job's scratch folder is gone
    entries = cache_entries(job["home"])
    assert len(entries) == 1 and FaceTrack.load(entries[0]).frame_count == TEMPLATE_FRAMES
    assert not list((job["home"] / "cache").rglob(".*.part"))


def test_kill_during_compose(job: dict) -> None:
    found = kill_when(job, "compose", 0.05, lambda: segment_files(job["home"]))
    assert found, "no segment was being written"
    assert not job["output"].exists() and not output_temporaries(job["output"])
    entries = cache_entries(job["home"])
    assert len(entries) == 1
    track = FaceTrack.load(entries[0])  # the track cached before compose began is whole
    assert track.frame_count == TEMPLATE_FRAMES and track.present.all()
    assert_rerun_succeeds(job, track_cached=True)


def test_kill_during_encode(job: dict) -> None:
    found = kill_when(job, "encode", 0.05, lambda: output_temporaries(job["output"]))
    assert not job["output"].exists()  # nothing under the final name, only the dead writer's temporary
    assert output_temporaries(job["output"]) == found
    assert FaceTrack.load(cache_entries(job["home"])[0]).frame_count == TEMPLATE_FRAMES
    assert_rerun_succeeds(job, track_cached=True)  # and the temporary is swept


def _entry_files(home: Path) -> list[Path]:
    return [p for p in (home / "cache").rglob("*track-*") if p.is_file() and not p.name.endswith(".lock")]


@pytest.mark.parametrize(
    "stage",
    [
        pytest.param("cache-half", id="half-written entry under its final name"),
        pytest.param("cache-fsync", id="atomic writer killed before the rename"),
    ],
)
def test_cache_entry_of_a_killed_writer_is_rebuilt(job: dict, stage: str) -> None:
    found = kill_when(job, stage, 3600, lambda: [p for p in _entry_files(job["home"]) if p.stat().st_size > 0])
    if stage == "cache-half":
        (entry,) = found
        with pytest.raises(Exception):  # noqa: B017 (any decoding failure: it is half a file)
            FaceTrack.load(entry)
    else:
        assert all(p.name.startswith(".") and p.suffix == ".part" for p in found)
        assert not cache_entries(job["home"])
    assert not job["output"].exists()
    assert_rerun_succeeds(job, track_cached=False)  # detected, rebuilt; the dead writer's lock did not block


def test_partial_segment_of_a_killed_job_is_not_reused(job: dict) -> None:
    """A segment the killed job had finished is reused; one it was writing is not mistaken for finished."""
    kill_when(job, "compose", 0.05, lambda: [p for p in segment_files(job["home"]) if not p.name.startswith(".")])
    finished = [p for p in segment_files(job["home"]) if not p.name.startswith(".")]
    assert finished and all(probe_video(p).frame_count == 10 for p in finished)
    result = generate(job["template"], job["audio"], job["output"])
    assert result.succeeded
    frames = np.array([f.to_ndarray().mean() for f in av.open(str(job["output"])).decode(video=0)])
    assert len(frames) == round(SPEECH_S * 25) and np.all(frames > 5)  # no black or missing frames
