"""Figures that need no curve: rates at one threshold, score moments and d', FTA."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.confusion import _CHUNK, check_scores, check_two_classes

# ---------------------------------------------------------------- single threshold


@dataclass(frozen=True)
class Rates:
    """All rates at one threshold. Undefined rates (a class absent) are NaN; with nothing
    accepted precision is 1.0, scikit-learn's convention for the curve's end point."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    fmr: float
    fnmr: float


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def rates_at_threshold(scores: Any, labels: Any, threshold: float) -> Rates:
    s, y = check_scores(scores, labels)
    accepted = s >= np.float64(threshold)  # compare in float64, not in the scores' float32
    tp = int(np.count_nonzero(accepted & y))
    fp = int(np.count_nonzero(accepted)) - tp
    n_pos = int(np.count_nonzero(y))
    n_neg = s.size - n_pos
    fn, tn = n_pos - tp, n_neg - fp
    return Rates(
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=_ratio(tp, n_pos),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        accuracy=(tp + tn) / s.size,
        fmr=_ratio(fp, n_neg),
        fnmr=_ratio(fn, n_pos),
    )


# ---------------------------------------------------------------- distributions, FTA


@dataclass(frozen=True)
class ScoreStats:
    """Population (ddof=0) moments; d' is inf when both spreads are 0 and the means differ."""

    genuine_mean: float
    genuine_std: float
    impostor_mean: float
    impostor_std: float
    d_prime: float
    n_genuine: int
    n_impostor: int


def _moments(s: np.ndarray, mask: np.ndarray) -> tuple[int, float, float]:
    """Chunked (count, mean, M2) merged with Chan's formula: no float64 copy of 84M scores."""
    n, mean, m2 = 0, 0.0, 0.0
    for start in range(0, s.size, _CHUNK):
        x = s[start : start + _CHUNK][mask[start : start + _CHUNK]].astype(np.float64)
        if x.size == 0:
            continue
        cm = float(x.mean())
        cm2 = float(np.dot(x - cm, x - cm))
        tot = n + x.size
        delta = cm - mean
        mean += delta * x.size / tot
        m2 += cm2 + delta * delta * n * x.size / tot
        n = tot
    return n, mean, m2


def score_stats(scores: Any, labels: Any) -> ScoreStats:
    s, y, _, _ = check_two_classes(scores, labels, "d'")
    return _score_stats(s, y)


def _score_stats(s: np.ndarray, y: np.ndarray) -> ScoreStats:
    ng, mg, m2g = _moments(s, y)
    ni, mi, m2i = _moments(s, ~y)
    sg, si = math.sqrt(m2g / ng), math.sqrt(m2i / ni)
    spread = math.sqrt((sg * sg + si * si) / 2)
    dp = abs(mg - mi) / spread if spread > 0 else (math.inf if mg != mi else 0.0)
    return ScoreStats(mg, sg, mi, si, dp, ng, ni)


def d_prime(scores: Any, labels: Any) -> float:
    """d' = |mu_g - mu_i| / sqrt((sigma_g^2 + sigma_i^2) / 2)."""
    return score_stats(scores, labels).d_prime


def fta_adjust(fmr: Any, fnmr: Any, fta: Any) -> tuple[Any, Any]:
    """(FAR, FRR) counting failures to acquire as errors (bob.measure convention).

    A pair whose face could not be acquired can be neither falsely accepted nor correctly
    accepted: FAR = FMR*(1-FTA), FRR = FTA + FNMR*(1-FTA). Broadcasts like numpy.
    """
    fta = np.asarray(fta, dtype=np.float64)
    if np.any((fta < 0) | (fta > 1)):
        raise MetricError("failure-to-acquire rate must lie in [0, 1]")
    return np.asarray(fmr) * (1 - fta), fta + np.asarray(fnmr) * (1 - fta)
