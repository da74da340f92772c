"""Terminal tables of calibration measures: ``calibrate``'s and ``roc --calibration``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from face_bench.cli.console import fmt, stdout
from face_bench.cli.tables import SafeTable

if TYPE_CHECKING:
    from rich.table import Table

    from face_bench.results.calibration_file import CalibrationSection

MEASURES = ("cllr", "min_cllr", "brier", "ece")


def interval(ci: dict[str, Any]) -> str:
    """``0.123 [0.100, 0.150]``, or the estimate alone without a bootstrap."""
    text = fmt(ci["estimate"], 3)
    if ci["lower"] is not None and ci["upper"] is not None:
        text += f" [{fmt(ci['lower'], 3)}, {fmt(ci['upper'], 3)}]"
    return text


def quality_table(rows: list[dict[str, Any]], title: str) -> Table:
    """One row per model and set: prior, mean P against observed rate, and the measures."""
    table = SafeTable(title=title, title_justify="left")
    columns = ("model", "set", "prior", "mean P", "observed", "Cllr", "minCllr", "Brier", "ECE")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "set") else "right")
    for row in rows:
        table.add_row(
            row["model"],
            row["set"],
            fmt(row["prior"], 3),
            fmt(row["mean_probability"], 3),
            fmt(row["observed_rate"], 3),
            *(interval(row[m]) for m in MEASURES),
        )
    return table


def _bin_cell(cell: dict[str, Any]) -> str:
    if not cell["n_pairs"]:
        return "0"
    return (
        f"{cell['n_pairs']:,}: {fmt(cell['mean_probability'], 3)} / {fmt(cell['observed_rate'], 3)}"
    )


def reliability_table(rows: list[dict[str, Any]], model: str) -> Table:
    """The reliability diagram as numbers: per bin and set, pairs, P given, rate observed."""
    table = SafeTable(
        title=f"{model}: reliability (10 equal-width bins of P; pairs, mean P, observed rate)",
        title_justify="left",
    )
    table.add_column("P bin")
    for row in rows:
        table.add_column(row["set"], justify="right")
    for b, first in enumerate(rows[0]["reliability"]):
        cells = [_bin_cell(row["reliability"][b]) for row in rows]
        table.add_row(f"{first['lower']:.1f}–{first['upper']:.1f}", *cells)
    return table


def render_section(section: CalibrationSection) -> None:
    """``roc``/``report --calibration``: the file's maps judged on this run's subsets."""
    rows = [
        {"model": model, "set": subset, **quality}
        for model, subsets in section.models.items()
        for subset, quality in subsets.items()
    ]
    if not rows:
        return
    fitted = section.fitted_on
    title = (
        f"calibration {section.file} (sha256 {section.sha256[:12]}, fitted on {fitted.subset}"
        f" of {fitted.dataset}): P(same person) on this run's pairs"
    )
    stdout.print(quality_table(rows, title))
