"""GPU-first batching shared by the torch engines: precision choice, batch size from free memory,
halving the batch on out-of-memory (for that call and every later one, down to one item), and
uploads through pinned memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

from heygem_ops.errors import InputError, ResourceError
from heygem_ops.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # auto: fp16 on CUDA, fp32 on the CPU
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
GPU_MEMORY_SHARE = 0.5  # of the free GPU memory that one batch may take


def choose_precision(precision: str, device: torch.device) -> str:
    """Resolve "auto" and refuse half precision where it does not run well (fp16 on the CPU)."""
    if precision not in PRECISIONS:
        raise InputError(
            "unknown precision {precision!r}",
            hint="choose one of: {choices}",
            precision=precision,
            choices=", ".join(PRECISIONS),
        )
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise InputError("fp16 needs a CUDA device", hint="use fp32 (or bf16) on the CPU")
    return precision


def fit_batch(device: torch.device, bytes_per_item: int, cpu_batch: int, max_batch: int) -> int:
    """Items per forward: `cpu_batch` on the CPU; on a GPU what half its free memory holds (a power of two)."""
    if device.type != "cuda":
        return cpu_batch
    free, _ = torch.cuda.mem_get_info(device)
    fits = int(free * GPU_MEMORY_SHARE // bytes_per_item)
    return max(1, min(max_batch, 1 << max(fits, 1).bit_length() - 1))


def upload(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Host array -> device tensor; through pinned memory and an asynchronous copy on CUDA."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


class Batches:
    """Runs a forward over slices of `batch_size` items, halving the size on out-of-memory."""

    def __init__(self, device: torch.device, batch_size: int, what: str) -> None:
        self.device, self.batch_size, self.what = device, batch_size, what

    def run(self, count: int, forward: Callable[[slice], T]) -> list[T]:
        """forward(slice) for consecutive slices covering 0..count-1; retried smaller after out-of-memory."""
        out, start = [], 0
        while start < count:
            size = self.batch_size
            try:
                out.append(forward(slice(start, start + size)))
            except torch.OutOfMemoryError as err:
                self._back_off(err)
                continue
            start += size
        return out

    def _back_off(self, err: torch.OutOfMemoryError) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if self.batch_size == 1:
            raise ResourceError(
                "out of memory on {device} even with one face per batch",
                device=self.device,
                hint="free the GPU (other processes), or run with --device cpu",
            ) from err
        self.batch_size //= 2
        log.warning("Out of memory on %s; %s batch size lowered to %d", self.device, self.what, self.batch_size)
