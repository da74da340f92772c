"""Printing results: Rich tables on stdout, progress bars and notes on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from face_bench.cli.console import fmt, print_unbroken, stdout
from face_bench.cli.tables import (
    SafeTable,
    fitted_table,
    headline_table,
)
from face_bench.metrics.catalog import MetricInfo, far_target, metrics_for

if TYPE_CHECKING:
    from face_bench.results.blocks import (
        ConfidenceInterval,
        ModelComparison,
        ModelMetrics,
    )
    from face_bench.results.contract import ModelRun, RunResults, SubsetRun
    from face_bench.results.differentials import Differentials
    from face_bench.run.evaluation import Evaluation


def _ci(interval: ConfidenceInterval | None, digits: int = 4) -> str:
    bounds = interval.bounds() if interval is not None else None
    if bounds is None:
        return ""
    return f" [{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]"


def _p_text(c: ModelComparison) -> str:
    from face_bench.report.text import p_value

    text = p_value(c.delong_p, c.delong_log10_p)
    return text if text.startswith("<") else f"= {text}"


def _cell(info: MetricInfo, metrics: ModelMetrics) -> str:
    """One catalog metric of one model: value, CI for the AUC, '@ threshold' where it has one.

    A TAR the impostor count cannot support is 'n/a'; one on thin evidence is shown, marked.
    """
    target = far_target(info.name)
    if target is not None:
        point = metrics.tar(target)
        if point is None or point.tar is None:
            return "n/a"
        return info.text(point.tar) + ("" if point.supported else " (thin)")
    text = info.text(metrics.value(info.name))
    if info.name == "roc_auc":
        text += _ci(metrics.interval(info.name))
    if info.name in _COLUMN:
        text += f" @ {fmt(metrics.threshold(info.name), 3)}"
    return text


# Columns that show the threshold a figure was read at.
_COLUMN = {"eer": "EER @ thr", "best_f1": "best F1 @ thr", "f1_at_default": "F1 @ default"}


def _table_metrics(subset: SubsetRun) -> list[MetricInfo]:
    first = subset.models[0].metrics if subset.models else None
    targets = [t.far_target for t in first.tar_at_far] if first else []
    return [info for info in metrics_for(targets) if info.in_table]


def _model_row(model: ModelRun, shown: list[MetricInfo]) -> list[str]:
    return [
        model.name,
        str(model.n_images_attempted - model.n_failures),
        str(model.n_failures),
        *(_cell(info, model.metrics) for info in shown),
    ]


def _comparison_line(c: ModelComparison) -> str:
    """ΔAUC judged by its identity-bootstrap interval; DeLong's p beside it, never alone and
    never without what it assumes (pairs that share a person are not independent)."""
    line = f"  {c.model_a} vs {c.model_b}: ΔAUC {fmt_signed(c.auc_difference)}"
    bounds = c.ci.bounds() if c.ci is not None else None
    if bounds is None:
        line += " (no identity-bootstrap interval: rerun with --bootstrap N to judge it)"
    else:
        line += f", identity-bootstrap 95% CI [{bounds[0]:+.4f}, {bounds[1]:+.4f}]"
        if bounds[0] > 0 or bounds[1] < 0:
            better = c.model_a if bounds[0] > 0 else c.model_b
            line += f": excludes 0, {better} is better"
        else:
            line += ": includes 0, no clear difference"
        if c.bootstrap_p is not None:
            line += f"; p = {c.bootstrap_p:.2g} (identity bootstrap)"
    delong = f"\n    DeLong p (assumes independent pairs) {_p_text(c)}"
    if c.bootstrap_std_error is not None and c.delong_std_error:
        ratio = c.bootstrap_std_error / c.delong_std_error
        delong += f"; the identity-level standard error is {ratio:.1f}x DeLong's"
    return line + delong


def fmt_signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def render_evaluation(
    evaluation: Evaluation, kind: str, output_format: str, written: list[Path]
) -> None:
    """Print the per-subset tables (or the results JSON) and where files went."""
    results = evaluation.results
    if output_format == "json":
        stdout.print_json(results.to_json())
        return
    stdout.print(headline_table(results))
    for subset in results.subsets:
        _render_subset(subset)
    if kind == "threshold-sweep":
        _render_sweep(results)
    if results.differentials:
        _render_differentials(results.differentials)
    from face_bench.cli.quality_tables import render_quality

    render_quality(results.data_quality, stdout, _render_differentials)
    if results.calibration is not None:
        from face_bench.cli.calibration_view import render_section

        render_section(results.calibration)
    if written:
        print_unbroken(f"wrote {', '.join(p.name for p in written)} to {written[0].parent}")


def _render_subset(subset: SubsetRun) -> None:
    """One subset's table, then the lines a reader needs to trust it: comparisons, failures
    to enrol, notes and any identity-concentration warning."""
    title = (
        f"{subset.name}: {subset.sample_size} images of {subset.n_identities} people, "
        f"{subset.pairs.n_genuine:,} genuine / {subset.pairs.n_impostor:,} impostor pairs"
    )
    shown = _table_metrics(subset)
    columns = ["model", "images", "FTE", *(_COLUMN.get(i.name, i.short) for i in shown)]
    rows = [_model_row(model, shown) for model in subset.models]
    stdout.print(fitted_table(title, columns, rows, stdout.width))
    for comparison in subset.comparisons:
        stdout.print(_comparison_line(comparison))
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
    concentration = subset.identity_concentration
    warning = concentration.warning if concentration is not None else None
    if warning:
        stdout.print(f"  identity concentration: {warning}")


_SWEEP_COLUMNS = ("threshold", "F1", "precision", "recall", "FMR", "FNMR")


def _render_sweep(results: RunResults) -> None:
    """A table per subset and model: its units and accept rule in the title, the marked
    thresholds as rows. Numbers never wrap or shorten (FMR 0.00000 and 0.00321 must read
    apart), and seven narrow columns fit 80 columns whole."""
    for subset in results.subsets:
        for model in subset.models:
            sweep = model.threshold_sweep
            if sweep is None:
                continue
            table = SafeTable(
                title=f"{subset.name}, {model.name}: thresholds in {sweep.units} "
                f"(accept where {sweep.accept_rule})",
                title_justify="left",
            )
            table.add_column("marker", overflow="fold")
            for column in _SWEEP_COLUMNS:
                table.add_column(column, justify="right", no_wrap=True, overflow="fold")
            for marker in sweep.markers:
                table.add_row(
                    marker.name,
                    fmt(marker.threshold, 4),
                    fmt(marker.f1, 4),
                    fmt(marker.precision, 4),
                    fmt(marker.recall, 4),
                    fmt(marker.fmr, 5),
                    fmt(marker.fnmr, 5),
                )
            stdout.print(table)


def _render_differentials(diff: Differentials) -> None:
    """Per model: each group's FMR and FNMR at the one threshold with counts and intervals,
    ratios to the reference (bounds, never infinite) with the one-person-out range and the
    identity-level test; then the summary measures, the matrix and who carries the errors."""
    from face_bench.report.differentials_view import SIGNIFICANCE_RULE, views

    for note in diff.notes:
        stdout.print(f"  differentials: {note}")
    for v in views(diff):
        title = f"{v['model']}: differentials at {v['rule']}"
        if v["note"]:
            stdout.print(f"{title}: {v['note']}")
            continue
        stdout.print(_differentials_table(title, v))
        _print_differential_lines(v)
    stdout.print(f"  {SIGNIFICANCE_RULE}")


def _differentials_table(title: str, v: dict[str, Any]) -> SafeTable:
    """One model's groups as rows: FMR and FNMR with counts and intervals, and their ratios
    to the reference group."""
    table = SafeTable(
        title=f"{title} (threshold {v['threshold']} {v['units']}; 95% intervals)",
        title_justify="left",
    )
    for column in ("group", "people", "FMR (errors/pairs)", "FMR ratio", "FNMR (errors/pairs)",
                   "FNMR ratio"):  # fmt: skip
        table.add_column(column, justify="left" if column == "group" else "right", overflow="fold")
    for r in v["rows"]:
        table.add_row(r["group"], r["people"], r["fmr"], r["fmr_ratio"], r["fnmr"], r["fnmr_ratio"])
    return table


def _print_differential_lines(v: dict[str, Any]) -> None:
    """Under the table, what the numbers alone do not say: each group's test and
    one-person-out range, its status, the inequity summary and the warnings."""
    for r in v["rows"]:
        for label, key in (("FMR", "fmr"), ("FNMR", "fnmr")):
            parts = [p for p in (r[f"{key}_test"], r[f"{key}_loo"]) if p]
            if parts:
                stdout.print(f"  {r['group']} {label}: " + "; ".join(parts))
        if r["status"]:
            stdout.print(f"  {r['group']}: {r['status']}")
    if v["summary"]:
        stdout.print(
            "  inequity: "
            + "; ".join(f"{m['name']} {m['value']} {m['interval']}".rstrip() for m in v["summary"])
        )
    for warning in v["warnings"]:
        stdout.print(f"  warning: {warning}")
