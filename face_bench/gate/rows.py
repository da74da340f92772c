"""The gate's rows: each metric of each subset and model, and each differential, judged.

A row passes when the metric moves by at most its tolerance in the worse direction; a
baseline outside the current run's 95% interval on its better side is a warning (or a
regression with ``--fail-outside-interval``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from face_bench.core.errors import GateInputError
from face_bench.gate.records import GateRow, Verdict
from face_bench.gate.tolerances import metric_direction, tolerance_for
from face_bench.metrics.catalog import (
    DIFFERENTIALS,
    MIN_SUPPORT_ERRORS,
    SUMMARY_METRICS,
    far_key,
    far_target,
    order_names,
)
from face_bench.results.blocks import ModelMetrics
from face_bench.results.contract import RunResults

# A move of exactly the tolerance passes; this only absorbs binary rounding of the delta.
_EPS = 1e-12


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _metric_names(base: dict[str, Any], cur: dict[str, Any]) -> list[str]:
    """Every catalog metric either run has, in catalog order."""
    return order_names([*base, *cur])


def _interval(metrics: ModelMetrics, name: str) -> tuple[float, float] | None:
    ci = metrics.interval(name)
    bounds = ci.bounds() if ci is not None else None
    if bounds is None or not all(math.isfinite(v) for v in bounds):
        return None  # a NaN or infinite bound says nothing about where the baseline lies
    return bounds


def metric_rows(
    baseline: RunResults,
    current: RunResults,
    overrides: Mapping[str, float],
    fail_outside_ci: bool,
) -> list[GateRow]:
    rows: list[GateRow] = []
    cur_subsets = {s.name: s for s in current.subsets}
    for subset in baseline.subsets:
        other = cur_subsets.get(subset.name)
        if other is None:
            continue
        cur_runs = {m.name: m for m in other.models}
        for run in subset.models:
            cur_run = cur_runs.get(run.name)
            if cur_run is None:
                continue
            base_flat = run.metrics.values()
            cur_flat = cur_run.metrics.values()
            judged = _unsupported(run.metrics)
            for name in _metric_names(base_flat, cur_flat):
                row = _compare_one(
                    subset.name,
                    run.name,
                    name,
                    base_flat,
                    cur_flat,
                    _interval(cur_run.metrics, name),
                    tolerance_for(name, overrides),
                    fail_outside_ci,
                )
                if row.baseline is None and row.current is not None and name not in judged:
                    row = replace(row, baseline_unusable=True, note=_no_value(name, base_flat))
                elif row.verdict == "not comparable":
                    why = _unsupported_tar(name, run.metrics, cur_run.metrics)
                    row = replace(row, note=why or row.note)
                rows.append(row)
    return rows


def _unsupported_tar(name: str, base: ModelMetrics, cur: ModelMetrics) -> str | None:
    """Why a TAR@FAR row is not gated: too few impostor pairs for the target (the support
    rule of ``metrics.summary``), with the counts a reader needs to size the run."""
    target = far_target(name)
    if target is None:
        return None
    short = {
        side: metrics.n_impostor
        for side, metrics in (("baseline", base), ("current", cur))
        if (entry := metrics.tar(target)) is not None and not entry.supported
    }
    if not short:
        return None
    needed = math.ceil(MIN_SUPPORT_ERRORS / target - 1e-9)
    counts = set(short.values())
    has = (
        f"has {counts.pop():,}"
        if len(short) == 2 and len(counts) == 1
        else " and ".join(f"{side} has {n:,}" for side, n in short.items())
    )
    return (
        f"needs ≥ {needed:,} impostor pairs for FAR {target:g} "
        f"({MIN_SUPPORT_ERRORS} false accepts), {has}"
    )


def _unsupported(metrics: ModelMetrics) -> set[str]:
    """TAR@FAR targets the baseline judged too thin to report (its support rule): a
    deliberate "no value", not a broken baseline."""
    return {far_key(t.far_target) for t in metrics.tar_at_far if not t.supported}


def _no_value(name: str, flat: Mapping[str, Any]) -> str:
    if name not in flat:
        return "missing from the baseline"
    value = flat[name]
    return "null in the baseline" if value is None else f"{value!r} in the baseline"


def _require_number(value: Any, side: str, subset: str, model: str, name: str) -> None:
    """A metric is a number, null or absent; anything else means a malformed file (exit 2)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return
    raise GateInputError(
        f"{side}: subset {subset!r}, model {model!r}: metric {name!r} is "
        f"{type(value).__name__} {str(value)[:40]!r}, not a number: malformed results file"
    )


