"""Options shared by several subcommands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from heygem_ops.engines.registry import available_engines


def check_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in available_engines():
        raise click.BadParameter(f"{value!r} is not an engine; choose one of: {', '.join(available_engines())}")
    return value


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --device, --face, --tracker, --checkpoint, --ray: how the jobs' models run."""
    for option in reversed(
        [
            click.option("--engine", callback=check_engine, help="Lip-sync engine (default: warp)."),
            click.option("--device", help="auto, cpu, cuda or cuda:N (default: auto)."),
            click.option("--face", help="Which face: largest, center, or a size rank 0, 1, ... (default: largest)."),
            click.option("--tracker", type=click.Choice(["mesh", "fan"]), help="Face tracker (default: mesh)."),
            click.option("--checkpoint", type=click.Path(path_type=Path), help="Engine weights, e.g. wav2lip_gan.pth."),
            click.option(
                "--face-weights", type=click.Path(path_type=Path), help="Folder with the fan tracker's weight files."
            ),
            click.option(
                "--ray",
                "ray_address",
                envvar="HEYGEM_RAY_ADDRESS",
                help="Run models on Ray: 'local' or ray://host:10001.",
            ),
        ]
    ):
        command = option(command)
    return command


def as_strings(options: dict[str, Any]) -> dict[str, Any]:
    """Paths as plain strings: flow parameters must be JSON-friendly."""
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in options.items()}


max_size_option = click.option(
    "--max-size",
    type=click.IntRange(16, None),
    help="Scale templates down to this long side in pixels (default: photos 1920, videos kept; "
    "a video over HEYGEM_MAX_PIXELS needs it, e.g. --max-size 1920).",
)
