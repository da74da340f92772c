"""Page sections that qualify the headline: subset differentials (ratios first, matched
impostors beside the raw ones, FDR second), transferred and cross-validated thresholds,
zero-error points and identity concentration.

They read results.json-shaped data only and return plain dicts for the template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from face_bench.report.text import MISSING, pct, rate_with_counts, ratio

PREVALENCE_DEPENDENT_KEYS = frozenset({"f1_at_default", "best_f1"})
"""Page rows whose figures move with the genuine/impostor mix: never marked ▲."""

FDR_DEFINITION = (
    "FDR = 1 − (α·max|ΔFMR| + (1 − α)·max|ΔFNMR|) with α = 0.5: the largest gaps between "
    "subsets in absolute rates. Small absolute gaps give an FDR near 1 even when one subset's "
    "FMR is many times another's, so read the ratios first."
)


def _thr(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4g}"


def add_zero_rows(run, add: Callable[[str, str, list], None]) -> None:
    """ZeroFMR / ZeroFNMR rows (pyeer) for the per-subset metrics table."""
    for key, label, field, rate in (
        ("zero_fmr", "ZeroFMR (FNMR where no impostor is accepted)", "zero_fmr", "fnmr"),
        ("zero_fnmr", "ZeroFNMR (FMR where no genuine pair is rejected)", "zero_fnmr", "fmr"),
    ):
        cells = []
        for m in run.models:
            block = m.metrics.get(field) or {}
            value = block.get(rate)
            cells.append((value, pct(value), f"at {_thr(block.get('threshold'))}"))
        add(key, label, cells)


def differentials(diff: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per model: each subset's FMR/FNMR with counts and ratios, matched-impostor FMR."""
    if not diff:
        return []
    out = []
    for model, data in (diff.get("models") or {}).items():
        rows = []
        for row in data.get("subsets", []):
            rows.append(
                {
                    "subset": row.get("subset", ""),
                    "fmr": rate_with_counts(
                        row.get("fmr"), row.get("fmr_errors"), row.get("n_impostor"), 3
                    ),
                    "fmr_ratio": ratio(row.get("fmr_ratio"), row.get("fmr")),
                    "matched_fmr": rate_with_counts(
                        row.get("matched_fmr"),
                        row.get("matched_fmr_errors"),
                        row.get("matched_n_impostor"),
                        3,
                    )
                    if "matched_fmr" in row
                    else None,
                    "matched_ratio": ratio(row.get("matched_fmr_ratio"), row.get("matched_fmr"))
                    if "matched_fmr" in row
                    else None,
                    "fnmr": rate_with_counts(
                        row.get("fnmr"), row.get("fnmr_errors"), row.get("n_genuine"), 3
                    ),
                    "fnmr_ratio": ratio(row.get("fnmr_ratio"), row.get("fnmr")),
                }
            )
        out.append(
            {
                "model": model,
                "threshold": _thr(data.get("threshold")),
                "units": data.get("units", ""),
                "rule": data.get("threshold_rule", ""),
                "fdr": MISSING if data.get("fdr") is None else f"{data['fdr']:.4f}",
                "note": data.get("note"),
                "matched": any(r["matched_fmr"] is not None for r in rows),
                "rows": rows,
            }
        )
    return out


def _point(block: dict[str, Any]) -> dict[str, str]:
    return {
        "fmr": rate_with_counts(block.get("fmr"), block.get("fmr_errors"), block.get("n_impostor")),
        "fnmr": rate_with_counts(
            block.get("fnmr"), block.get("fnmr_errors"), block.get("n_genuine")
        ),
    }


def transfers(results) -> list[dict[str, Any]]:
    """--threshold-from: a row per model, criterion and subset."""
    rows = []
    for subset in results.subsets:
        for model in subset.models:
            for block in model.metrics.get("threshold_transfer") or []:
                rows.append(
                    {
                        "model": model.name,
                        "criterion": block.get("criterion", ""),
                        "source": block.get("from", ""),
                        "subset": subset.name,
                        "threshold": _thr(block.get("threshold")),
                        "note": block.get("note"),
                        **_point(block),
                    }
                )
    rows.sort(key=lambda r: (r["model"], r["criterion"]))
    return rows


def cross_validated(run) -> list[dict[str, Any]]:
    """Thresholds chosen on identity-disjoint folds, with their held-out rates."""
    rows = []
    for model in run.models:
        for block in model.metrics.get("cross_validated") or []:
            if block.get("note"):
                rows.append(
                    {"model": model.name, "criterion": block["criterion"], "note": block["note"]}
                )
                continue
            held = block.get("held_out") or {}
            rows.append(
                {
                    "model": model.name,
                    "criterion": block["criterion"],
                    "k": block.get("k"),
                    "threshold": f"{_thr(block.get('threshold_mean'))} "
                    f"({_thr(block.get('threshold_min'))} – {_thr(block.get('threshold_max'))})",
                    "note": None,
                    **_point(held),
                }
            )
    return rows


def concentration(run) -> dict[str, Any] | None:
    c = run.identity_concentration
    if not c or c.get("largest_share") is None:
        return None
    return {
        "people": c.get("people"),
        "largest": c.get("largest_identity"),
        "share": pct(c.get("largest_share"), 1),
        "effective": f"{c['effective_identities']:.1f}",
        "warning": c.get("warning"),
    }


def reject_rule(accept_rule: str) -> str:
    """'similarity ≥ 0.4' -> 'similarity < 0.4': the rule a false reject broke."""
    return accept_rule.replace("≥", "<").replace("≤", ">").replace(">=", "<").replace("<=", ">")
