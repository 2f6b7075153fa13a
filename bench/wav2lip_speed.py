"""Wav2Lip engine throughput per batch size and precision, and a whole wav2lip job against a transcode floor.

    .venv/bin/python bench/wav2lip_speed.py                       # random weights, auto device
    .venv/bin/python bench/wav2lip_speed.py --checkpoint wav2lip_gan.pth --device cuda
    .venv/bin/python bench/wav2lip_speed.py --batches 16 64 --seconds 2 --skip-job

Part 1 runs `Wav2LipEngine.generate` (upload, network, download: what a chunk pays) on random crops
for each batch size, in fp32 and in fp16 where the device runs it (CUDA); on a CPU, where fp16
crawls, bf16 is measured instead. Face-frames/s are wall-clock; on a CPU a second figure divides
the process's CPU seconds by its threads, which stays honest when other work shares the machine.

Part 2 runs one `--engine wav2lip` job twice (cold: the template is tracked and cropped; warm: both
come from the cache) and, in the same run, the floor any job pays: decoding the template frames the
output shows and encoding them untouched with the job's encoder settings, plus the AAC audio. It
prints each job as a multiple of that floor. Random weights time exactly like real ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MEDIA = Path(os.environ.get("HEYGEM_TEST_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media"))
TEMPLATE = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"  # 512x512, 25 fps, a talking face
AUDIO = MEDIA / "sadtalker_chinese_news.wav"
BATCHES = (16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class Speed:
    precision: str
    batch: int
    frames_per_s: float  # wall clock
    cpu_frames_per_s: float | None  # frames per CPU-second per thread (CPU only)


def random_checkpoint(folder: Path) -> Path:
    """A Wav2Lip checkpoint in the public format, random weights."""
    from heygem_ops.engines.wav2lip import Wav2Lip

    torch.manual_seed(0)
    path = folder / "wav2lip_random.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in Wav2Lip().state_dict().items()}}, path)
    return path


def precisions(device: torch.device) -> list[str]:
    return ["fp32", "fp16"] if device.type == "cuda" else ["fp32", "bf16"]


def measure_engine(
    checkpoint: Path, device: torch.device, precision: str, batch: int, repeats: int, warmup: int = 16
) -> Speed:
    """Face-frames/s of one engine configuration: a warm-up of `warmup` faces, then `repeats` timed batches.

    A full-batch warm-up (`warmup=batch`) also keeps the allocator's first growth to that size untimed."""
    from heygem_ops.engines.wav2lip import Wav2LipEngine

    engine = Wav2LipEngine(device, checkpoint, precision=precision, batch_size=batch)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (batch, 80, 16)).astype(np.float32)
    engine.generate(crops[:warmup], mels[:warmup])  # warm-up: first-call allocations and kernel selection
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        engine.generate(crops, mels)
    _sync(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    frames = batch * repeats
    per_cpu = frames * torch.get_num_threads() / cpu if device.type == "cpu" and cpu > 0 else None
    return Speed(precision, engine.batch_size, frames / wall, per_cpu)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def engine_table(checkpoint: Path, device: torch.device, batches: list[int], repeats: int) -> list[Speed]:
    print(f"\nWav2Lip engine on {device} ({torch.get_num_threads()} CPU threads): face-frames/s")
    print(f"{'precision':>9} {'batch':>6} {'wall f/s':>9} {'cpu f/s':>8}")
    speeds = []
    for precision in precisions(device):
        for batch in batches:
            speed = measure_engine(checkpoint, device, precision, batch, repeats)
            cpu = f"{speed.cpu_frames_per_s:8.1f}" if speed.cpu_frames_per_s else f"{'-':>8}"
            print(f"{precision:>9} {speed.batch:>6} {speed.frames_per_s:9.1f} {cpu}", flush=True)
            speeds.append(speed)
    if device.type == "cpu":
        print("     fp16 not measured: CPU autocast to fp16 runs below 1 frame/s")
    return speeds


def clip_audio(source: Path, seconds: float, folder: Path) -> Path:
    """The first `seconds` of `source`, as a 16 kHz WAV."""
    import av

    from heygem_ops.media import decode_audio

    samples = decode_audio(source, 16000)[: int(seconds * 16000)]
    path = folder / "speech.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def transcode_floor(template: Path, audio: Path, folder: Path) -> float:
    """Seconds to decode the frames a job shows and encode them untouched, plus the AAC audio."""
    from heygem_ops.media import SegmentWriter, decode_audio, iter_frames, probe_video
    from heygem_ops.options import GenerateOptions
    from heygem_ops.timeline import frame_schedule, output_frame_count

    started = time.perf_counter()
    info, samples = probe_video(template), decode_audio(audio, 16000)
    schedule = frame_schedule(info.frame_count, output_frame_count(len(samples) / 16000, info.fps))
    frames = list(iter_frames(info, 0, int(schedule.max()) + 1))
    options = GenerateOptions()
    with SegmentWriter(folder / "floor.mp4", info.width, info.height, info.fps, preset=options.preset) as writer:
        for index in schedule:
            writer.write(frames[index])
    _encode_aac(samples, folder / "floor.m4a")
    return time.perf_counter() - started


def _encode_aac(samples: np.ndarray, path: Path) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        for start in range(0, len(samples), 1024):
            piece = samples[None, start : start + 1024].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def run_job(template: Path, audio: Path, checkpoint: Path, device: str, home: Path, output: Path) -> dict[str, float]:
    """One wav2lip job in a fresh work folder (the cache under `home` persists); its stage seconds."""
    from heygem_ops import GenerateOptions, generate
    from heygem_ops.settings import get_settings

    os.environ["HEYGEM_HOME"] = str(home)
    os.environ["HEYGEM_WORK_DIR"] = str(output.parent / f"work-{output.stem}")
    get_settings.cache_clear()
    result = generate(
        template, audio, output, GenerateOptions(engine="wav2lip", checkpoint=str(checkpoint), device=device, qa=False)
    )
    return dict(result.stage_seconds)


def job_table(args: argparse.Namespace, checkpoint: Path, folder: Path) -> None:
    audio = clip_audio(args.audio, args.seconds, folder)
    floor = transcode_floor(args.template, audio, folder)
    print(f"\nJob: {args.template.name} + {args.seconds:g} s of {args.audio.name}, --engine wav2lip")
    print(f"transcode floor (decode + x264 + aac)  {floor:7.2f} s   1.00x")
    for run in ("cold", "warm"):
        stages = run_job(args.template, audio, checkpoint, args.device, folder / "home", folder / f"{run}.mp4")
        detail = ", ".join(f"{k} {v:.1f}" for k, v in stages.items() if k != "total")
        print(f"{run} job (cache {'empty' if run == 'cold' else 'warm'})  {stages['total']:7.2f} s  "
              f"{stages['total'] / floor:5.2f}x   [{detail}]", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="Wav2Lip weights (default: random weights)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--repeats", type=int, default=1, help="timed batches per configuration")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--audio", type=Path, default=AUDIO)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the job's speech")
    parser.add_argument("--skip-job", action="store_true")
    args = parser.parse_args(argv)
    from heygem_ops.device import choose_device

    device = choose_device(args.device)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        checkpoint = args.checkpoint or random_checkpoint(folder)
        engine_table(checkpoint, device, args.batches, args.repeats)
        if not args.skip_job:
            job_table(args, checkpoint, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
