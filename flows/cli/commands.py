"""Every subcommand, attached to the group in one place."""

from __future__ import annotations

import click


def register_commands(group: click.Group) -> None:
    from flows.cli.generate import generate_command

    group.add_command(generate_command)
