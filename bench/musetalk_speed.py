"""MuseTalk engine throughput per batch size and precision, and a whole musetalk job against the transcode floor.

    .venv/bin/python bench/musetalk_speed.py                          # random weights, auto device
    .venv/bin/python bench/musetalk_speed.py --checkpoint-dir models/ --device cuda
    .venv/bin/python bench/musetalk_speed.py --size tiny --batches 4 8 --skip-job

Random weights time exactly like real ones; `--size full` (the default on CUDA) builds the public
configs (a 3.4 GB UNet), `--size tiny` (the default on a CPU) the tests' small ones, so the CPU
figures measure the pipeline around the networks rather than the networks.

Part 1 times, per batch size and precision (fp32 and fp16 on CUDA; fp32 and bf16 on a CPU):
`generate` (UNet at timestep 0 + VAE decode, with upload and download: what a chunk pays per face
once whisper's states of its segment are cached), `prepare` (the VAE encoding of template crops,
paid once per template), and whisper on one 30-s segment. Face-frames/s are wall-clock.

Part 2 runs one `--engine musetalk` job twice (cold: track, crops and latents are computed; warm:
all three come from the template cache) and the floor every job pays in the same run: decoding the
frames the output shows and encoding them untouched, then muxing AAC (`common.floor_seconds`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from common import MEDIA, engine_job_table  # noqa: E402

TEMPLATE = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"  # 512x512, 25 fps, a talking face
AUDIO = MEDIA / "sadtalker_chinese_news.wav"
BATCHES = (1, 4, 16, 64)


@dataclass(frozen=True)
class Speed:
    precision: str
    batch: int
    generate_fps: float  # faces/s through UNet + decode
    prepare_fps: float  # faces/s through the VAE encoder
    whisper_s: float  # seconds for one 30-s segment


def weights_folder(args: argparse.Namespace, device: torch.device, folder: Path) -> Path:
    if args.checkpoint_dir:
        return args.checkpoint_dir
    from musetalk_factory import make_checkpoint_set

    full = args.size == "full" or (args.size == "auto" and device.type == "cuda")
    print(f"random weights, {'full-size (public) configs' if full else 'tiny test configs'}")
    return make_checkpoint_set(folder / "models", full=full)


def precisions(device: torch.device) -> list[str]:
    return ["fp32", "fp16"] if device.type == "cuda" else ["fp32", "bf16"]


def _timed(device: torch.device, work) -> float:
    _sync(device)
    started = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - started


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(weights: Path, device: torch.device, precision: str, batch: int, repeats: int) -> Speed:
    from heygem_ops.engines.base import SpeechWindow
    from heygem_ops.engines.musetalk import MuseTalkEngine

    engine = MuseTalkEngine(device, checkpoint_dir=weights, precision=precision, batch_size=batch)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, 256, 256, 3), dtype=np.uint8)
    speech = SpeechWindow((rng.standard_normal(30 * 16000) * 0.1).astype(np.float32), 0, 30 * 16000, Fraction(25), 0)
    frames = np.arange(batch) + 100
    latents = engine.prepare(crops)  # warm-up of the encoder
    whisper_s = _timed(device, lambda: engine.audio_windows(speech, frames))  # first call: the segment's states
    engine.generate(latents, speech, frames)  # warm-up: kernels, allocator
    prepare_s = _timed(device, lambda: [engine.prepare(crops) for _ in range(repeats)])
    generate_s = _timed(device, lambda: [engine.generate(latents, speech, frames) for _ in range(repeats)])
    faces = batch * repeats
    return Speed(precision, engine.batch_size, faces / generate_s, faces / prepare_s, whisper_s)


def engine_table(weights: Path, device: torch.device, batches: list[int], repeats: int) -> None:
    print(f"\nMuseTalk engine on {device} ({torch.get_num_threads()} CPU threads)")
    print(f"{'precision':>9} {'batch':>6} {'generate f/s':>13} {'prepare f/s':>12} {'whisper 30 s':>13}")
    for precision in precisions(device):
        for batch in batches:
            try:
                speed = measure(weights, device, precision, batch, repeats)
            except RuntimeError as error:  # e.g. bf16 kernels missing on an old CPU
                print(f"{precision:>9} {batch:>6}  not measured: {str(error).splitlines()[0][:80]}")
                continue
            print(f"{precision:>9} {speed.batch:>6} {speed.generate_fps:13.2f} {speed.prepare_fps:12.2f} "
                  f"{speed.whisper_s:12.2f}s", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", type=Path, help="MuseTalk's models folder (default: random weights)")
    parser.add_argument("--size", choices=["auto", "full", "tiny"], default="auto", help="random weights' configs")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--repeats", type=int, default=2, help="timed batches per configuration")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--audio", type=Path, default=AUDIO)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the job's speech")
    parser.add_argument("--skip-job", action="store_true")
    args = parser.parse_args(argv)
    from heygem_ops.device import choose_device

    device = choose_device(args.device)
    with tempfile.TemporaryDirectory() as scratch:
        weights = weights_folder(args, device, Path(scratch))
        engine_table(weights, device, args.batches, args.repeats)
        if not args.skip_job:
            engine_job_table(
                args.template, args.audio, args.seconds, Path(scratch),
                engine="musetalk", checkpoint_dir=str(weights), device=args.device,
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
