"""Which torch device a job runs on: chosen once, logged once, overridable by the user.

torch is imported inside the functions: processes that never run a model (compose workers) import
this package without paying torch's second of start-up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from heygem_ops.errors import InputError
from heygem_ops.logs import get_logger

if TYPE_CHECKING:
    import torch

log = get_logger(__name__)
_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def choose_device(spec: str = "auto") -> torch.device:
    """Resolve ``auto | cpu | cuda | cuda:N`` to a device and log which one is in use.

    ``auto`` takes CUDA when torch sees a GPU, which also honours ``CUDA_VISIBLE_DEVICES=-1``.
    Asking for CUDA on a machine without it is an input error, not a silent CPU fallback: a user who
    typed ``cuda`` expects GPU speed.
    """
    import torch

    spec = spec.strip().lower()
    if not _SPEC.match(spec):
        raise InputError("unknown device {spec!r}", spec=spec, hint="use auto, cpu, cuda or cuda:N")
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                "device {spec!r} requested but CUDA is not available",
                spec=spec,
                hint="install a CUDA build of torch, check CUDA_VISIBLE_DEVICES, or use --device cpu",
            )
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise InputError(
                "device {spec!r} requested but only {count} GPU(s) are visible",
                spec=spec,
                count=torch.cuda.device_count(),
                hint="pick a smaller index",
            )
        log.info("Using GPU: %s (%s)", torch.cuda.get_device_name(index), device)
    else:
        log.info("CUDA not available, using CPU" if not torch.cuda.is_available() else "Using CPU (requested)")
    return device


def no_model_device(spec: str, engine: str) -> None:
    """The device of an engine that runs no model: none, its code runs on the CPU. Logged like the rest."""
    ignored = "" if spec.strip().lower() in ("auto", "cpu") else f"; device {spec!r} does not apply to it"
    log.info("Using CPU: engine %r runs no model%s", engine, ignored)


def describe(device: torch.device | None) -> str:
    """Human-readable device name for results rows and the UI; None is an engine without a model."""
    if device is None:
        return "cpu"
    import torch

    if device.type == "cuda":
        return f"cuda:{device.index or 0} {torch.cuda.get_device_name(device.index or 0)}"
    return "cpu"
