"""The `heygem` command line: one module per subcommand, errors printed as one actionable line."""

from heygem_flows.cli.main import main

__all__ = ["main"]
