"""The ``roc`` tables: the headline operating points first, then the per-subset figures,
a model per row where that fits the terminal whole and a metric per row otherwise, never cut.

Cells fold instead of ending in "…", so a figure is never shown truncated.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import JustifyMethod
from rich.table import Table

from face_bench.core.text import display


class SafeTable(Table):
    """A rich Table whose title and text cells are safe to print (``core.text.display``).

    Names are data: a subset or identity name could otherwise move the cursor, clear the
    screen or reverse the text around it, and a huge one would wreck the table.
    """

    def __init__(self, *args: Any, title: Any = None, **kwargs: Any) -> None:
        if isinstance(title, str):
            title = display(title, 200)
        super().__init__(*args, title=title, **kwargs)

    def add_column(
        self, header: Any = "", *args: Any, overflow: Any = "fold", **kwargs: Any
    ) -> None:
        """Cells fold where a column is too narrow: a number is never cut to "0.00…". A
        header may be a name too (a model's, in a stacked table)."""
        if isinstance(header, str):
            header = display(header)
        super().add_column(header, *args, overflow=overflow, **kwargs)

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(display(c) if isinstance(c, str) else c for c in cells), **kwargs)


def natural_width(table: Table) -> int:
    """The columns a table takes when nothing in it has to wrap."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=10_000)
    return Measurement.get(console, console.options, table).maximum


def fitted_table(
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    width: int,
    justify: JustifyMethod = "right",
    field: str = "metric",
) -> Table:
    """A model per row where that fits ``width`` whole, else a field per row (stacked).

    Decided by the table's own width, not a fixed terminal size: a wide table that would
    have to wrap its cells (bootstrap intervals, "@ threshold") is stacked at any width.
    """
    wide = wide_table(title, columns, rows, justify)
    if natural_width(wide) <= width:
        return wide
    return stacked_table(title, columns, rows, justify, field)


def console_width() -> int | None:
    """The terminal's width; in a log (no TTY) $COLUMNS when set, else 160 so the wide
    tables stay whole. The roc tables fold or stack at any width instead of cutting."""
    if sys.stdout.isatty():
        return None
    try:
        return int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return 160


def headline_table(results: Any) -> Table:
    """Subset, model, FMR and FNMR at the default threshold with counts, and the threshold
    reaching FMR <= 1e-3 with the FNMR there."""
    from face_bench.report.headline import headline_rows

    table = SafeTable(
        title="Headline: each model at its default threshold (errors / pairs)",
        title_justify="left",
    )
    for column in (
        "subset",
        "model",
        "thr",
        "FMR at default",
        "FNMR at default",
        "thr @ FMR≤1e-3",
        "FNMR there",
    ):
        table.add_column(
            column, justify="left" if column in ("subset", "model") else "right", overflow="fold"
        )
    for r in headline_rows(results):
        table.add_row(r.subset, r.model, r.threshold, r.fmr, r.fnmr, r.target, r.fnmr_at_target)
    return table


def stacked_table(
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    justify: JustifyMethod = "right",
    field: str = "metric",
) -> Table:
    """The wide table turned a quarter: a row per field (metric), a column per model."""
    table = SafeTable(title=title, title_justify="left")
    table.add_column(field, overflow="fold")
    for row in rows:
        table.add_column(row[0], justify=justify, overflow="fold")
    for i, name in enumerate(columns[1:], start=1):
        table.add_row(name, *(row[i] for row in rows))
    return table


def wide_table(
    title: str, columns: list[str], rows: list[list[Any]], justify: JustifyMethod = "right"
) -> Table:
    """A row per model; the first column (the model) left-aligned."""
    table = SafeTable(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else justify, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
