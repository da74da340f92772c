"""The differentials as text, for the terminal and the page alike.

Every rate is shown with its counts and interval ("0.0138 (62/4,497) [0.0061, 0.024]"), a
zero count as its rule-of-three bound ("0 (0/42,982) ≤ 7e-05"), every ratio with its
interval or as a lower bound ("≥ 48×"), never as infinity, and with the range it takes when any
one person is left out. Reads the typed results only; returns plain dicts.
"""

from __future__ import annotations

from typing import Any

from face_bench.report.text import MISSING
from face_bench.results.differentials import Differentials, ModelDifferentials, Rate, Ratio

SIGNIFICANCE_RULE = (
    "A difference is called significant only when its identity-bootstrap 95% interval "
    "excludes 0 (people resampled within their group; pairs that share a person are not "
    "independent)"
)


def num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return MISSING
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def rate_text(r: Rate) -> str:
    """'0.0138 (62/4,497) [0.0061, 0.024]', '0 (0/42,982) ≤ 7e-05' or 'withheld (3/210)'."""
    counts = f"({r.errors:,}/{r.n:,})"
    if r.rate is None:
        return f"{MISSING} {counts}" if r.method != "withheld" else f"withheld {counts}"
    if r.errors == 0:
        return f"0 {counts} ≤ {num(r.upper, 2)}"
    if r.lower is None or r.upper is None:
        return f"{num(r.rate)} {counts}"
    return f"{num(r.rate)} {counts} [{num(r.lower, 2)}, {num(r.upper, 2)}]"


def ratio_text(r: Ratio | None) -> str:
    """'13.8× [4.1, 45]', '≥ 48×', '13.8× [4.1, no bound]' or '—'."""
    if r is None:
        return MISSING
    if r.estimate is None:
        return f"≥ {num(r.lower_bound)}×" if r.lower_bound is not None else MISSING
    if r.lower is None and not r.upper_unbounded:
        return f"{num(r.estimate)}×"
    upper = "no bound" if r.upper_unbounded else num(r.upper, 2)
    return f"{num(r.estimate)}× [{num(r.lower, 2)}, {upper}]"


def loo_text(r: Ratio | None) -> str:
    """The leave-one-person-out range: 'LOO 6.2× (−A) – 20×(−B)'."""
    if r is None or (r.loo_min is None and r.loo_unbounded_without is None):
        return ""
    if r.estimate == 0 and r.loo_max == 0:
        return ""  # no error in the group: nobody's absence changes that
    if r.loo_unbounded_without is not None:
        high = f"no bound without {r.loo_unbounded_without}"
    else:
        high = f"{num(r.loo_max)}× without {r.loo_max_without}"
    low = f"{num(r.loo_min)}× without {r.loo_min_without}" if r.loo_min is not None else MISSING
    return f"one person out: {low} … {high}"


def test_text(r: Ratio | None) -> str:
    """The identity-level test of the rate difference, with what it assumes."""
    if r is None or r.difference is None:
        return ""
    if r.difference_lower is None or r.difference_upper is None or r.p_value is None:
        return f"Δ {r.difference:+.3g}"
    verdict = (
        "significant" if r.difference_lower > 0 or r.difference_upper < 0 else "not significant"
    )
    return (
        f"Δ {r.difference:+.3g} [{r.difference_lower:+.2g}, {r.difference_upper:+.2g}], "
        f"p = {r.p_value:.2g} (identity bootstrap): {verdict}"
    )


def model_view(name: str, block: ModelDifferentials, diff: Differentials) -> dict[str, Any]:
    rows = []
    for g in block.groups:
        rows.append(
            {
                "group": g.group + (" (reference)" if g.group == diff.reference else ""),
                "people": str(g.n_people),
                "fmr": rate_text(g.fmr),
                "fmr_ratio": ratio_text(g.fmr_ratio),
                "fmr_loo": loo_text(g.fmr_ratio),
                "fmr_test": test_text(g.fmr_ratio),
                "fnmr": rate_text(g.fnmr),
                "fnmr_ratio": ratio_text(g.fnmr_ratio),
                "fnmr_loo": loo_text(g.fnmr_ratio),
                "fnmr_test": test_text(g.fnmr_ratio),
                "status": g.status,
                "notes": [n for n in (_note(g.fmr_ratio), _note(g.fnmr_ratio)) if n],
            }
        )
    return {
        "model": name,
        "threshold": num(block.threshold, 4),
        "units": block.units,
        "rule": diff.threshold_rule,
        "note": block.note,
        "rows": rows,
        "summary": [
            {
                "name": m.name,
                "value": num(m.estimate),
                "interval": f"[{num(m.lower)}, {num(m.upper)}]" if m.lower is not None else "",
                "bounded": ", ".join(m.zero_bounded),
            }
            for m in block.summary
        ],
        "matrix": matrix_view(block, diff.groups),
        "zoo": block.zoo,
        "warnings": block.warnings,
    }


def _note(r: Ratio | None) -> str | None:
    return r.note if r is not None else None


def matrix_view(block: ModelDifferentials, groups: list[str]) -> dict[str, Any]:
    """Rows and columns in group order; a cell's text, or '' where no pair exists."""
    cells = {(c.group_a, c.group_b): c.fmr for c in block.matrix}
    cells |= {(c.group_b, c.group_a): c.fmr for c in block.matrix}
    return {
        "groups": groups,
        "rows": [
            [rate_text(cells[(a, b)]) if (a, b) in cells else "" for b in groups] for a in groups
        ],
    }


def views(diff: Differentials | None) -> list[dict[str, Any]]:
    if diff is None:
        return []
    return [model_view(name, block, diff) for name, block in diff.models.items()]
