"""`heygem`: the command group, its lazily loaded subcommands, and the one place errors become exit codes.

Exit 0 on success, 1 when a job fails (the message says what to do), 2 on bad usage (click).
A traceback is shown only with --debug; it always goes to the log file.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from heygem_ops.errors import HeyGemError
from heygem_ops.i18n import Language, from_environment, translate, use_language
from heygem_ops.logs import get_logger, setup_logging
from heygem_ops.settings import get_settings

log = get_logger("cli")


PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.server")


def quiet_prefect(debug: bool) -> None:
    """Keep Prefect's own log lines (failed-task tracebacks included) off the terminal unless debugging.

    Our one-line error says what happened; Prefect's UI and the log file keep the details. Called
    before Prefect is imported (for its settings) and again after (for loggers it configured).
    """
    level = "DEBUG" if debug else "CRITICAL"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", level)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no phoning home from firewalled hosts
    for name in PREFECT_LOGGERS:
        logging.getLogger(name).setLevel(level)


def is_debug() -> bool:
    return bool(click.get_current_context().find_root().params.get("debug", False))


SUBCOMMANDS = {
    "generate": "heygem_flows.cli.generate:generate_command",
    "batch": "heygem_flows.cli.batch:batch_command",
    "report": "heygem_flows.cli.report:report_command",
    "prepare": "heygem_flows.cli.prepare:prepare_command",
    "eval": "heygem_flows.cli.eval:eval_command",
    "doctor": "heygem_flows.cli.doctor:doctor_command",
    "ui": "heygem_flows.cli.ui:ui_command",
    "serve": "heygem_flows.cli.serve:serve_command",
}
"""Subcommand name → "module:attribute", imported only when that command (or the command list) is asked for."""


class HeyGemGroup(click.Group):
    """The `heygem` group: subcommands load lazily from `SUBCOMMANDS`, and errors are handled here once.

    Lazy loading (click's documented pattern) keeps `heygem --help` fast and lets subcommand modules
    import this one without a cycle. A `HeyGemError` becomes `Type: message` on stderr and exit 1;
    anything else is reported as a bug with the log file's path; --debug re-raises both.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS and cmd_name not in self.commands:
            module, attribute = SUBCOMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise TypeError(f"{SUBCOMMANDS[cmd_name]} is not the click command {cmd_name!r}")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        with use_language(command_language()):
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except HeyGemError as error:
            log.debug("command failed", exc_info=True)
            if ctx.params.get("debug"):
                raise
            click.secho(error_line(error), fg="red", err=True)
            ctx.exit(1)
        except Exception as error:
            log.exception("unexpected failure")
            if ctx.params.get("debug"):
                raise
            log_file = get_settings().resolved_log_dir / "heygem.log"
            click.secho(
                translate(
                    "InternalError: {error}; this is a bug: rerun with --debug and report it with the log {log}",
                    error=f"{type(error).__name__}: {error}",
                    log=log_file,
                ),
                fg="red",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=HeyGemGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and Prefect's logs.")
@click.version_option(package_name="heygem-ops")
def cli(debug: bool) -> None:
    """HeyGem-Ops: lip-sync a template video or portrait to a speech recording, one or thousands."""
    quiet_prefect(debug)
    try:
        settings = get_settings()
    except HeyGemError as error:  # a malformed HEYGEM_* variable: before logging exists, say it plainly
        click.secho(error_line(error), fg="red", err=True)
        sys.exit(1)
    setup_logging(settings.resolved_log_dir, level=logging.DEBUG if debug else logging.INFO)


def command_language() -> Language:
    """The language of messages: HEYGEM_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG); --help stays English."""
    try:
        setting = get_settings().lang
    except HeyGemError:  # malformed settings: the locale still decides how that is said
        setting = "auto"
    return from_environment(setting, os.environ)


def error_line(error: HeyGemError) -> str:
    """`Type: what happened; what to do`, in the command's language (the type name stays as it is)."""
    return translate("{kind}: {message}", kind=error.kind, message=error.localized())


def main() -> None:
    cli()
