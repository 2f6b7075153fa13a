"""What the benchmarks share: where the real media is, long recordings made from it, a plain PyAV floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

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

    The least any lip-sync job producing the same file must spend: no face work at all.
    """
    start = time.perf_counter()
    video_only = output.with_suffix(".video.mp4")
    _encode_frames(template, frames, video_only, preset)
    _mux_with_aac(video_only, audio, output)
    return time.perf_counter() - start


def _encode_frames(template: Path, frames: int, output: Path, preset: str) -> None:
    with av.open(str(template)) as probe:
        rate = probe.streams.video[0].average_rate or Fraction(25)
    with av.open(str(output), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"preset": preset, "crf": "18"})
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


def run_cli_job(template: Path, audio: Path, output: Path, home: Path, **env: str) -> dict:
    """`heygem generate` in a fresh process; returns its results row plus `wall_s` of the whole process."""
    code = (
        "import json, sys\n"
        "from flows.cli.main import quiet_prefect\n"
        "quiet_prefect(False)\n"
        "from flows.generate import generate\n"
        "row = generate(template=sys.argv[1], audio=sys.argv[2], output=sys.argv[3])\n"
        "print(json.dumps(row, default=str))\n"
    )
    environment = {**os.environ, "HEYGEM_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, str(template), str(audio), str(output)],
        cwd=REPO, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    row = json.loads(result.stdout.strip().splitlines()[-1])
    return {**row, "wall_s": wall}
