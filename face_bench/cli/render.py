"""Printing results: Rich tables on stdout, progress bars and notes on stderr."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from face_bench.cli.tables import (
    STACK_BELOW,
    SafeTable,
    console_width,
    headline_table,
    stacked_table,
    wide_table,
)
from face_bench.core.text import display

# Markup is off: names, paths and messages come from user data and may contain "[...]".
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
# Tables stay readable when piped to a file or a CI log, where Rich would assume 80 columns.
stdout = Console(highlight=False, markup=False, width=console_width())


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


def _tar_cell(point: dict[str, Any]) -> str:
    if point.get("tar") is None:
        return "n/a"
    return fmt(point["tar"]) + ("" if point.get("supported") else " (thin)")


def _model_row(model) -> list[str]:
    m = model.metrics
    default = m.get("at_default", {})
    return [
        model.name,
        str(model.n_images_attempted - model.n_failures),
        str(model.n_failures),
        fmt(m["roc_auc"]) + _ci(m.get("ci", {}).get("roc_auc")),
        fmt(m["eer"]) + f" @ {fmt(m['eer_threshold'], 3)}",
        *(_tar_cell(t) for t in m.get("tar_at_far", [])),
        fmt(m["d_prime"], 2),
        f"{fmt(m['best_f1']['f1'], 3)} @ {fmt(m['best_f1']['threshold'], 3)}",
        f"{fmt(default.get('f1'), 3)} @ {fmt(default.get('threshold'), 3)}",
    ]


def render_evaluation(evaluation, kind: str, output_format: str, written: list[Path]) -> None:
    """Print the per-subset tables (or the results JSON) and where files went."""
    results = evaluation.results
    if output_format == "json":
        stdout.print_json(json.dumps(results.model_dump(mode="json"), ensure_ascii=False))
        return
    stdout.print(headline_table(results))
    for subset in results.subsets:
        title = (
            f"{subset.name}: {subset.sample_size} images of {subset.n_identities} people, "
            f"{subset.pairs.n_genuine:,} genuine / {subset.pairs.n_impostor:,} impostor pairs"
        )
        targets = [t["far_target"] for t in subset.models[0].metrics.get("tar_at_far", [])]
        columns = ["model", "images", "FTE", "ROC-AUC", "EER @ thr"]
        columns += [f"TAR@FAR {t:g}" for t in targets] + ["d'", "best F1 @ thr", "F1 @ default"]
        rows = [_model_row(model) for model in subset.models]
        narrow = (stdout.width or 200) < STACK_BELOW
        table = (stacked_table if narrow else wide_table)(title, columns, rows)
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
        warning = (subset.identity_concentration or {}).get("warning")
        if warning:
            stdout.print(f"  identity concentration: {warning}")
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
    """Ratios first (∞ against a zero rate, as on the page), matched impostors beside the raw
    FMR, then the rates with their counts; FDR last with what it measures."""
    from face_bench.report.sections import differentials

    for d in differentials(diff):
        table = SafeTable(
            title=f"{d['model']}: subset differentials at {d['rule']} "
            f"(threshold {d['threshold']} {d['units']})",
            title_justify="left",
        )
        columns = ["subset", "FMR ratio"] + (["matched FMR ratio"] if d["matched"] else [])
        columns += ["FNMR ratio", "FMR"] + (["FMR, matched"] if d["matched"] else []) + ["FNMR"]
        for column in columns:
            table.add_column(
                column, justify="left" if column == "subset" else "right", overflow="fold"
            )
        for r in d["rows"]:
            cells = [r["subset"], r["fmr_ratio"]] + ([r["matched_ratio"]] if d["matched"] else [])
            cells += [r["fnmr_ratio"], r["fmr"]] + ([r["matched_fmr"]] if d["matched"] else [])
            table.add_row(*cells, r["fnmr"])
        stdout.print(table)
        if d["note"]:
            stdout.print(f"  note: {d['note']}")
        stdout.print(
            f"  FDR {d['fdr']} (1 = alike; absolute gaps, so read the ratios first); "
            "matched = impostor pairs of the same sex and age group"
            if d["matched"]
            else f"  FDR {d['fdr']} (1 = alike; absolute gaps, so read the ratios first)"
        )
