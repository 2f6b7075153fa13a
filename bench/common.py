"""What the benchmarks share: where the real media is, long recordings made from it, a plain PyAV floor."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
from av.video.frame import PictureType

REPO = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("HEYGEM_TEST_MEDIA", REPO.parent / "shared" / "media"))
SPEECH = ["echomimic_movie_0_clip_0.wav", "sadtalker_chinese_news.wav", "sadtalker_RD_Radio34_002.wav"]


def long_recording(path: Path, seconds: float) -> Path:
    """A WAV of `seconds` of real speech: the sample recordings repeated end to end (16 kHz mono)."""
    sys.path.insert(0, str(REPO))
    from heygem_ops.media.audio_io import decode_audio

    pieces = [decode_audio(MEDIA / name) for name in SPEECH]
    speech = np.concatenate(pieces)
    samples = np.resize(speech, int(seconds * 16000))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        for start in range(0, len(samples), 16000):
            block = (samples[start : start + 16000] * 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = 16000
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def floor_seconds(template: Path, audio: Path, frames: int, output: Path, preset: str = "veryfast") -> float:
    """Decode `frames` template frames (looping the file), libx264-encode them, then mux them with AAC audio.

    The least any lip-sync job producing the same file must spend: no face work at all. Frames reach
    x264 without the decoder's picture types, as in `ffmpeg -i in.mp4 -c:v libx264 out.mp4`: kept,
    they would force the source's I/P pattern on x264 and skip the preset's own B-frame and scene
    decisions (a fifth less CPU per frame on the 512x512 sample), which no real output gets.
    """
    start = time.perf_counter()
    video_only = output.with_suffix(".video.mp4")
    _encode_frames(template, frames, video_only, preset)
    _mux_with_aac(video_only, audio, output)
    return time.perf_counter() - start


def _default_crf() -> int:
    """The CRF a default job encodes with (HEYGEM_X264_CRF): the floor encodes the same output."""
    sys.path.insert(0, str(REPO))
    from heygem_ops.settings import get_settings

    return get_settings().x264_crf


def _encode_frames(template: Path, frames: int, output: Path, preset: str) -> None:
    with av.open(str(template)) as probe:
        rate = probe.streams.video[0].average_rate or Fraction(25)
    with av.open(str(output), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": preset, "crf": str(_default_crf())})
        written = 0
        while written < frames:
            with av.open(str(template)) as source:
                source.streams.video[0].thread_type = "AUTO"
                for frame in source.decode(video=0):
                    if written == 0:
                        video.width, video.height = frame.width - frame.width % 2, frame.height - frame.height % 2
                        video.pix_fmt = "yuv420p"
                    picture = frame.reformat(width=video.width, height=video.height, format="yuv420p")
                    picture.pts, picture.time_base = written, Fraction(1) / rate
                    picture.pict_type = PictureType.NONE
                    out.mux(video.encode(picture))
                    written += 1
                    if written == frames:
                        break
        out.mux(video.encode(None))


def _mux_with_aac(video_file: Path, audio: Path, output: Path) -> None:
    with av.open(str(video_file)) as source, av.open(str(audio)) as speech, av.open(str(output), "w") as out:
        video = out.add_stream_from_template(source.streams.video[0])
        sound = out.add_stream("aac", rate=48000, layout="stereo")
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                out.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        for frame in speech.decode(audio=0):
            for chunk in resampler.resample(frame):
                out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))


@contextmanager
def running_prefect_server(home: Path) -> Iterator[str]:
    """`prefect server start` on a free local port with its own PREFECT_HOME; yields its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit("prefect server start did not come up in 120 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_cli_job(template: Path, audio: Path, output: Path, home: Path, **env: str) -> dict:
    """`heygem generate --json` in a fresh process, as a user runs it; returns its results row plus
    `wall_s` (the whole process) and `startup_s` (process launch to the job's first stage)."""
    environment = {**os.environ, "HEYGEM_HOME": str(home), **env}
    launched = time.time()
    start = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "heygem"), "generate", "-t", str(template), "-a", str(audio),
         "-o", str(output), "--json"],
        cwd=REPO, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    row = json.loads(result.stdout.strip().splitlines()[-1])
    started = datetime.fromisoformat(str(row["started_at"])).timestamp()
    return {**row, "wall_s": wall, "startup_s": started - launched}


def clip_audio(source: Path, seconds: float, folder: Path) -> Path:
    """The first `seconds` of `source`, as a 16 kHz WAV in `folder`."""
    sys.path.insert(0, str(REPO))
    from heygem_ops.media.audio_io import decode_audio

    samples = decode_audio(source, 16000)[: int(seconds * 16000)]
    path = folder / "speech.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def engine_job_table(template: Path, audio: Path, seconds: float, folder: Path, **options: object) -> None:
    """A cold and a warm job of `seconds` through the library with `options`, against the floor.

    Quality scoring is off (`qa=False`), as in `speed.py`'s ratios: these tables time the engine.
    Each job gets a fresh work folder; the template cache under `folder / "home"` persists, so the
    second job finds the track (warm).
    """
    sys.path.insert(0, str(REPO))
    from heygem_ops import GenerateOptions, generate
    from heygem_ops.media import probe_video
    from heygem_ops.settings import get_settings
    from heygem_ops.timeline import output_frame_count

    audio = clip_audio(audio, seconds, folder)
    frames = output_frame_count(seconds, probe_video(template).fps)
    floor = floor_seconds(template, audio, frames, folder / "floor.mp4")
    engine = options.get("engine", "the default engine")
    print(f"\nJob: {template.name} + {seconds:g} s of speech ({frames} frames), {engine}")
    print(f"transcode floor (decode + x264 + aac)  {floor:7.2f} s   1.00x")
    os.environ["HEYGEM_HOME"] = str(folder / "home")
    for run in ("cold", "warm"):
        output = folder / f"{run}.mp4"
        os.environ["HEYGEM_WORK_DIR"] = str(folder / f"work-{run}")
        get_settings.cache_clear()
        stages = dict(generate(template, audio, output, GenerateOptions(qa=False, **options)).stage_seconds)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in stages.items() if k != "total")
        print(f"{run} job (cache {'empty' if run == 'cold' else 'warm'})  {stages['total']:7.2f} s  "
              f"{stages['total'] / floor:5.2f}x   [{detail}]", flush=True)  # fmt: skip
