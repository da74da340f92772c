"""Figures that need no curve: rates at one threshold, score moments and d', FTA."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.confusion import CHUNK, check_scores, check_two_classes

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
    return rates_from_counts(threshold, tp, fp, n_pos, s.size - n_pos)


def rates_from_counts(threshold: float, tp: int, fp: int, n_pos: int, n_neg: int) -> Rates:
    """Every rate from the pairs accepted at ``threshold``: ``tp`` genuine, ``fp`` impostor."""
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
        accuracy=(tp + tn) / (n_pos + n_neg),
        fmr=_ratio(fp, n_neg),
        fnmr=_ratio(fn, n_pos),
    )


def error_rate_interval(errors: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a rate of ``errors`` in ``n`` trials.

    With no errors the rate is a bound, not a point: (0, the one-sided upper bound), which
    at 95% is about 3 / n, the rule of three. Pairs sharing a person make the true spread
    wider; this is the least uncertainty the counts allow.
    """
    from scipy.special import betaincinv  # the beta quantile; scipy.stats is slow to import

    if n <= 0 or not 0 <= errors <= n:
        raise MetricError(f"an error rate needs 0 <= errors <= n and n > 0, got {errors}/{n}")
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must lie in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    if errors == 0:
        return 0.0, 1.0 - alpha ** (1.0 / n)
    lower = float(betaincinv(errors, n - errors + 1, alpha / 2))
    upper = 1.0 if errors == n else float(betaincinv(errors + 1, n - errors, 1 - alpha / 2))
    return lower, upper


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


Moments = tuple[int, float, float]  # (count, mean, M2)
NO_MOMENTS: Moments = (0, 0.0, 0.0)


def chunk_moments(x: np.ndarray, blas: bool = False) -> Moments:
    """(count, mean, M2) of one chunk, in float64; what a remote block task sends back.

    Every path that reports d' (whole arrays, all-pairs blocks on any engine) reduces its
    chunks through this one function and :func:`merge_chunk` (Chan's formula) in pair
    order, so equal chunks give equal bits.

    ``blas=False`` sums the squares with numpy's own pairwise sum, whose order never depends
    on how many threads BLAS may use: all-pairs blocks are reduced on machines with
    different core counts and must still agree to the last bit.
    """
    if x.size == 0:
        return NO_MOMENTS
    d = x.astype(np.float64)  # a copy, worked on in place: one float64 chunk, not three
    cm = float(d.mean())
    d -= cm
    if blas:
        return d.size, cm, float(np.dot(d, d))
    np.square(d, out=d)
    return d.size, cm, float(np.sum(d))


def merge_chunk(acc: Moments, chunk: Moments) -> Moments:
    """Chan's update of the running moments by one chunk's (count, mean, M2)."""
    size, cm, cm2 = chunk
    if size == 0:
        return acc
    n, mean, m2 = acc
    tot = n + size
    delta = cm - mean
    mean += delta * size / tot
    m2 += cm2 + delta * delta * n * size / tot
    return tot, mean, m2


def _moments(
    s: np.ndarray,
    y: np.ndarray,
    bounds: Sequence[tuple[int, int]] | None = None,
    genuine: bool = True,
) -> Moments:
    """Chunked moments of the genuine (or impostor) scores: no float64 copy of 84M scores,
    no full-size mask. ``bounds`` overrides the chunking."""
    blas = bounds is None  # all-pairs blocks: thread-independent sums, as every engine
    if bounds is None:
        bounds = [(start, start + CHUNK) for start in range(0, s.size, CHUNK)]
    acc = NO_MOMENTS
    for start, end in bounds:
        mask = y[start:end] if genuine else ~y[start:end]
        acc = merge_chunk(acc, chunk_moments(s[start:end][mask], blas=blas))
    return acc


def score_stats(scores: Any, labels: Any) -> ScoreStats:
    s, y, _, _ = check_two_classes(scores, labels, "d'")
    return score_stats_checked(s, y)


def score_stats_checked(
    s: np.ndarray, y: np.ndarray, bounds: Sequence[tuple[int, int]] | None = None
) -> ScoreStats:
    return stats_from_moments(_moments(s, y, bounds), _moments(s, y, bounds, genuine=False))


def stats_from_moments(
    genuine: tuple[int, float, float], impostor: tuple[int, float, float]
) -> ScoreStats:
    """Means, standard deviations and d' from (count, mean, M2) of each class."""
    ng, mg, m2g = genuine
    ni, mi, m2i = impostor
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
