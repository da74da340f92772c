"""The terminal: two consoles (tables on stdout, progress and notes on stderr) and the
primitives every command prints with, so that a name or a path is shown the same everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console

from face_bench.cli.tables import console_width
from face_bench.core.text import display

# Markup is off: names, paths and messages come from user data and may contain "[...]".
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
# Tables stay readable when piped to a file or a CI log, where Rich would assume 80 columns.
stdout = Console(highlight=False, markup=False, width=console_width())


@contextlib.contextmanager
def progress_factory(
    transfer: bool = False,
) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``make(label, total) -> tick(n)``; a Rich progress bar per step (per file with
    ``transfer``: bytes and speed instead of counts, an unknown size as 0).

    The display starts with the first step, so a fully cached run prints no bar at all.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counts = (DownloadColumn(), TransferSpeedColumn()) if transfer else (
        MofNCompleteColumn(), TimeElapsedColumn()
    )  # fmt: skip
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), *counts, TimeRemainingColumn(),
        console=console,
    )  # fmt: skip

    def make(label: str, total: int) -> Callable[[int], None]:
        if not progress.live.is_started:
            progress.start()
        task = progress.add_task(label, total=(total or None) if transfer else total)
        return lambda n: progress.advance(task, n)

    try:
        yield make
    finally:
        if progress.live.is_started:
            progress.stop()


def _safe_lines(message: str) -> str:
    return "\n".join(display(line, 4000) for line in str(message).split("\n"))


def warn(message: str) -> None:
    """A note on stderr (skipped model, small subset) in yellow; names shown safely."""
    console.print(_safe_lines(message), style="yellow")


def info(message: str) -> None:
    """A progress message on stderr; names shown safely."""
    console.print(_safe_lines(message), style="cyan")


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers for tables: fixed digits, '—' for missing, text as is."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_unbroken(line: str) -> None:
    """A line naming a path, never broken by the console: copied from the terminal, the
    path must still work (the terminal itself may still fold it on screen)."""
    stdout.print(display(line, 4000), soft_wrap=True)
