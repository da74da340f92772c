"""How far a score read as a probability can be trusted: Cllr, minCllr, Brier, ECE, reliability.

Definitions (bob.measure's for the two log-likelihood-ratio costs, natural-log LLRs):

- ``Cllr = ½ [mean over genuine pairs of log2(1 + e^-llr) + mean over impostor pairs of
  log2(1 + e^llr)]``: the cost of using the LLRs as they are, in bits; 0 is perfect, 1 is
  a system that always says "LR = 1".
- ``minCllr``: the Cllr of the best LLRs any monotone map of the scores could give. The pairs
  are sorted by score (at equal scores impostors first, as bob.measure's merge puts them),
  the pool-adjacent-violators algorithm turns the 0/1 labels into posteriors ``p``, and the
  optimal LLRs are ``logit(p) - log(P / N)`` (P genuine, N impostor pairs): the posterior
  log-odds less the set's own prior log-odds. ``Cllr - minCllr`` is the calibration loss.
- Brier score: the mean of ``(p - y)^2`` for the probability ``p`` at a stated prior.
- ECE (expected calibration error): 10 **equal-width** probability bins on [0, 1]; the
  pair-weighted mean over bins of ``|mean probability - observed genuine rate|``.

Weights: every function takes optional pair weights, so the identity bootstrap (a person
drawn c times counts c times; a pair weighs ``c_a * c_b``, as in ``metrics.uncertainty``)
is the same function on reweighted pairs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.person_weights import stratified_draws
from face_bench.metrics.uncertainty import ConfidenceInterval

N_BINS = 10
_LN2 = math.log(2.0)


def _arrays(
    values: Any, labels: Any, weights: Any | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not x.size == y.size == w.size:
        raise ValueError("values, labels and weights differ in length")
    keep = w > 0
    return x[keep], y[keep], w[keep]


def _class_weights(y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    genuine, impostor = float(w[y].sum()), float(w[~y].sum())
    if genuine <= 0 or impostor <= 0:
        raise MetricError("calibration needs both genuine and impostor pairs")
    return genuine, impostor


def _log2_one_plus_exp(x: np.ndarray) -> np.ndarray:
    """log2(1 + e^x) without overflow."""
    out: np.ndarray = np.logaddexp(0.0, x) / _LN2
    return out


def cllr(llr: Any, labels: Any, weights: Any | None = None) -> float:
    """bob.measure's Cllr of natural-log likelihood ratios, in bits."""
    x, y, w = _arrays(llr, labels, weights)
    genuine, impostor = _class_weights(y, w)
    cost_gen = float((w[y] * _log2_one_plus_exp(-x[y])).sum()) / genuine
    cost_imp = float((w[~y] * _log2_one_plus_exp(x[~y])).sum()) / impostor
    return 0.5 * (cost_gen + cost_imp)


def optimal_llr(scores: Any, labels: Any, weights: Any | None = None) -> tuple[np.ndarray, ...]:
    """(LLRs, labels, weights) after PAV on the scores, in score order (ties: impostors first)."""
    from sklearn.isotonic import isotonic_regression

    x, y, w = _arrays(scores, labels, weights)
    genuine, impostor = _class_weights(y, w)
    order = np.lexsort((y, x))  # by score, then label: impostor (False) before genuine
    y_sorted, w_sorted = y[order], w[order]
    posterior = isotonic_regression(y_sorted.astype(np.float64), sample_weight=w_sorted)
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - math.log(genuine / impostor)
    return llr, y_sorted, w_sorted


def min_cllr(scores: Any, labels: Any, weights: Any | None = None) -> float:
    """bob.measure's minCllr: the Cllr of the PAV-optimal LLRs of these scores."""
    llr, y, w = optimal_llr(scores, labels, weights)
    return cllr(llr, y, w)


def brier(probability: Any, labels: Any, weights: Any | None = None) -> float:
    """Weighted mean squared difference between the probability and the 0/1 label."""
    p, y, w = _arrays(probability, labels, weights)
    _class_weights(y, w)
    return float((w * (p - y) ** 2).sum() / w.sum())


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width probability bin: what the map said there and what was observed."""

    lower: float
    upper: float
    n_pairs: int
    n_genuine: int
    mean_probability: float | None
    observed_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    index: np.ndarray = np.clip((p * n_bins).astype(np.int64), 0, n_bins - 1)
    return index


def _binned(
    p: np.ndarray, y: np.ndarray, w: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin: total weight, weighted probability sum, weighted genuine count."""
    index = _bin_index(p, n_bins)
    weight = np.bincount(index, weights=w, minlength=n_bins)
    prob = np.bincount(index, weights=w * p, minlength=n_bins)
    genuine = np.bincount(index, weights=w * y, minlength=n_bins)
    return weight, prob, genuine