def _compare_one(
    subset: str,
    model: str,
    name: str,
    base_flat: dict[str, Any],
    cur_flat: dict[str, Any],
    ci: tuple[float, float] | None,
    tolerance: float,
    fail_outside_ci: bool,
) -> GateRow:
    sign = metric_direction(name) or +1
    for side, flat in (("baseline", base_flat), ("current", cur_flat)):
        _require_number(flat.get(name), side, subset, model, name)
    b, c = _finite(base_flat.get(name)), _finite(cur_flat.get(name))
    row = GateRow(
        subset=subset,
        model=model,
        metric=name,
        baseline=b,
        current=c,
        delta=None,
        tolerance=tolerance,
        direction="higher" if sign > 0 else "lower",
        verdict="not comparable",
        current_ci=ci,
    )
    if b is None or c is None:
        return _without_value(row, name, base_flat, cur_flat)
    delta = c - b
    verdict, note = _judge(delta, sign, tolerance)
    outside = warning = False
    if ci is not None:
        lower, upper = ci
        outside = b < lower or b > upper
        warning = (b > upper) if sign > 0 else (b < lower)
        if warning and verdict == "pass":
            note = "baseline outside the current 95% CI"
            if fail_outside_ci:
                verdict = "regressed"
                note += " (--fail-outside-interval)"
    return replace(
        row, delta=delta, verdict=verdict, outside_ci=outside, ci_warning=warning, note=note
    )


def _without_value(
    row: GateRow, name: str, base_flat: dict[str, Any], cur_flat: dict[str, Any]
) -> GateRow:
    """A row where either side has no finite value: a regression when only current lacks it."""
    if row.baseline is not None:
        # A gated metric that is missing, null, NaN or infinite in the current run cannot
        # pass: every headline metric NaN would otherwise read as "nothing to compare".
        shown = "missing" if name not in cur_flat else f"{cur_flat[name]!r}, not a finite number"
        return replace(row, verdict="regressed", note=f"current value {shown}")
    why = [
        f"not in {side}" if name not in flat else f"no value in {side}"
        for side, flat, value in (
            ("baseline", base_flat, row.baseline),
            ("current", cur_flat, row.current),
        )
        if value is None
    ]
    return replace(row, note="; ".join(why))


def _judge(delta: float, sign: int, tolerance: float) -> tuple[Verdict, str]:
    """A move beyond the tolerance in the worse direction regresses, in the better improves."""
    worse_by = -sign * delta
    if worse_by > tolerance + _EPS:
        return "regressed", f"worse by {abs(delta):.4g}, tolerance {tolerance:g}"
    if -worse_by > tolerance + _EPS:
        return "improved", f"better by {abs(delta):.4g}"
    return "pass", ""


# ---------------------------------------------------------------- differentials

Figures = dict[tuple[str, str], dict[str, tuple[float | None, tuple[float, float] | None]]]


def _bounds(lower: float | None, upper: float | None) -> tuple[float, float] | None:
    return (lower, upper) if lower is not None and upper is not None else None


def _ratio_value(ratio: Any) -> tuple[float | None, tuple[float, float] | None]:
    """A ratio's estimate, or its rule-of-three lower bound where the reference has no error."""
    if ratio is None:
        return None, None
    if ratio.estimate is None:
        return ratio.lower_bound, None
    return ratio.estimate, _bounds(ratio.lower, ratio.upper)


def differential_figures(results: RunResults) -> Figures:
    """(scope, model) -> {gate name: (value, 95% interval)} of ``results.differentials``.

    A group's scope is ``differentials <group>``; the summary measures' is
    ``differentials``.
    """
    diff = results.differentials
    out: Figures = {}
    if diff is None:
        return out
    for model, block in diff.models.items():
        for g in block.groups:
            out[(f"differentials {g.group}", model)] = {
                "group_fmr": (g.fmr.rate, _bounds(g.fmr.lower, g.fmr.upper)),
                "group_fnmr": (g.fnmr.rate, _bounds(g.fnmr.lower, g.fnmr.upper)),
                **({"fmr_ratio": _ratio_value(g.fmr_ratio)} if g.group != diff.reference else {}),
                **({"fnmr_ratio": _ratio_value(g.fnmr_ratio)} if g.group != diff.reference else {}),
            }
        out[("differentials", model)] = {
            SUMMARY_METRICS[m.name]: (m.estimate, _bounds(m.lower, m.upper))
            for m in block.summary
            if m.name in SUMMARY_METRICS
        }
    return out


def differential_rows(
    baseline: RunResults,
    current: RunResults,
    overrides: Mapping[str, float],
    fail_outside_ci: bool,
) -> list[GateRow]:
    """A row per group rate, ratio and summary measure the baseline has, per model."""
    base, cur = differential_figures(baseline), differential_figures(current)
    rows: list[GateRow] = []
    for (scope, model), figures in base.items():
        other = cur.get((scope, model))
        if other is None:
            continue
        for name in (m.name for m in DIFFERENTIALS):
            if name not in figures:
                continue
            b_flat = {name: figures[name][0]}
            c_flat = {name: other[name][0]} if name in other else {}
            ci = other[name][1] if name in other else None
            rows.append(
                _compare_one(
                    scope,
                    model,
                    name,
                    b_flat,
                    c_flat,
                    ci,
                    tolerance_for(name, overrides),
                    fail_outside_ci,
                )
            )
    return rows
