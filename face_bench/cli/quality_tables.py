"""The data-quality part of the terminal output: confounds, near-duplicates, suspects, strata.

Built from the same rows as the report's section (``report.quality``), so both say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from face_bench.cli.tables import SafeTable
from face_bench.report.quality import quality_context

SHOWN_SUSPECTS = 10
"""Agreed suspects listed on the terminal (the report lists more, results.json all)."""

if TYPE_CHECKING:
    from rich.console import Console

    from face_bench.results.differentials import Differentials
    from face_bench.results.quality import DataQuality


def _confound_table(rows: list[dict[str, Any]]) -> SafeTable:
    table = SafeTable(title="data quality: do the subsets differ in anything else?",
                      title_justify="left")  # fmt: skip
    for column in ("column", "measure", "strength", "warns at", "per subset"):
        right = column in ("strength", "warns at")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for r in rows:
        name = f"{r['column']} ⚠" if r["warn"] else r["column"]
        for i, line in enumerate(r["lines"]):  # one value per line: long names stay whole
            first = i == 0
            cells = (name, r["measure"], r["strength"], r["warning_at"]) if first else ("",) * 4
            table.add_row(*cells, line)
    return table


def _suspect_table(found: dict[str, Any]) -> SafeTable:
    table = SafeTable(
        title=f"suspected label errors: {found['agreed']} image(s) flagged by every model",
        title_justify="left",
    )
    for column in ("subset", "image", "label", "model", "median vs own", "EER thr", "nearest"):
        table.add_column(column, overflow="fold")
    for row in found["rows"]:
        for i, e in enumerate(row["evidence"]):
            first = i == 0
            table.add_row(
                row["subset"] if first else "",
                row["image"] if first else "",
                row["identity"] if first else "",
                e["model"],
                f"{e['median_same']} ({e['n_same']})",
                e["threshold"],
                e["nearest"],
            )
    return table


def render_quality(
    dq: DataQuality | None,
    out: Console,
    differentials: Callable[[Differentials], None],
) -> None:
    """Print the data-quality block (nothing when the run has none)."""
    view = quality_context(dq)
    if view is None or dq is None:
        return
    if view["confounds"]:
        out.print(_confound_table(view["confounds"]))
    near = view["near"]
    if near is not None and (near["n_genuine"] or near["n_impostor"]):
        out.print(
            f"  near-duplicates: {near['n_genuine']} pair(s) of one person, "
            f"{near['n_impostor']} across identities; {near['excluded']} scored pair(s) left "
            f"out (--near-duplicates {near['policy']})"
        )
    found = view["suspects"]
    if found is not None and found["rows"]:
        shown = found["rows"][:SHOWN_SUSPECTS]
        out.print(_suspect_table({**found, "rows": shown}))
        more = found["agreed"] - len(shown)
        if more > 0:
            out.print(f"  {more} more in results.json (data_quality.suspects) and the report")
    if dq.exclude_suspects and dq.without_suspects is not None:
        out.print("differentials without the suspects (--exclude-suspects):")
        differentials(dq.without_suspects)
    for stratum in dq.strata:
        out.print(f"differentials within {stratum.column} = {stratum.value}:")
        if stratum.differentials is not None:
            differentials(stratum.differentials)
        else:
            out.print(f"  note: {stratum.note}")