def ece(probability: Any, labels: Any, weights: Any | None = None, n_bins: int = N_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins (pair-weighted)."""
    p, y, w = _arrays(probability, labels, weights)
    _class_weights(y, w)
    weight, prob, genuine = _binned(p, y, w, n_bins)
    used = weight > 0
    gaps = np.abs(prob[used] - genuine[used]) / weight[used]
    return float((weight[used] * gaps).sum() / weight.sum())


def reliability(probability: Any, labels: Any, n_bins: int = N_BINS) -> list[ReliabilityBin]:
    """The reliability diagram's table: every bin with its pair and genuine counts."""
    p, y, w = _arrays(probability, labels, None)
    weight, prob, genuine = _binned(p, y, w, n_bins)
    out = []
    for b in range(n_bins):
        n = round(float(weight[b]))
        out.append(
            ReliabilityBin(
                lower=b / n_bins,
                upper=(b + 1) / n_bins,
                n_pairs=n,
                n_genuine=round(float(genuine[b])),
                mean_probability=float(prob[b] / weight[b]) if n else None,
                observed_rate=float(genuine[b] / weight[b]) if n else None,
            )
        )
    return out


@dataclass(frozen=True)
class CalibrationQuality:
    """Every measure of one set of pairs under one map, with identity-bootstrap intervals."""

    n_genuine: int
    n_impostor: int
    n_people: int
    prior: float
    mean_probability: float
    observed_rate: float
    cllr: ConfidenceInterval
    min_cllr: ConfidenceInterval
    brier: ConfidenceInterval
    ece: ConfidenceInterval
    bins: tuple[ReliabilityBin, ...]

    @property
    def gap(self) -> float:
        """Mean probability given minus the observed same-person rate (+ = overconfident)."""
        return self.mean_probability - self.observed_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "n_people": self.n_people,
            "prior": self.prior,
            "mean_probability": self.mean_probability,
            "observed_rate": self.observed_rate,
            "gap": self.gap,
            "cllr": self.cllr.to_dict(),
            "min_cllr": self.min_cllr.to_dict(),
            "brier": self.brier.to_dict(),
            "ece": self.ece.to_dict(),
            "ece_bins": f"{N_BINS} equal-width",
            "reliability": [b.to_dict() for b in self.bins],
        }


_MEASURES = ("cllr", "min_cllr", "brier", "ece")


def _measures(
    scores: np.ndarray, llr: np.ndarray, p: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> dict[str, float]:
    return {
        "cllr": cllr(llr, y, w),
        "min_cllr": min_cllr(scores, y, w),
        "brier": brier(p, y, w),
        "ece": ece(p, y, w),
    }


def _same_share(w: np.ndarray, y: np.ndarray, odds: float) -> np.ndarray:
    """Rescale the genuine weights so the classes keep the data's genuine:impostor ratio.

    A genuine pair weighs c^2 and an impostor pair c_a * c_b, so an unscaled replicate
    has about twice the genuine share of the data; Brier and ECE depend on that share, so
    each replicate keeps the data's own and varies only in who is drawn.
    """
    genuine, impostor = float(w[y].sum()), float(w[~y].sum())
    if genuine <= 0 or impostor <= 0:
        return w  # the measure is undefined for this draw; counted as invalid
    out = w.copy()
    out[y] *= odds * impostor / genuine
    return out


def _replicates(
    scores: np.ndarray,
    llr: np.ndarray,
    p: np.ndarray,
    y: np.ndarray,
    people: tuple[np.ndarray, np.ndarray, int],
    n_boot: int,
    seed: int,
) -> tuple[dict[str, list[float]], int]:
    """Each measure under ``n_boot`` identity-bootstrap draws (pair weight c_a * c_b)."""
    code_a, code_b, n_people = people
    copies = stratified_draws(np.zeros(n_people), n_boot, seed)
    out: dict[str, list[float]] = {m: [] for m in _MEASURES}
    invalid = 0
    n_gen, n_imp = float(y.sum()), float((~y).sum())
    for row in copies:
        w = _same_share(row[code_a] * row[code_b], y, n_gen / n_imp)
        try:
            values = _measures(scores, llr, p, y, w)
        except MetricError:
            invalid += 1
            continue
        for name, value in values.items():
            out[name].append(value)
    return out, invalid


def _interval(
    estimate: float, reps: list[float], n_boot: int, seed: int, confidence: float, invalid: int
) -> ConfidenceInterval:
    if not reps:
        return ConfidenceInterval(estimate, None, None, n_boot, seed, confidence, invalid)
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(np.asarray(reps), [alpha, 1.0 - alpha])
    return ConfidenceInterval(
        estimate, float(lower), float(upper), n_boot, seed, confidence, invalid
    )


def calibration_quality(
    scores: Any,
    labels: Any,
    llr: Any,
    probability: Any,
    ids: tuple[Any, Any],
    prior: float,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> CalibrationQuality:
    """All measures on these pairs, resampling people (``ids``: each pair's two identities)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    x = np.asarray(llr, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    people, codes = np.unique(
        np.concatenate([np.asarray(ids[0]), np.asarray(ids[1])]), return_inverse=True
    )
    code_a, code_b = codes[: s.size], codes[s.size :]
    estimates = _measures(s, x, p, y, None)
    reps, invalid = (
        _replicates(s, x, p, y, (code_a, code_b, people.size), n_boot, seed)
        if n_boot > 0
        else ({m: [] for m in _MEASURES}, 0)
    )
    ci = {m: _interval(estimates[m], reps[m], n_boot, seed, confidence, invalid) for m in _MEASURES}
    return CalibrationQuality(
        n_genuine=int(y.sum()),
        n_impostor=int((~y).sum()),
        n_people=int(people.size),
        prior=prior,
        mean_probability=float(p.mean()),
        observed_rate=float(y.mean()),
        cllr=ci["cllr"],
        min_cllr=ci["min_cllr"],
        brier=ci["brier"],
        ece=ci["ece"],
        bins=tuple(reliability(p, y)),
    )
