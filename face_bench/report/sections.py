"""Page sections that qualify the headline: subset differentials (ratios first, matched
impostors beside the raw ones, FDR second), transferred and cross-validated thresholds,
zero-error points and identity concentration.

They read the typed results (face_bench.results) only and return plain dicts for the template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from face_bench.metrics.catalog import ZERO_ERROR_POINTS, MetricInfo
from face_bench.report.text import MISSING, pct, rate_with_counts
from face_bench.results.blocks import (
    CountedRates,
    CriterionNote,
    ThresholdTransfer,
)
from face_bench.results.contract import RunResults, SubsetRun


def _thr(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4g}"


def add_zero_rows(run: SubsetRun, add: Callable[[MetricInfo, list[Any]], None]) -> None:
    """ZeroFMR / ZeroFNMR rows (pyeer) for the per-subset metrics table; their catalog
    entries give the label and the direction (lower is better) the ▲ follows."""
    zero_fmr = []
    zero_fnmr = []
    for m in run.models:
        zf, zn = m.metrics.zero_fmr, m.metrics.zero_fnmr
        value = zf.fnmr if zf else None
        zero_fmr.append((value, pct(value), f"at {_thr(zf.threshold if zf else None)}"))
        value = zn.fmr if zn else None
        zero_fnmr.append((value, pct(value), f"at {_thr(zn.threshold if zn else None)}"))
    fmr_info, fnmr_info = ZERO_ERROR_POINTS
    add(fmr_info, zero_fmr)
    add(fnmr_info, zero_fnmr)


def _point(block: CountedRates | ThresholdTransfer) -> dict[str, str]:
    return {
        "fmr": rate_with_counts(block.fmr, block.fmr_errors, block.n_impostor),
        "fnmr": rate_with_counts(block.fnmr, block.fnmr_errors, block.n_genuine),
    }


def transfers(results: RunResults) -> list[dict[str, Any]]:
    """--threshold-from: a row per model, criterion and subset."""
    rows: list[dict[str, Any]] = []
    for subset in results.subsets:
        for model in subset.models:
            for block in model.metrics.threshold_transfer or []:
                row: dict[str, Any] = {
                    "model": model.name,
                    "criterion": block.criterion,
                    "subset": subset.name,
                }
                if isinstance(block, CriterionNote):
                    row |= {"source": "", "threshold": _thr(None), "note": block.note}
                    row |= {"fmr": MISSING, "fnmr": MISSING}
                else:
                    row |= {"source": block.from_subset, "threshold": _thr(block.threshold)}
                    row |= {"note": None, **_point(block)}
                rows.append(row)
    rows.sort(key=lambda r: (r["model"], r["criterion"]))
    return rows


def cross_validated(run: SubsetRun) -> list[dict[str, Any]]:
    """Thresholds chosen on identity-disjoint folds, with their held-out rates."""
    rows: list[dict[str, Any]] = []
    for model in run.models:
        for block in model.metrics.cross_validated or []:
            if isinstance(block, CriterionNote):
                rows.append({"model": model.name, "criterion": block.criterion, "note": block.note})
                continue
            rows.append(
                {
                    "model": model.name,
                    "criterion": block.criterion,
                    "k": block.k,
                    "threshold": f"{_thr(block.threshold_mean)} "
                    f"({_thr(block.threshold_min)} – {_thr(block.threshold_max)})",
                    "note": None,
                    **_point(block.held_out),
                }
            )
    return rows


def concentration(run: SubsetRun) -> dict[str, Any] | None:
    c = run.identity_concentration
    if c is None or c.largest_share is None:
        return None
    return {
        "people": c.people,
        "largest": c.largest_identity,
        "share": pct(c.largest_share, 1),
        "effective": MISSING if c.effective_identities is None else f"{c.effective_identities:.1f}",
        "warning": c.warning,
    }


def reject_rule(accept_rule: str) -> str:
    """'similarity ≥ 0.4' -> 'similarity < 0.4': the rule a false reject broke."""
    return accept_rule.replace("≥", "<").replace("≤", ">").replace(">=", "<").replace("<=", ">")
