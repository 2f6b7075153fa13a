"""Where a flow's work runs: the model host and the renderer for a Ray address, or this machine's.

Above both `hosting` and `ray_host` (which builds on `hosting.LocalHost`), so neither imports the other
back; Ray is imported only when an address asks for it.
"""

from __future__ import annotations

from heygem_ops.host import ModelHost
from heygem_ops.hosting import local_host
from heygem_ops.rendering import Renderer, local_renderer


def host_for(ray_address: str | None) -> ModelHost:
    """The host a flow should use: this process, or the Ray cluster at `ray_address` ("local" starts one)."""
    if not ray_address:
        return local_host()
    from heygem_ops.ray_host import ray_host

    return ray_host(ray_address)


def renderer_for(ray_address: str | None) -> Renderer:
    """Where a flow renders: worker processes here, or Ray tasks on the cluster at `ray_address`."""
    if not ray_address:
        return local_renderer()
    from heygem_ops.ray_host import ray_renderer

    return ray_renderer(ray_address)
