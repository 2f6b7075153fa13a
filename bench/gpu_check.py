"""The GPU path of the Wav2Lip engine, proven in one call on the device tool's machine (or, small, on a CPU).

    python bench/gpu_check.py --prepare               # here: template clips, speech and face tracks into .gpu/
    bash bench/gpu_check.sh                           # there: install the carried wheels, then run this
    python bench/gpu_check.py --device cpu --quick    # CI: every step that needs no CUDA, with small sizes

No step starts after `--budget` seconds (420: a run ends inside 8 minutes). The run writes `gpu_check.json`
and `gpu_check.md` to `--out` (default $OUT, else bench/results/gpu_check) and prints the table last. Steps:

- environment: the device line as the pipeline logs it, torch, CUDA, cuDNN, GPU name and memory;
- precision: the Wav2Lip generator (random weights in the public checkpoint format, written here) on one
  batch in fp16 / bf16 autocast against fp32: max and mean absolute difference in pixel levels, and NaN;
- speed: face-frames/s of `Wav2LipEngine.generate` (upload, network, download) per batch size 16..2048 in
  fp32, fp16 and bf16, with the peak GPU memory per face; the batch the engine picks from free memory;
- back-off: a forced out-of-memory (the process capped at 1 GiB more than it holds) must halve the
  batch until it fits and give the same patches;
- jobs: whole `--engine wav2lip` jobs through `heygem_ops.generate` (no Prefect, no Ray), each configuration
  in a fresh process (bench/gpu_job.py) as a user runs one, on CUDA with libx264 and with h264_nvenc, and on
  the CPU cores, each against the transcode floor (bench/common.py) measured in the same run; stage seconds;
- encoders: whether h264_nvenc opens, and its frames/s at 1080p against libx264 veryfast;
- musetalk: bench/musetalk_speed.py, when it exists and the musetalk extra imports.

The face tracks come from a cache built here by `--prepare` (LiteRT does not fit in what a call carries),
put where the job's HEYGEM_CACHE_DIR points. A step that fails is recorded and the rest still run; the exit
status is 1 when any step failed or a check missed its bar.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from heygem_ops.engines.wav2lip import Wav2LipEngine

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / ".gpu"  # ignored; carried by the device call (see bench/README.md)
TEMPLATES = {"512": "sadtalker_WDA_KatieHill_000.mp4", "1080p": "latentsync_demo1_video.mp4"}
SPEECH = {False: ("speech.wav", 20.0), True: ("speech-1s.wav", 1.0)}  # by --quick: file, seconds (16 kHz mono)
BATCHES, QUICK_BATCHES = [16, 32, 64, 128, 256, 512, 1024, 2048], [8]
PRECISION_FACES, QUICK_FACES = 256, 8
ENCODE_FRAMES, QUICK_ENCODE_FRAMES = 250, 8
OUTPUT_GAIN = 8.0  # random weights draw mouths within ~5 levels of grey; this spreads them over the range
MAX_MEAN_DIFF = 2.0  # pixel levels (of 255): fp16 against fp32, on average
BUDGET_S = 420.0  # no step starts later; the last (musetalk) gets what is left, so a run ends by ~8 min
MUSETALK = REPO / "bench" / "musetalk_speed.py"
JOB = REPO / "bench" / "gpu_job.py"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare:
        prepare(args.bundle, args.quick)
        return 0
    return run_check(args)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (the GPU check) or cpu (the steps that need no CUDA)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a CI run of well under a minute")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or REPO / "bench/results/gpu_check"))
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="folder of wheels, media and face-track cache")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds after which steps are skipped")
    parser.add_argument("--prepare", action="store_true", help="fill --bundle with media and face tracks, here")
    return parser.parse_args(argv)


# --- preparing the bundle (here, where LiteRT and the shared media are) -------------------------------------


def prepare(bundle: Path, quick: bool) -> None:
    """Copy the template clips and a speech recording into `bundle`/media and track their faces into
    `bundle`/cache (the cache layout HEYGEM_CACHE_DIR uses, keyed by the files' content)."""
    from common import MEDIA, long_recording

    from heygem_ops.face.trackers import TrackerSpec
    from heygem_ops.features import prepare_template
    from heygem_ops.hosting import LocalHost
    from heygem_ops.settings import get_settings

    media, cache = bundle / "media", bundle / "cache"
    shutil.rmtree(media, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    media.mkdir(parents=True)
    for name, seconds in SPEECH.values():
        long_recording(media / name, seconds)
    os.environ["HEYGEM_CACHE_DIR"] = str(cache)
    get_settings.cache_clear()
    host = LocalHost()
    for name in templates(quick).values():
        shutil.copyfile(MEDIA / name, media / name)
        prepared = prepare_template(media / name, TrackerSpec(), host)
        print(f"{name}: {prepared.face_frames} of {prepared.frames} frames with a face, track {prepared.track_path}")
    for lock in cache.rglob("*.lock"):
        lock.unlink()
    print(f"bundle {bundle}: {folder_mib(bundle):.1f} MiB (wheels, media, cache)")


def templates(quick: bool) -> dict[str, str]:
    return {"512": TEMPLATES["512"]} if quick else TEMPLATES


def bundle_media(check: Check) -> Path:
    """The bundle's media folder, or a FileNotFoundError saying how to fill it."""
    bundle, quick = check.args.bundle, check.args.quick
    media = bundle / "media"
    missing = [name for name in [SPEECH[quick][0], *templates(quick).values()] if not (media / name).is_file()]
    if missing or not (bundle / "cache").is_dir():
        raise FileNotFoundError(
            f"{bundle} lacks {', '.join(missing) or 'cache/'}: run `python bench/gpu_check.py --prepare"
            f"{' --quick' if quick else ''}` where the shared media and LiteRT are, then carry the folder"
        )
    return media


def describe_bundle(check: Check) -> dict:
    """What the call carried: MiB of wheels, media and cache, and the face tracks in the cache."""
    bundle_media(check)
    bundle = check.args.bundle
    sizes = {f"{part}_mib": round(folder_mib(bundle / part), 1) for part in ("wheels", "media", "cache")}
    return {**sizes, "tracks": len(list((bundle / "cache").rglob("track-*.npz")))}


def folder_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


# --- the run -------------------------------------------------------------------------------------------------


class Check:
    """The report of one run: each step's numbers or error, and the bars checked on them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.started = args, time.perf_counter()
        self.report: dict = {"device": args.device, "quick": args.quick, "steps": {}, "bars": []}
        self.cuda = args.device.startswith("cuda")

    def step(self, name: str, function: Callable[[], dict], *, needs_cuda: bool = False, cheap: bool = False) -> dict:
        """Run one step, recording its result, its error or why it was skipped; never raises.

        A `cheap` step runs whatever the time budget says."""
        started = time.perf_counter()
        if needs_cuda and not self.cuda:
            result = {"skipped": "needs CUDA (run with --device cuda on a GPU machine)"}
        elif not cheap and started - self.started > self.args.budget:
            result = {"skipped": f"over the time budget of {self.args.budget:.0f} s"}
        else:
            print(f"\n== {name}", flush=True)
            try:
                result = function()
            except Exception as error:
                result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-3000:]}
                print(result["traceback"], flush=True)
        result["seconds"] = round(time.perf_counter() - started, 2)
        self.report["steps"][name] = result
        self.save(final=False)  # a call cut short by its time limit still brings back the steps done
        return result

    def save(self, *, final: bool) -> None:
        from gpu_report import write_report

        self.report["total_seconds"] = round(time.perf_counter() - self.started, 1)
        self.report["ok"] = not self.failed
        self.report["finished"] = final
        write_report(self.report, self.args.out, show=final)

    def remaining(self) -> float:
        """Seconds a child process may take: to a minute past the budget (no step starts after it), 30 at least."""
        return max(30.0, self.args.budget + 60 - (time.perf_counter() - self.started))

    def bar(self, name: str, ok: bool, detail: str) -> None:
        self.report["bars"].append({"bar": name, "ok": bool(ok), "detail": detail})

    @property
    def failed(self) -> bool:
        steps = self.report["steps"].values()
        return any("error" in step for step in steps) or not all(bar["ok"] for bar in self.report["bars"])


def run_check(args: argparse.Namespace) -> int:
    logs = capture_logs()
    check = Check(args)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        folder = Path(scratch)
        os.environ.update(HEYGEM_HOME=str(folder / "home"), HEYGEM_QA="0")
        environment = check.step("environment", lambda: describe_environment(args.device, logs), cheap=True)
        check.step("bundle", lambda: describe_bundle(check), cheap=True)
        checkpoint = functools.cache(lambda: spread_checkpoint(folder))  # written when a step first needs it
        # most wanted first: should the budget run out, what is left undone matters least
        check.step("precision", lambda: precision_step(check, checkpoint()))
        check.step("encoders", lambda: encoder_step(check))
        check.step("jobs", lambda: jobs_step(check, checkpoint(), folder))
        check.step("speed", lambda: speed_step(check, checkpoint()))
        check.step("auto_batch", lambda: auto_batch_step(check))
        check.step("oom_backoff", lambda: oom_step(check, checkpoint(), logs), needs_cuda=True)
        check.step("musetalk", lambda: musetalk_step(check))
    check.save(final=True)
    print(f"\ndevice line: {environment.get('device_line')}; total {check.report['total_seconds']} s; "
          f"{'all steps ran and every bar held' if not check.failed else 'FAILED: see the table'}")  # fmt: skip
    return 1 if check.failed else 0


def capture_logs() -> list[logging.LogRecord]:
    """The library's log records of this process, kept (the device line, batch sizes, back-offs) and printed."""
    from heygem_ops.logs import LOGGER_NAME

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(console)
    return records


def describe_environment(spec: str, logs: list[logging.LogRecord]) -> dict:
    from heygem_ops.device import choose_device

    before = len(logs)
    device = choose_device(spec)
    said = [record.getMessage() for record in logs[before:] if record.name == "heygem_ops.device"]
    info = {
        "device_line": said[-1] if said else None, "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available()
        else None, "tf32_convolutions": torch.backends.cudnn.allow_tf32, "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "av": _version("av"),
    }  # fmt: skip
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        free, total = torch.cuda.mem_get_info(device)
        info.update(gpu=properties.name, gpu_memory_gib=round(total / 2**30, 1), gpu_free_gib=round(free / 2**30, 1),
                    multiprocessors=properties.multi_processor_count, driver=_driver())  # fmt: skip
    return info


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def _driver() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    return subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip() or None


def spread_checkpoint(folder: Path) -> Path:
    """A Wav2Lip generator checkpoint in the public format (`module.` keys, `state_dict`), random weights.

    The last 1x1 convolution is scaled by OUTPUT_GAIN: as initialised, every mouth is grey within a few
    levels, which would make any precision look exact; scaled, the patches span the pixel range.
    """
    from heygem_ops.engines.wav2lip import Wav2Lip

    torch.manual_seed(0)
    state = Wav2Lip().state_dict()
    for key in ("output_block.1.weight", "output_block.1.bias"):
        state[key] = state[key] * OUTPUT_GAIN
    path = folder / "wav2lip_random.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "global_step": 0}, path)
    return path


def device_of(check: Check) -> torch.device:
    return torch.device(check.args.device if check.cuda else "cpu")


def half_precisions(check: Check) -> list[str]:
    return ["fp16", "bf16"] if check.cuda else ["bf16"]  # fp16 on a CPU is refused by the engine (it crawls)


def random_faces(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(count, 96, 96, 3) uint8 crops and (count, 80, 16) mel windows in the network's [-4, 4] range."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (count, 96, 96, 3), dtype=np.uint8)
    return crops, rng.uniform(-4, 4, (count, 80, 16)).astype(np.float32)


def precision_step(check: Check, checkpoint: Path) -> dict:
    from heygem_ops.engines.wav2lip import Wav2LipEngine

    faces = QUICK_FACES if check.args.quick else PRECISION_FACES
    crops, mels = random_faces(faces)
    outputs, finite = {}, {}
    for precision in ["fp32", *half_precisions(check)]:
        engine = Wav2LipEngine(device_of(check), checkpoint, precision=precision, batch_size=faces)
        outputs[precision], finite[precision] = generate_watching_nan(engine, crops, mels)
    spread = float(outputs["fp32"].std())
    result = {"faces": faces, "fp32_spread_levels": round(spread, 1)}
    for precision in half_precisions(check):
        difference = np.abs(outputs[precision] - outputs["fp32"])
        mean, finite_both = float(difference.mean()), finite[precision] and finite["fp32"]
        result[precision] = {"max_abs_levels": int(difference.max()), "mean_abs_levels": round(mean, 3),
                             "finite": finite_both}  # fmt: skip
        bar = MAX_MEAN_DIFF if precision == "fp16" else 2 * MAX_MEAN_DIFF  # bf16 keeps 8 bits of mantissa, fp16 11
        detail = f"mean {mean:.3f} (bar {bar}), max {difference.max()}, no NaN: {finite_both}; fp32 spread {spread:.0f}"
        check.bar(f"{precision} vs fp32 on {faces} faces", finite_both and mean <= bar, detail)
    return result


def generate_watching_nan(engine: Wav2LipEngine, crops: np.ndarray, mels: np.ndarray) -> tuple[np.ndarray, bool]:
    """The engine's patches (as int16, for differences) and whether the network's raw output was finite
    in every batch: NaN or inf would be clamped into ordinary-looking uint8 patches."""
    finite: list[bool] = []
    hook = engine.model.register_forward_hook(lambda _module, _inputs, out: finite.append(bool(out.isfinite().all())))
    try:
        return engine.generate(crops, mels).astype(np.int16), all(finite)
    finally:
        hook.remove()


def speed_step(check: Check, checkpoint: Path) -> dict:
    from wav2lip_speed import measure_engine

    device, rows = device_of(check), []
    for precision in ["fp32", *half_precisions(check)]:
        for batch in QUICK_BATCHES if check.args.quick else BATCHES:
            with peak_memory(device) as peak:
                speed = measure_engine(checkpoint, device, precision, batch, repeats=1 if check.args.quick else 3,
                                       warmup=batch)  # fmt: skip
            row = {"precision": precision, "batch": batch, "frames_per_s": round(speed.frames_per_s, 1)}
            if device.type == "cuda":
                row["peak_mib_per_face"] = round(peak() / 2**20 / batch, 2)
            print(row, flush=True)
            rows.append(row)
    best = max((row for row in rows if row["precision"] == half_precisions(check)[0]), key=lambda r: r["frames_per_s"])
    return {"rows": rows, "best_half": best}


@contextmanager
def peak_memory(device: torch.device) -> Iterator[Callable[[], int]]:
    """Yields a reader of the block's peak GPU memory in bytes (0 on a CPU)."""
    if device.type != "cuda":
        yield lambda: 0
        return
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    yield lambda: torch.cuda.max_memory_allocated(device)


def auto_batch_step(check: Check) -> dict:
    """The faces per forward `Wav2LipEngine` starts with when none is given, per precision (`auto` as resolved)."""
    from heygem_ops.engines.wav2lip.engine import MAX_BATCH, choose_precision, initial_batch_size

    device, result = device_of(check), {"max_batch": MAX_BATCH}
    for precision in ["auto", "fp32", *half_precisions(check)]:
        result[precision] = initial_batch_size(device, choose_precision(precision, device))
    if device.type == "cuda":
        result["free_gib_at_choice"] = round(torch.cuda.mem_get_info(device)[0] / 2**30, 1)
    return result


def oom_step(check: Check, checkpoint: Path, logs: list[logging.LogRecord]) -> dict:
    """Cap this process a little above what it holds, ask for 2048 faces at once in fp32, and expect the
    engine to halve its batch until a forward fits and to return what an uncapped run returns (to 2 levels:
    TF32 convolutions may pick other algorithms at another batch size)."""
    from heygem_ops.engines.wav2lip import Wav2LipEngine

    device, faces = device_of(check), 2048
    crops, mels = random_faces(faces, seed=1)
    reference = Wav2LipEngine(device, checkpoint, precision="fp32", batch_size=64).generate(crops, mels)
    engine = Wav2LipEngine(device, checkpoint, precision="fp32", batch_size=faces)
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(device).total_memory
    cap = torch.cuda.memory_reserved(device) + 2**30  # 2048 faces need several GiB (U-Net skips at every scale)
    before = len(logs)
    torch.cuda.set_per_process_memory_fraction(cap / total, device)
    try:
        patches = engine.generate(crops, mels)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        torch.cuda.empty_cache()
    lowered = [record.getMessage() for record in logs[before:] if "batch size lowered" in record.getMessage()]
    difference = int(np.abs(patches.astype(np.int16) - reference).max())
    check.bar("out-of-memory back-off", bool(lowered) and engine.batch_size < faces and difference <= 2,
              f"2048 -> {engine.batch_size} in {len(lowered)} halvings under a {cap / 2**30:.1f} GiB cap; "
              f"max difference from the uncapped run {difference} levels")  # fmt: skip
    return {"cap_gib": round(cap / 2**30, 2), "start_batch": faces, "final_batch": engine.batch_size,
            "halvings": len(lowered), "max_abs_levels_vs_uncapped": difference}  # fmt: skip


def encoder_step(check: Check) -> dict:
    """Whether h264_nvenc opens here, and frames/s of each encoder through `SegmentWriter` on 1080p frames."""
    from heygem_ops.media import SegmentWriter, iter_frames, probe_video
    from heygem_ops.media.segments import nvenc_failure

    media = bundle_media(check)
    clip = media / TEMPLATES["1080p"]
    if not clip.exists():  # a quick bundle holds the small template only
        clip = media / TEMPLATES["512"]
    info = probe_video(clip)
    count = QUICK_ENCODE_FRAMES if check.args.quick else ENCODE_FRAMES
    frames = list(iter_frames(info, 0, min(count, info.frame_count)))
    failure = nvenc_failure()
    result = {"clip": clip.name, "size": f"{info.width}x{info.height}", "frames": len(frames),
              "nvenc_opens": failure is None, "nvenc_reason": failure}  # fmt: skip
    for encoder in ["libx264"] if failure else ["libx264", "h264_nvenc"]:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch, SegmentWriter(
            Path(scratch) / "segment.mp4", info.width, info.height, info.fps, preset="veryfast", encoder=encoder
        ) as writer:  # fmt: skip
            for frame in frames:
                writer.write(frame)
        result[f"{encoder}_frames_per_s"] = round(len(frames) / (time.perf_counter() - started), 1)
    return result  # no bar on opening: a GPU without NVENC units (A100, H100, H200) is a finding, not a failure


def jobs_step(check: Check, checkpoint: Path, folder: Path) -> dict:
    """Whole wav2lip jobs on the bundle's templates, each configuration in a fresh process, against the floor."""
    from common import floor_seconds

    media, results = bundle_media(check), {}
    speech = media / SPEECH[check.args.quick][0]
    for label, name in templates(check.args.quick).items():
        template, rows = media / name, []
        cache = folder / f"cache-{label}"  # one copy per template: the first run cuts the crops, the rest reuse them
        shutil.copytree(check.args.bundle / "cache", cache)
        for device, encoder, runs in job_configurations(check):
            settings = {"template": str(template), "audio": str(speech), "checkpoint": str(checkpoint),
                        "device": device, "encoder": encoder, "runs": runs, "cache": str(cache),
                        "work": str(folder / f"work-{label}-{device}-{encoder}")}  # fmt: skip
            rows += run_job_child(settings, check.remaining())
        frames = rows[0]["frames"]
        floor = floor_seconds(template, speech, frames, folder / f"floor-{label}.mp4", preset="veryfast")
        for row in rows:
            row["ratio_to_floor"] = round(row["stage_seconds"]["total"] / floor, 2)
            whole = row["output_frames"] == row["frames"] and row["track_cached"] and not row["orchestration"]
            detail = (f"{row['output_frames']} of {row['frames']} frames, track from the cache: {row['track_cached']}, "
                      f"orchestration imported: {row['orchestration'] or 'none'}")  # fmt: skip
            check.bar(f"{label} job {row['run']}", whole, detail)
        results[label] = {"template": name, "floor_s": round(floor, 2), "runs": rows, **cpu_over_cuda(rows)}
    return results


def cpu_over_cuda(rows: list[dict]) -> dict:
    """How many times longer the warm job (and its inference stage) takes on the CPU cores than on CUDA."""
    warm = {row["run"]: row for row in rows}
    cpu, cuda = warm.get("cpu libx264 warm"), warm.get("cuda libx264 warm")
    if not (cpu and cuda):
        return {}
    inference = cpu["worker_seconds"]["inference"] / max(cuda["worker_seconds"]["inference"], 1e-3)
    return {"cpu_over_cuda_total": round(cpu["stage_seconds"]["total"] / cuda["stage_seconds"]["total"], 2),
            "cpu_over_cuda_inference": round(inference, 1)}  # fmt: skip


def job_configurations(check: Check) -> list[tuple[str, str, list[str]]]:
    """(device, encoder, runs): each in one fresh process, its runs one after another (model resident)."""
    from heygem_ops.media.segments import nvenc_failure

    if not check.cuda:
        return [("cpu", "auto", ["cpu auto first"] + ([] if check.args.quick else ["cpu auto warm"]))]
    configurations = [(check.args.device, "libx264", ["cuda libx264 first", "cuda libx264 warm"])]
    if nvenc_failure() is None:
        configurations.append((check.args.device, "h264_nvenc", ["cuda h264_nvenc first", "cuda h264_nvenc warm"]))
    return [*configurations, ("cpu", "libx264", ["cpu libx264 first", "cpu libx264 warm"])]


def run_job_child(settings: dict, timeout: float) -> list[dict]:
    """One job configuration in a fresh process (its own settings and compose workers), as a user runs one."""
    environment = {**os.environ, "HEYGEM_CACHE_DIR": settings["cache"], "HEYGEM_ENCODER": settings["encoder"]}
    command = [sys.executable, str(JOB), json.dumps(settings)]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    print(done.stderr[-2000:], flush=True)
    if done.returncode:
        raise RuntimeError(f"job child exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    for row in rows:
        print(row, flush=True)
    return rows


def musetalk_step(check: Check) -> dict:
    """bench/musetalk_speed.py on this device, when it exists and its extra imports; else why not."""
    missing = [name for name in ("diffusers", "transformers", "safetensors") if importlib.util.find_spec(name) is None]
    if not MUSETALK.exists():
        return {"skipped": "not present (bench/musetalk_speed.py does not exist yet)"}
    if missing:
        return {"skipped": f"not present: the musetalk extra does not import ({', '.join(missing)} missing)"}
    command = [sys.executable, str(MUSETALK), "--device", check.args.device]
    done = subprocess.run(command, capture_output=True, text=True, timeout=check.remaining(), cwd=REPO)
    if done.returncode:
        raise RuntimeError(f"musetalk_speed.py exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return {"output_tail": done.stdout[-3000:]}


if __name__ == "__main__":
    sys.exit(main())
