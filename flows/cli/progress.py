"""Terminal progress bars fed by the library's progress board."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from heygem_ops.i18n import translate
from heygem_ops.progress import board, stage_name


@contextmanager
def progress_bars(output: Path) -> Iterator[None]:
    """Show one bar per stage (tracking, rendering) for the job writing `output`."""
    bars: dict[str, tqdm] = {}

    def listener(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage_name(stage), unit=translate("frame"), leave=True)
        bar.update(done - bar.n)

    try:
        with board.listening(str(output.expanduser().resolve()), listener):
            yield
    finally:
        for bar in bars.values():
            bar.close()
