"""`heygem`: the command group, shared options, and the one place errors become exit codes.

Exit 0 on success, 1 when a job fails (the message says what to do), 2 on bad usage (click).
A traceback is shown only with --debug; it always goes to the log file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from heygem_ops.errors import HeyGemError
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


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn HeyGem errors into `Type: message` on stderr and exit 1; anything else is a bug report."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = is_debug()
        try:
            return command(*args, **kwargs)
        except HeyGemError as error:
            log.debug("command failed", exc_info=True)
            if debug:
                raise
            click.secho(f"{error.kind}: {error}", fg="red", err=True)
            sys.exit(1)
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:
            log.exception("unexpected failure")
            if debug:
                raise
            log_file = get_settings().resolved_log_dir / "heygem.log"
            click.secho(
                f"InternalError: {type(error).__name__}: {error}; this is a bug: rerun with --debug "
                f"and report it with the log {log_file}",
                fg="red",
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and Prefect's logs.")
@click.version_option(package_name="heygem-ops")
def cli(debug: bool) -> None:
    """HeyGem-Ops: lip-sync a template video or portrait to a speech recording, one or thousands."""
    quiet_prefect(debug)
    try:
        settings = get_settings()
    except HeyGemError as error:  # a malformed HEYGEM_* variable: before logging exists, say it plainly
        click.secho(f"{error.kind}: {error}", fg="red", err=True)
        sys.exit(1)
    setup_logging(settings.resolved_log_dir, level=logging.DEBUG if debug else logging.INFO)


def main() -> None:
    from flows.cli.commands import register_commands

    register_commands(cli)
    cli()
