"""Every subcommand, attached to the group in one place."""

from __future__ import annotations

import click


def register_commands(group: click.Group) -> None:
    from flows.cli.batch import batch_command
    from flows.cli.doctor import doctor_command
    from flows.cli.eval import eval_command
    from flows.cli.generate import generate_command
    from flows.cli.prepare import prepare_command
    from flows.cli.report import report_command
    from flows.cli.serve import serve_command
    from flows.cli.ui import ui_command

    commands = (generate_command, batch_command, report_command, prepare_command, eval_command, doctor_command)
    for command in (*commands, ui_command, serve_command):
        group.add_command(command)
