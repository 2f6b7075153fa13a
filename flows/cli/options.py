"""Options shared by several subcommands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from heygem_ops.engines.registry import available_engines
from heygem_ops.options import PARSING_MODES


def check_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in available_engines():
        raise click.BadParameter(f"{value!r} is not an engine; choose one of: {', '.join(available_engines())}")
    return value


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --device, --face, --tracker, --checkpoint(-dir), MuseTalk's crop and blend, --ray: how models run."""
    for option in reversed(
        [
            click.option("--engine", callback=check_engine, help="Lip-sync engine (default: warp)."),
            click.option("--device", help="auto, cpu, cuda or cuda:N (default: auto)."),
            click.option("--face", help="Which face: largest, center, or a size rank 0, 1, ... (default: largest)."),
            click.option("--tracker", type=click.Choice(["mesh", "fan"]), help="Face tracker (default: mesh)."),
            click.option("--checkpoint", type=click.Path(path_type=Path), help="Engine weights, e.g. wav2lip_gan.pth."),
            click.option(
                "--checkpoint-dir", type=click.Path(path_type=Path), help="Engine weights folder (MuseTalk's models/)."
            ),
            click.option("--bbox-shift", type=click.IntRange(-200, 200), help="musetalk crop: px (default: 0)."),
            click.option("--extra-margin", type=click.IntRange(0, 200), help="musetalk crop: px below the chin (10)."),
            click.option(
                "--parsing-mode", type=click.Choice(PARSING_MODES), help="Blending region of image engines (jaw)."
            ),
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
