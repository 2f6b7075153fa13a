"""What this machine can run, and what to do about what it cannot: the data behind `heygem doctor`.

`diagnose()` never raises: every probe becomes a `Check` (what was looked at, whether it is usable,
what was found, and the fix when it is not), so the CLI, the web UI and a support ticket all show
the same facts, in the current language (`heygem_ops.i18n`). Probes are cheap by default (files
are found, not loaded; servers get a two-second connect); `verify_weights=True` also loads every
weights file strictly.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import platform
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import Message, translate
from heygem_ops.settings import get_settings

TIMEOUT_S = 2.0  # per network probe
MIN_PYTHON = (3, 11)
ENCODERS = (("libx264", True), ("aac", True), ("h264_nvenc", False))  # (codec, required)
MESH_FILES = ("face_detection_full_range.tflite", "face_detection_short_range.tflite", "face_landmark.tflite")


@dataclass(frozen=True)
class Check:
    """One probe. `required`: the default pipeline needs it; an optional one failing is a warning."""

    area: str  # runtime, gpu, engine, tracker, encoder, orchestration
    name: str
    ok: bool
    detail: str  # what was found: versions, paths, free memory
    fix: str | None = None  # the next step when not ok
    required: bool = True
    files: dict[str, str | None] = field(default_factory=dict)  # weight file -> where found (None: missing)


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_mib: int
    free_mib: int
    capability: str  # compute capability, e.g. "9.0"


@dataclass(frozen=True)
class DoctorReport:
    python: str
    platform: str
    torch: str
    cuda: str | None  # CUDA version torch was built with; None for a CPU-only build
    gpus: tuple[Gpu, ...]
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every required check passed."""
        return all(check.ok for check in self.checks if check.required)

    def problems(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def usable(self, area: str) -> list[str]:
        """Names of the usable things of one area, e.g. usable("engine") -> ["warp", "wav2lip"]."""
        return [check.name for check in self.checks if check.area == area and check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok}


def diagnose(
    *, checkpoint: str | Path | None = None, face_weights: str | Path | None = None, verify_weights: bool = False
) -> DoctorReport:
    """Probe this machine. checkpoint: Wav2Lip weights (default HEYGEM_WAV2LIP_CHECKPOINT);
    face_weights: a folder with the fan tracker's files (default: the torch hub cache)."""
    gpus = _gpus()
    probes: list[Callable[[], list[Check]]] = [
        lambda: runtime_checks(gpus),
        lambda: engine_checks(checkpoint, verify_weights),
        lambda: tracker_checks(face_weights, verify_weights),
        encoder_checks,
        orchestration_checks,
    ]
    checks: list[Check] = []
    for probe in probes:
        try:
            checks += probe()
        except Exception as err:  # a probe's own bug must not hide the other answers
            checks.append(Check("internal", getattr(probe, "__name__", "probe"), False, f"{type(err).__name__}: {err}"))
    return DoctorReport(
        python=platform.python_version(),
        platform=platform.platform(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        gpus=tuple(gpus),
        checks=tuple(checks),
    )


def _gpus() -> list[Gpu]:
    """Every visible CUDA device with its free memory now."""
    if not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        major, minor = torch.cuda.get_device_capability(index)
        found.append(Gpu(index, torch.cuda.get_device_name(index), total // 2**20, free // 2**20, f"{major}.{minor}"))
    return found


def runtime_checks(gpus: list[Gpu]) -> list[Check]:
    """Python, torch, and whether CUDA (and which GPUs) can be used."""
    python_ok = sys.version_info[:2] >= MIN_PYTHON
    checks = [
        Check(
            "runtime",
            "python",
            python_ok,
            platform.python_version(),
            None if python_ok else translate("use Python 3.11+"),
        ),
        Check(
            "runtime",
            "torch",
            True,
            translate("{version}, {threads} CPU threads", version=torch.__version__, threads=torch.get_num_threads()),
        ),
    ]
    if gpus:
        checks.append(
            Check(
                "runtime",
                "cuda",
                True,
                translate("CUDA {version}, {count} GPU(s)", version=torch.version.cuda, count=len(gpus)),
                required=False,
            )
        )
        checks += [
            Check(
                "gpu",
                f"cuda:{g.index}",
                True,
                translate(
                    "{name}, {free} of {total} MiB free, sm {capability}",
                    name=g.name,
                    free=g.free_mib,
                    total=g.total_mib,
                    capability=g.capability,
                ),
            )
            for g in gpus
        ]
        return checks
    if torch.version.cuda is None:
        detail = translate("CPU-only torch build")
        fix = translate("for GPU speed install a CUDA build of torch that matches your driver")
    else:
        detail = translate("torch built for CUDA {version}, but no GPU is visible", version=torch.version.cuda)
        fix = translate("check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES")
    checks.append(Check("runtime", "cuda", False, detail, fix, required=False))
    return checks


def engine_checks(checkpoint: str | Path | None, verify: bool) -> list[Check]:
    """Every registered engine; for wav2lip, whether its checkpoint is there (and loads, with verify)."""
    from heygem_ops.engines.registry import available_engines

    checks = []
    for name in available_engines():
        if name == "wav2lip":
            checks.append(_wav2lip_check(checkpoint, verify))
        elif name == "musetalk":
            checks.append(_musetalk_check())
        else:
            checks.append(
                Check(
                    "engine",
                    name,
                    True,
                    translate("registered (no weights needed)" if name == "warp" else "registered"),
                )
            )
    return checks


def _musetalk_check() -> Check:
    """Whether the musetalk extra is installed and HEYGEM_MUSETALK_DIR holds MuseTalk 1.5's files (names only)."""
    import importlib.util

    from heygem_ops.engines.musetalk.layout import DOWNLOAD, locate
    from heygem_ops.errors import CheckpointError

    absent = [name for name in ("diffusers", "transformers", "safetensors") if importlib.util.find_spec(name) is None]
    if absent:
        fix = translate("bash install.sh musetalk (or pip install 'heygem-ops[musetalk]')")
        missing = translate("not installed: {packages}", packages=", ".join(absent))
        return Check("engine", "musetalk", False, missing, fix, required=False)
    folder = get_settings().musetalk_dir
    if not folder:
        fix = translate(
            "set HEYGEM_MUSETALK_DIR=/path/to/models (or pass --checkpoint-dir); {download}",
            download=Message(DOWNLOAD, where=""),
        )
        return Check("engine", "musetalk", False, translate("no weights folder configured"), fix, required=False)
    try:
        files = locate(folder)
    except CheckpointError as error:
        detail = translate("{path}: {message}", path=error.path, message=error.message)
        hint = error.hint_message.render() if error.hint_message else None
        return Check("engine", "musetalk", False, detail, hint, required=False)
    found = {path.name: str(path) for path in (*files.weights, files.whisper_preprocessor)}
    return Check(
        "engine", "musetalk", True, translate("{folder} (all files present)", folder=folder), None, False, found
    )


def _wav2lip_check(checkpoint: str | Path | None, verify: bool) -> Check:
    chosen = checkpoint or get_settings().wav2lip_checkpoint
    get = Message("download wav2lip.pth or wav2lip_gan.pth (the Wav2Lip project's generator weights)")
    if not chosen:
        fix = translate(
            "{download} and set HEYGEM_WAV2LIP_CHECKPOINT=/path/to/wav2lip_gan.pth (or pass --checkpoint)", download=get
        )
        return Check("engine", "wav2lip", False, translate("no checkpoint configured"), fix, required=False)
    path = Path(chosen).expanduser()
    files: dict[str, str | None] = {path.name: str(path) if path.is_file() else None}
    if not path.is_file():
        fix = translate("{download} to that path, or point HEYGEM_WAV2LIP_CHECKPOINT at your copy", download=get)
        missing = translate("checkpoint {path} not found", path=path)
        return Check("engine", "wav2lip", False, missing, fix, False, files)
    problem = _weights_problem(path, verify, _load_wav2lip)
    if problem:
        return Check("engine", "wav2lip", False, problem, translate("{download} again", download=get), False, files)
    size = path.stat().st_size / 2**20
    found = translate(
        "{path} ({size:.0f} MiB, verified)" if verify else "{path} ({size:.0f} MiB)", path=path, size=size
    )
    return Check("engine", "wav2lip", True, found, None, False, files)


def _load_wav2lip(path: Path) -> None:
    from heygem_ops.engines.wav2lip.checkpoint import load_wav2lip

    load_wav2lip(path)


def _weights_problem(path: Path, verify: bool, load: Callable[[Path], Any]) -> str | None:
    """Why a weights file is unusable, or None. Without `verify` only its header is read."""
    if verify:
        try:
            load(path)
        except Exception as err:
            return err.localized() if isinstance(err, HeyGemError) else str(err)
        return None
    with open(path, "rb") as stream:
        head = stream.read(2)
    if head != b"PK" and head[:1] != b"\x80":  # a torch zip archive, or a legacy pickle
        return translate("{path} is not a PyTorch checkpoint (it starts with {head!r})", path=path, head=head)
    return None


def tracker_checks(face_weights: str | Path | None, verify: bool) -> list[Check]:
    return [_mesh_check(), _fan_check(face_weights, verify)]


def _mesh_check() -> Check:
    from heygem_ops.face.mesh import INSTALL_COMMAND, model_dir

    if importlib.util.find_spec("ai_edge_litert") is None:
        absent = translate("ai-edge-litert is not installed")
        return Check("tracker", "mesh", False, absent, "pip install ai-edge-litert")
    try:
        folder = model_dir()
    except Exception as err:
        detail = err.localized() if isinstance(err, HeyGemError) else str(err)
        return Check(
            "tracker", "mesh", False, detail, translate("install it with `{command}`", command=INSTALL_COMMAND)
        )
    files = {name: str(folder / name) if (folder / name).is_file() else None for name in MESH_FILES}
    missing = [name for name, where in files.items() if where is None]
    if missing:
        return Check(
            "tracker",
            "mesh",
            False,
            translate("missing {files} in {folder}", files=", ".join(missing), folder=folder),
            translate("reinstall it with `{command}`", command=INSTALL_COMMAND),
            True,
            files,
        )
    return Check("tracker", "mesh", True, translate("models in {folder}", folder=folder), None, True, files)


def _fan_check(face_weights: str | Path | None, verify: bool) -> Check:
    try:
        import face_alignment  # noqa: F401  (also pulls scikit-image and numba)
    except Exception as err:
        fix = translate(
            "pip install --no-deps face-alignment==1.5.0 scikit-image numba (its GUI opencv clashes with headless)"
        )
        broken = translate("face-alignment cannot be imported ({error})", error=err)
        return Check("tracker", "fan", False, broken, fix, False)
    from heygem_ops.face.fan import WEIGHT_URL, find_weights, weight_folders

    found = find_weights(face_weights)
    files = {name: str(path) if path else None for name, path in found.items()}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        where = " or ".join(str(folder) for folder in weight_folders(face_weights))
        fix = translate(
            "download {files} from {url} into {folder} (or --face-weights DIR)",
            files=", ".join(missing),
            url=WEIGHT_URL,
            folder=weight_folders()[-1],
        )
        detail = translate("missing {files} (looked in {where})", files=", ".join(missing), where=where)
        return Check("tracker", "fan", False, detail, fix, False, files)
    problems = [problem for path in found.values() if (problem := _weights_problem(path, verify, _load_fan_file))]
    if problems:
        return Check(
            "tracker",
            "fan",
            False,
            translate("; ").join(problems),
            translate("download them again from {url}", url=WEIGHT_URL),
            False,
            files,
        )
    return Check("tracker", "fan", True, translate("S3FD + 2DFAN4 weights found"), None, False, files)


def _load_fan_file(path: Path) -> None:
    torch.load(path, map_location="cpu", weights_only=True)


def encoder_checks() -> list[Check]:
    """The encoders the output needs (H.264 and AAC), and NVENC when this PyAV build has it."""
    import av

    checks = []
    for codec, required in ENCODERS:
        try:
            av.codec.Codec(codec, "w")
            nvenc = codec.endswith("nvenc")
            detail = translate(
                "in PyAV {version} (runs only with an NVIDIA GPU and driver)" if nvenc else "in PyAV {version}",
                version=av.__version__,
            )
            checks.append(Check("encoder", codec, True, detail, required=required))
        except Exception:
            fix = translate("install the PyAV wheel from PyPI (pip install 'av>=14'), which bundles FFmpeg with it")
            absent = translate("not in PyAV {version}", version=av.__version__)
            checks.append(Check("encoder", codec, False, absent, fix, required=required))
    return checks


def orchestration_checks() -> list[Check]:
    return [_prefect_check(), _ray_check()]


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package) if importlib.util.find_spec(package) else None
    except importlib.metadata.PackageNotFoundError:
        return None


def _prefect_check() -> Check:
    version = _version("prefect")
    if version is None:
        absent = translate("not installed")
        return Check("orchestration", "prefect", False, absent, "pip install 'prefect>=3.4'", required=False)
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        alone = translate("{version}; no server set: flows use an in-process API", version=version)
        return Check("orchestration", "prefect", True, alone)
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=TIMEOUT_S) as reply:
            healthy = reply.status == 200
    except (urllib.error.URLError, OSError, ValueError) as err:
        fix = translate("start it (prefect server start) or unset PREFECT_API_URL to run without a server")
        unreachable = translate("{version}; server {url} unreachable ({error})", version=version, url=url, error=err)
        return Check("orchestration", "prefect", False, unreachable, fix)
    fix = None if healthy else translate("check the server's logs")
    state = translate(
        "{version}; server {url} healthy" if healthy else "{version}; server {url} unwell", version=version, url=url
    )
    return Check("orchestration", "prefect", healthy, state, fix)


def _ray_check() -> Check:
    version = _version("ray")
    if version is None:
        absent = translate("not installed")
        return Check("orchestration", "ray", False, absent, "pip install 'heygem-ops[ray]'", required=False)
    address = get_settings().ray_address
    if not address or address in ("local", "auto"):
        detail = translate(
            "{version}; starts a local cluster on demand"
            if address == "local"
            else "{version}; no cluster set (HEYGEM_RAY_ADDRESS)",
            version=version,
        )
        return Check("orchestration", "ray", True, detail, required=False)
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    host, port = parsed.hostname or "", parsed.port or 10001
    try:
        socket.create_connection((host, port), timeout=TIMEOUT_S).close()
    except OSError as err:
        fix = translate("check that the cluster is up and its client port is open, or use --ray local")
        unreachable = translate(
            "{version}; {address} unreachable ({error})", version=version, address=address, error=err
        )
        return Check("orchestration", "ray", False, unreachable, fix, required=False)
    accepting = translate("{version}; {host}:{port} accepts connections", version=version, host=host, port=port)
    return Check("orchestration", "ray", True, accepting, required=False)
