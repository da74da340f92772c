"""Subset differentials: does one threshold treat every group alike?

A deployed system has one threshold for everybody, so the rates that matter are each
subset's FMR and FNMR at that single global threshold, not each subset's own EER.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics import summary as metrics

DEFAULT_ALPHA = 0.5
DEFAULT_FAR_TARGET = 1e-3


@dataclass(frozen=True)
class SubsetRates:
    """One subset's error rates at the global threshold.

    A rate is None when the subset has no pairs of that class. A ratio is this subset's rate
    over the lowest rate among subsets; when that lowest rate is 0 the ratio is 1.0 for
    subsets also at 0 and inf for the others (written as None in JSON).
    """

    name: str
    n_genuine: int
    n_impostor: int
    fmr: float | None
    fnmr: float | None
    fmr_ratio: float | None
    fnmr_ratio: float | None


@dataclass(frozen=True)
class FairnessReport:
    """Per-subset rates and the fairness discrepancy rate at one threshold.

    FDR = 1 - (alpha * max|dFMR| + (1 - alpha) * max|dFNMR|), the maxima over all pairs of
    subsets (the spread between the best and worst subset). 1 means all subsets are treated
    alike. A gap is 0 with a single subset and None when no subset defines that rate.
    """

    threshold: float
    threshold_rule: str
    alpha: float
    subsets: tuple[SubsetRates, ...]
    max_fmr_gap: float | None
    max_fnmr_gap: float | None
    fdr: float | None

    def to_dict(self) -> dict[str, Any]:
        j = metrics.json_float
        return {
            "threshold": j(self.threshold),
            "threshold_rule": self.threshold_rule,
            "alpha": self.alpha,
            "max_fmr_gap": j(self.max_fmr_gap),
            "max_fnmr_gap": j(self.max_fnmr_gap),
            "fdr": j(self.fdr),
            "subsets": [
                {
                    "subset": s.name,
                    "n_genuine": s.n_genuine,
                    "n_impostor": s.n_impostor,
                    "fmr": j(s.fmr),
                    "fmr_ratio": j(s.fmr_ratio),
                    "fnmr": j(s.fnmr),
                    "fnmr_ratio": j(s.fnmr_ratio),
                }
                for s in self.subsets
            ],
        }


Subsets = Mapping[str, tuple[Any, Any]]


def global_threshold(subsets: Subsets, far_target: float = DEFAULT_FAR_TARGET) -> float:
    """The threshold with FMR <= far_target on the pooled pairs of all subsets.

    It follows metrics.tar_at_far (the lowest distinct score meeting the target). Subsets
    that share pairs count those pairs once per subset; pass disjoint subsets, or call
    metrics.tar_at_far on the pooled run yourself, when that matters.
    """
    if not subsets:
        raise MetricError("no subsets to pool")
    checked = [metrics.check_scores(s, y) for s, y in subsets.values()]
    scores = np.concatenate([s for s, _ in checked])
    labels = np.concatenate([y for _, y in checked])
    point = metrics.tar_at_far(scores, labels, [far_target])[0]
    if point.threshold is None:  # the threshold needs one allowed false accept, not ten
        n_imp = int(labels.size - np.count_nonzero(labels))
        raise MetricError(
            f"insufficient data: {n_imp} pooled impostor pairs cannot support FMR {far_target:g}"
        )
    return float(point.threshold)


def _ratios(rates: list[float | None]) -> list[float | None]:
    defined = [r for r in rates if r is not None]
    if not defined:
        return [None] * len(rates)
    best = min(defined)
    if best > 0:
        return [None if r is None else r / best for r in rates]
    return [None if r is None else (1.0 if r == 0 else math.inf) for r in rates]


def _gap(rates: list[float | None]) -> float | None:
    defined = [r for r in rates if r is not None]
    return max(defined) - min(defined) if defined else None


def _rate(value: float) -> float | None:
    return None if math.isnan(value) else value


def subset_differentials(
    subsets: Subsets,
    threshold: float,
    alpha: float = DEFAULT_ALPHA,
    threshold_rule: str = "given",
) -> FairnessReport:
    """FMR/FNMR of each subset at ``threshold`` (score units, accept when score >= it)."""
    if not 0 <= alpha <= 1:
        raise MetricError(f"alpha must lie in [0, 1], got {alpha}")
    if not subsets:
        raise MetricError("no subsets to compare")
    names, fmr, fnmr, n_gen, n_imp = [], [], [], [], []
    for name, (scores, labels) in subsets.items():
        try:
            r = metrics.rates_at_threshold(scores, labels, threshold)
        except MetricError as exc:
            raise MetricError(f"subset {name!r}: {exc}") from None
        names.append(name)
        fmr.append(_rate(r.fmr))
        fnmr.append(_rate(r.fnmr))
        n_gen.append(r.tp + r.fn)
        n_imp.append(r.fp + r.tn)
    fmr_gap, fnmr_gap = _gap(fmr), _gap(fnmr)
    fdr = None
    if fmr_gap is not None and fnmr_gap is not None:
        fdr = 1.0 - (alpha * fmr_gap + (1 - alpha) * fnmr_gap)
    rows = tuple(
        SubsetRates(*row)
        for row in zip(names, n_gen, n_imp, fmr, fnmr, _ratios(fmr), _ratios(fnmr), strict=True)
    )
    return FairnessReport(float(threshold), threshold_rule, alpha, rows, fmr_gap, fnmr_gap, fdr)


def differentials_for_model(
    subsets: Subsets,
    threshold: float | None = None,
    far_target: float = DEFAULT_FAR_TARGET,
    alpha: float = DEFAULT_ALPHA,
) -> FairnessReport:
    """Differentials at ``threshold``, or, when it is None, at the pooled-FMR threshold."""
    if threshold is not None:
        return subset_differentials(subsets, threshold, alpha, "given threshold")
    chosen = global_threshold(subsets, far_target)
    rule = f"FMR <= {far_target:g} on the pooled impostors"
    return subset_differentials(subsets, chosen, alpha, rule)
