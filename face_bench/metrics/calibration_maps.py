"""Score -> P(same person) maps (Platt and isotonic), fitted with scikit-learn, and their
identity-disjoint cross-fitting.

A map is fitted on labelled pairs whose genuine fraction is the *fitting prior* ``π``. It is
kept in its prior-free form, the natural-log likelihood ratio ``llr(s) = logit(P_fit(s)) -
logit(π)``; the probability at any prior ``q`` is then ``sigmoid(llr(s) + logit(q))``. With
``q = π`` that is the map's own output.

- Platt: ``P_fit(s) = sigmoid(slope * s + intercept)``, an unpenalised logistic regression of
  the label on the score.
- Isotonic: a non-decreasing step-wise linear function through ``thresholds``/``values``
  (scikit-learn's ``IsotonicRegression``, clipped outside the fitted range); its values are
  kept within ``[ISOTONIC_CLIP, 1 - ISOTONIC_CLIP]`` so no pair gets an infinite LLR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.transfer import fold_splits

Method = Literal["platt", "isotonic"]
ISOTONIC_CLIP = 1e-4


def logit(p: Any) -> np.ndarray:
    q = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out: np.ndarray = np.log(q) - np.log1p(-q)
    return out


def sigmoid(x: Any) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -v))
    return out


@dataclass(frozen=True)
class CalibrationMap:
    """One fitted map; ``prior`` is the genuine fraction of the pairs it was fitted on."""

    method: Method
    prior: float
    slope: float = math.nan
    intercept: float = math.nan
    thresholds: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def fitted_probability(self, scores: Any) -> np.ndarray:
        """P(same person) at the fitting prior."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            return sigmoid(self.slope * s + self.intercept)
        out: np.ndarray = np.interp(s, self.thresholds, self.values)
        return out

    def llr(self, scores: Any) -> np.ndarray:
        """Natural-log likelihood ratio of same vs different person: prior-free."""
        return logit(self.fitted_probability(scores)) - float(logit(self.prior))

    def probability(self, scores: Any, prior: float | None = None) -> np.ndarray:
        """P(same person) at ``prior`` (default: the fitting prior)."""
        q = self.prior if prior is None else prior
        return sigmoid(self.llr(scores) + float(logit(q)))

    def parameters(self) -> dict[str, Any]:
        if self.method == "platt":
            return {"slope": self.slope, "intercept": self.intercept}
        return {
            "thresholds": list(self.thresholds),
            "values": list(self.values),
            "clip": ISOTONIC_CLIP,
        }

    @classmethod
    def from_parameters(
        cls, method: Method, prior: float, params: dict[str, Any]
    ) -> CalibrationMap:
        if method == "platt":
            return cls(
                method, prior, slope=float(params["slope"]), intercept=float(params["intercept"])
            )
        return cls(
            method,
            prior,
            thresholds=tuple(float(t) for t in params["thresholds"]),
            values=tuple(float(v) for v in params["values"]),
        )


def fit_map(scores: Any, labels: Any, method: Method) -> CalibrationMap:
    """Fit ``method`` on these pairs (higher score = same person)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_gen = int(y.sum())
    if n_gen == 0 or n_gen == y.size:
        raise MetricError("a calibration map needs both genuine and impostor pairs to fit")
    prior = n_gen / y.size
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=np.inf).fit(s[:, None], y)
        return CalibrationMap(
            "platt", prior, slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0])
        )
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(
        y_min=ISOTONIC_CLIP, y_max=1.0 - ISOTONIC_CLIP, out_of_bounds="clip"
    ).fit(s, y.astype(np.float64))
    return CalibrationMap(
        "isotonic",
        prior,
        thresholds=tuple(float(t) for t in iso.X_thresholds_),
        values=tuple(float(v) for v in iso.y_thresholds_),
    )


@dataclass(frozen=True)
class CrossFitted:
    """Held-out LLRs: each pair scored by the map fitted without any of its people.

    ``held_out`` marks the pairs within one fold (both people in it); pairs between
    people of different folds are never scored here, as in ``metrics.transfer``.
    """

    llr: np.ndarray
    held_out: np.ndarray
    k: int
    folds_used: int


def cross_fit(
    scores: Any, labels: Any, id_a: Any, id_b: Any, method: Method, k: int = 5, seed: int = 0
) -> CrossFitted:
    """Fit on the other folds' people, apply to this fold's own pairs, for every fold."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    llr = np.full(s.size, np.nan)
    held = np.zeros(s.size, dtype=bool)
    used = 0
    for _fold, train, test in fold_splits(id_a, id_b, k, seed):
        try:
            fitted = fit_map(s[train], y[train], method)
        except MetricError:
            continue  # the other folds lack a class: this fold stays unscored
        llr[test] = fitted.llr(s[test])
        held |= test
        used += 1
    if not held.any():
        raise MetricError(f"no identity fold could fit a {method} map")
    return CrossFitted(llr, held, k, used)
