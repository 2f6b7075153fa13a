"""Options shared by several subcommands, declared once, with help and defaults from `Settings`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from heygem_ops.engines.registry import available_engines
from heygem_ops.face.trackers import available_trackers
from heygem_ops.options import PARSING_MODES
from heygem_ops.settings import Settings, get_settings


class SettingOption(click.Option):
    """An option whose help is its setting's description and whose shown default is the setting's
    value where the command runs (HEYGEM_* applied); left out, the job takes that value."""

    def __init__(self, *args: Any, setting: str, **kwargs: Any) -> None:
        self.setting = setting
        kwargs.setdefault("help", Settings.model_fields[setting].description)
        super().__init__(*args, **kwargs)

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        extra["default"] = str(getattr(get_settings(), self.setting))
        return extra


def setting_option(*names: str, setting: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`click.option` for an option that overrides the setting `setting` (HEYGEM_<SETTING>)."""
    return click.option(*names, cls=SettingOption, setting=setting, **kwargs)


def check_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value not in available_engines():
        raise click.BadParameter(f"{value!r} is not an engine; choose one of: {', '.join(available_engines())}")
    return value


def tracker_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--tracker and --face-weights: which tracker follows the face."""
    command = click.option(
        "--face-weights", type=click.Path(path_type=Path), help="Folder with the fan tracker's weight files."
    )(command)
    return setting_option("--tracker", setting="tracker", type=click.Choice(available_trackers()))(command)


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--engine, --device, --face, --tracker, --checkpoint(-dir), MuseTalk's crop and blend, --ray: how models run."""
    for option in reversed(
        [
            setting_option("--engine", setting="engine", callback=check_engine),
            setting_option("--device", setting="device"),
            setting_option("--face", setting="face"),
            tracker_option,
            click.option("--checkpoint", type=click.Path(path_type=Path), help="Engine weights, e.g. wav2lip_gan.pth."),
            setting_option("--checkpoint-dir", setting="musetalk_dir", type=click.Path(path_type=Path)),
            setting_option("--bbox-shift", setting="bbox_shift", type=click.IntRange(-200, 200)),
            setting_option("--extra-margin", setting="extra_margin", type=click.IntRange(0, 200)),
            setting_option("--parsing-mode", setting="parsing_mode", type=click.Choice(PARSING_MODES)),
            ray_option,
        ]
    ):
        command = option(command)
    return command


def ray_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--ray: run the models on a Ray cluster."""
    return click.option(
        "--ray", "ray_address", envvar="HEYGEM_RAY_ADDRESS", help="Run models on Ray: 'local' or ray://host:10001."
    )(command)


def as_strings(options: dict[str, Any]) -> dict[str, Any]:
    """Paths as plain strings: flow parameters must be JSON-friendly."""
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in options.items()}


max_size_option = click.option(
    "--max-size",
    type=click.IntRange(16, None),
    help="Scale templates down to this long side in pixels (default: photos 1920, videos kept; "
    "a video over HEYGEM_MAX_PIXELS needs it, e.g. --max-size 1920).",
)
