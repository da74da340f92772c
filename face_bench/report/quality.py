"""The data-quality section of the report and the terminal: rows built from ``data_quality``.

One builder for both views, so the page and the terminal say the same things: confound
warnings with the mixes behind them, near-duplicate counts, the suspects every model agrees
on with each model's evidence, and the differentials again per stratum and without suspects.
"""

from __future__ import annotations

from typing import Any

from face_bench.report import differentials_view
from face_bench.report.text import MISSING
from face_bench.results.quality import DataQuality, SuspectImage

SHOWN_PAIRS = 50
SHOWN_SUSPECTS = 50


def _num(value: float | None, digits: int = 3) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _confounds(dq: DataQuality) -> list[dict[str, Any]]:
    rows = []
    for c in dq.confounds:
        if c.kind == "categorical":
            per_subset = [
                f"{g}: " + ", ".join(f"{v} {n}" for v, n in values.items() if n)
                for g, values in c.counts.items()
            ]
            lines = [
                f"{g}: {v} {n}" for g, values in c.counts.items() for v, n in values.items() if n
            ]
        else:
            per_subset = [
                f"{g}: " + " / ".join(f"{x:g}" for x in q) for g, q in c.five_numbers.items()
            ]
            lines = per_subset
        measure = "Cramér's V" if c.measure == "cramers_v" else "KS distance"
        rows.append(
            {
                "column": c.column,
                "measure": measure,
                "strength": _num(c.strength, 2),
                "warning_at": f"{c.warning_at:g}",
                "warn": c.warn,
                "mix": "; ".join(per_subset),
                "lines": lines,  # short enough for a terminal cell each
            }
        )
    return rows


def _evidence(suspect: SuspectImage) -> list[dict[str, Any]]:
    return [
        {
            "model": e.model,
            "median_same": _num(e.median_same),
            "threshold": _num(e.threshold),
            "n_same": e.n_same,
            "nearest": f"{e.nearest_other_identity} ({_num(e.nearest_other)}, "
            f"{e.nearest_other_image})"
            if e.nearest_other_identity is not None
            else MISSING,
            "flagged": e.flagged,
        }
        for e in suspect.evidence
    ]


def _suspects(dq: DataQuality) -> dict[str, Any] | None:
    found = dq.suspects
    if found is None:
        return None
    agreed = [s for s in found.images if s.agreed]
    return {
        "rule": found.rule,
        "flagged": ", ".join(f"{m} {n}" for m, n in found.flagged.items()),
        "agreed": found.agreed,
        "note": found.note,
        "rows": [
            {
                "subset": s.subset,
                "image": s.image,
                "identity": s.identity,
                "evidence": _evidence(s),
            }
            for s in agreed[:SHOWN_SUSPECTS]
        ],
        "more": max(0, len(agreed) - SHOWN_SUSPECTS),
    }


def _near(dq: DataQuality) -> dict[str, Any] | None:
    near = dq.near_duplicates
    if near is None:
        return None
    return {
        "policy": near.policy,
        "rule": near.rule,
        "n_genuine": near.n_genuine,
        "n_impostor": near.n_impostor,
        "excluded": near.excluded_pairs,
        "pairs": [
            {
                "subset": p.subset,
                "a": p.image_a,
                "b": p.image_b,
                "identities": p.identity_a
                if p.identity_a == p.identity_b
                else f"{p.identity_a} / {p.identity_b}",
                "distance": p.hash_distance,
                "correlation": f"{p.correlation:.3f}",
            }
            for p in near.pairs[:SHOWN_PAIRS]
        ],
        "more": max(0, len(near.pairs) - SHOWN_PAIRS),
    }


def quality_context(dq: DataQuality | None) -> dict[str, Any] | None:
    """Everything the page's and the terminal's data-quality sections show (None: no block)."""
    if dq is None:
        return None
    return {
        "warnings": dq.warnings,
        "confounds": _confounds(dq),
        "near": _near(dq),
        "suspects": _suspects(dq),
        "exclude_suspects": dq.exclude_suspects,
        "without_suspects": differentials_view.views(dq.without_suspects),
        "stratify_by": dq.stratify_by,
        "strata": [
            {
                "value": s.value,
                "note": s.note,
                "differentials": differentials_view.views(s.differentials),
            }
            for s in dq.strata
        ],
    }
