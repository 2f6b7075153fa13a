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
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from common import MEDIA, engine_job_table

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
            engine_job_table(
                args.template, args.audio, args.seconds, folder,
                engine="wav2lip", checkpoint=str(checkpoint), device=args.device,
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
