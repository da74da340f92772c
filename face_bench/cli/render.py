"""Printing results: Rich tables on stdout, progress bars and notes on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from face_bench.core.text import display

# Markup is off: names, paths and messages come from user data and may contain "[...]".
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
# Tables stay readable when piped to a file or a CI log, where Rich would assume 80 columns.
stdout = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)


@contextlib.contextmanager
def progress_factory() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``make(label, total) -> tick(n)``; a Rich progress bar per step.

    The display starts with the first step, so a fully cached run prints no bar at all.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )

    def make(label: str, total: int) -> Callable[[int], None]:
        if not progress.live.is_started:
            progress.start()
        task = progress.add_task(label, total=total)
        return lambda n: progress.advance(task, n)

    try:
        yield make
    finally:
        if progress.live.is_started:
            progress.stop()


class SafeTable(Table):
    """A rich Table whose title and text cells are safe to print (``core.text.display``).

    Names are data: a subset or identity name could otherwise move the cursor, clear the
    screen or reverse the text around it, and a huge one would wreck the table.
    """

    def __init__(self, *args: Any, title: Any = None, **kwargs: Any) -> None:
        if isinstance(title, str):
            title = display(title, 200)
        super().__init__(*args, title=title, **kwargs)

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(display(c) if isinstance(c, str) else c for c in cells), **kwargs)


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


def _ci(metric: dict[str, Any] | None, digits: int = 4) -> str:
    if not metric or metric.get("lower") is None:
        return ""
    return f" [{metric['lower']:.{digits}f}, {metric['upper']:.{digits}f}]"


def _p_text(comparison: dict[str, Any]) -> str:
    from face_bench.report.text import p_value

    text = p_value(comparison.get("delong_p"), comparison.get("delong_log10_p"))
    return text if text.startswith("<") else f"= {text}"


def render_evaluation(evaluation, kind: str, output_format: str, written: list[Path]) -> None:
    """Print the per-subset tables (or the results JSON) and where files went."""
    results = evaluation.results
    if output_format == "json":
        stdout.print_json(json.dumps(results.model_dump(mode="json"), ensure_ascii=False))
        return
    for subset in results.subsets:
        table = SafeTable(
            title=(
                f"{subset.name}: {subset.sample_size} images of {subset.n_identities} people, "
                f"{subset.pairs.n_genuine:,} genuine / {subset.pairs.n_impostor:,} impostor pairs"
            ),
            title_justify="left",
        )
        targets = [t["far_target"] for t in subset.models[0].metrics.get("tar_at_far", [])]
        columns = ["model", "images", "FTE", "ROC-AUC", "EER @ thr"]
        columns += [f"TAR@FAR {t:g}" for t in targets] + ["d'", "best F1 @ thr", "F1 @ default"]
        for column in columns:
            table.add_column(column, justify="left" if column == "model" else "right")
        for model in subset.models:
            m = model.metrics
            tars = [fmt(t["tar"]) if t["supported"] else "n/a" for t in m.get("tar_at_far", [])]
            default = m.get("at_default", {})
            table.add_row(
                model.name,
                str(model.n_images_attempted - model.n_failures),
                str(model.n_failures),
                fmt(m["roc_auc"]) + _ci(m.get("ci", {}).get("roc_auc")),
                fmt(m["eer"]) + f" @ {fmt(m['eer_threshold'], 3)}",
                *tars,
                fmt(m["d_prime"], 2),
                f"{fmt(m['best_f1']['f1'], 3)} @ {fmt(m['best_f1']['threshold'], 3)}",
                f"{fmt(default.get('f1'), 3)} @ {fmt(default.get('threshold'), 3)}",
            )
        stdout.print(table)
        for comparison in subset.comparisons:
            stdout.print(
                f"  {comparison['model_a']} vs {comparison['model_b']}: ΔAUC "
                f"{comparison['auc_difference']:+.4f}, DeLong p "
                + _p_text(comparison)
                + (
                    f", 95% CI [{comparison['ci']['lower']:+.4f}, {comparison['ci']['upper']:+.4f}]"
                    if comparison.get("ci")
                    else ""
                )
            )
        failures = {m.name: m.n_failures for m in subset.models if m.n_failures}
        if failures:
            stdout.print(
                "  failures to enrol: "
                + ", ".join(f"{k} {v}" for k, v in failures.items())
                + f"; {subset.pairs.excluded_images} image(s) excluded for every model "
                "(reasons in results.json)"
            )
        for note in subset.notes:
            stdout.print(f"  note: {note}")
    if kind == "threshold-sweep":
        _render_sweep(results)
    if results.subset_differentials:
        _render_differentials(results.subset_differentials)
    if written:
        stdout.print(f"wrote {', '.join(p.name for p in written)} to {written[0].parent}")


def _render_sweep(results) -> None:
    for subset in results.subsets:
        table = SafeTable(title=f"{subset.name}: thresholds (model units)", title_justify="left")
        for column in (
            "model",
            "units",
            "marker",
            "threshold",
            "F1",
            "precision",
            "recall",
            "FMR",
            "FNMR",
        ):
            table.add_column(
                column, justify="left" if column in ("model", "units", "marker") else "right"
            )
        for model in subset.models:
            sweep = model.threshold_sweep or {}
            for marker in sweep.get("markers", []):
                table.add_row(
                    model.name,
                    sweep.get("units", ""),
                    marker["name"],
                    fmt(marker["threshold"], 4),
                    fmt(marker["f1"], 4),
                    fmt(marker["precision"], 4),
                    fmt(marker["recall"], 4),
                    fmt(marker["fmr"], 5),
                    fmt(marker["fnmr"], 5),
                )
        stdout.print(table)


def _render_differentials(diff: dict[str, Any]) -> None:
    for model, data in diff.get("models", {}).items():
        table = SafeTable(
            title=(
                f"{model}: subset differentials at {data['threshold_rule']} "
                f"(threshold {fmt(data['threshold'])} {data['units']}); FDR {fmt(data['fdr'])}"
            ),
            title_justify="left",
        )
        for column in ("subset", "FMR", "FMR ratio", "FNMR", "FNMR ratio"):
            table.add_column(column, justify="left" if column == "subset" else "right")
        for row in data["subsets"]:
            table.add_row(
                row["subset"],
                fmt(row["fmr"], 5),
                fmt(row["fmr_ratio"], 2),
                fmt(row["fnmr"], 5),
                fmt(row["fnmr_ratio"], 2),
            )
        stdout.print(table)
