"""Renderers: where chunks are composed and encoded into segments (no model, only pixels).

Apart from the model host on purpose: models sit where the GPU is, rendering where the CPUs and
the template's pixels are. `ComposeWorkers` renders in worker processes of this machine (the
default), `InlineRenderer` in the calling thread, `ray_host.RayRenderer` as Ray tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from heygem_ops.compose.chunk import render_chunk
from heygem_ops.compose.workers import ComposeWorkers, can_start_workers, worker_count
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment


class Renderer(Protocol):
    """Renders one chunk's segment from its order and the engine's answer, and waits for it."""

    def render(
        self, order: ChunkOrder, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment: ...


class InlineRenderer:
    """Renders in the calling thread: no workers (HEYGEM_COMPOSE_WORKERS=0, or a daemonic process)."""

    def render(
        self, order: ChunkOrder, inference: ChunkInference, progress: Callable[[int], None] | None = None
    ) -> Segment:
        return render_chunk(order, inference, progress)


@lru_cache(maxsize=1)
def local_renderer() -> Renderer:
    """This process's renderer: HEYGEM_COMPOSE_WORKERS worker processes (else one per CPU), or inline."""
    workers = worker_count()
    return ComposeWorkers(workers) if workers and can_start_workers() else InlineRenderer()
