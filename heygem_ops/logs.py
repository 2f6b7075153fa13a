"""One logging setup for every entry point: the console plus a rotating log file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOGGER_NAME = "heygem_ops"
LOG_FILE_NAME = "heygem.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(log_dir: Path, *, level: int = logging.INFO, console: bool = True) -> Path:
    """Send the library's logs to ``log_dir/heygem.log`` (and the console); return the file's path.

    Idempotent: a second call with the same folder changes nothing, so the CLI, flows and the UI can
    each call it without doubling lines.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE_NAME
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=20 << 20, backupCount=3)
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(file_handler)
    if console and not any(getattr(h, "_heygem_console", False) for h in logger.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        stream._heygem_console = True  # type: ignore[attr-defined]
        logger.addHandler(stream)
    logger.propagate = False
    return path


def get_logger(name: str) -> logging.Logger:
    """A child of the library logger, so one setup governs all modules."""
    return logging.getLogger(f"{LOGGER_NAME}.{name.removeprefix(LOGGER_NAME + '.')}")
