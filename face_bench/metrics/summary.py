"""Verification metrics: pure functions on score arrays.

Conventions: ``scores`` are oriented so that higher means "same person" (callers negate
distances); ``labels`` are True for genuine (same-person) pairs; a pair is accepted when
``score >= threshold``.

One primitive, :func:`confusion_counts`, gives the confusion counts at every distinct score;
ROC, DET, precision-recall and the threshold sweep are views of it. All-pairs runs have
few genuine pairs, so the "search" path sorts only the genuine scores and places the
impostors with ``np.searchsorted``: that yields the exact ROC corners, so AUC, EER and best
F1 equal the full-sort results bit for bit, without sorting tens of millions of scores.

AUC is exact: the trapezoidal integral of the full (unthinned) ROC starting at (0, 0), which
equals the Mann-Whitney statistic with ties counted half, i.e. ``roc_auc_score``. It is
summed in integers and rounded once, so both paths agree exactly.

This module holds those exact figures and re-exports the rest, so callers import one name:
face_bench.metrics.confusion (input checks, the primitive, curves) and face_bench.metrics.rates (one
threshold, d', FTA). Pair scoring from embeddings is in face_bench.metrics.scoring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics import weighted
from face_bench.metrics.catalog import MIN_SUPPORT_ERRORS
from face_bench.metrics.confusion import (
    CHUNK,
    ConfusionCounts,
    DetCurve,
    Method,
    PrecisionRecallCurve,
    RocCurve,
    ThresholdSweep,
    check_scores,
    check_two_classes,
    confusion_counts,
    counts_sorted,
    det_curve,
    precision_recall_curve,
    probit,
    roc_curve,
    threshold_sweep,
    use_search,
)
from face_bench.metrics.rates import (
    Rates,
    ScoreStats,
    d_prime,
    fta_adjust,
    rates_at_threshold,
    score_stats,
    score_stats_checked,
)

__all__ = [
    "DEFAULT_FAR_TARGETS",
    "MIN_SUPPORT_ERRORS",
    "ConfusionCounts",
    "DetCurve",
    "EerPoint",
    "F1Point",
    "Method",
    "MetricError",
    "PrecisionRecallCurve",
    "Rates",
    "RocCurve",
    "ScoreStats",
    "TarAtFar",
    "ThresholdSweep",
    "VerificationSummary",
    "best_f1",
    "check_scores",
    "check_two_classes",
    "compute_all",
    "confusion_counts",
    "d_prime",
    "det_curve",
    "equal_error_rate",
    "fta_adjust",
    "json_float",
    "precision_recall_curve",
    "probit",
    "rates_at_threshold",
    "roc_auc",
    "roc_curve",
    "roc_points",
    "score_stats",
    "support_verdict",
    "sweep_at_genuine_scores",
    "tar_at_far",
    "threshold_sweep",
]

DEFAULT_FAR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)


def json_float(x: float | None) -> float | None:
    """JSON has no inf/NaN: those become None."""
    return None if x is None or not math.isfinite(x) else float(x)


# ---------------------------------------------------------------- the search path


@dataclass(frozen=True)
class Corners:
    """Exact ROC corners at the distinct genuine scores (descending).

    Between two genuine scores only impostors enter, so the full ROC is the polyline
    start, B_0, A_0, B_1, A_1, ... with A_k = (fp_ge[k], tp[k]) and B_k = (fp_gt[k],
    tp[k-1]); the points it skips are collinear and change neither AUC nor EER.
    """

    thresholds: np.ndarray
    counts: np.ndarray  # genuine pairs at each threshold
    tp: np.ndarray
    fp_ge: np.ndarray
    fp_gt: np.ndarray
    n_pos: int
    n_neg: int

    def vertices(self) -> tuple[np.ndarray, np.ndarray]:
        tp_b = np.r_[0, self.tp[:-1]]
        tp = np.r_[0, np.column_stack([tp_b, self.tp]).ravel(), self.n_pos]
        fp = np.r_[0, np.column_stack([self.fp_gt, self.fp_ge]).ravel(), self.n_neg]
        return tp, fp


def _genuine_corners(s: np.ndarray, y: np.ndarray, n_pos: int) -> Corners:
    u, counts = np.unique(s[y], return_counts=True)  # ascending
    hist = np.zeros(u.size + 1, np.int64)
    eq = np.zeros(u.size, np.int64)
    for start in range(0, s.size, CHUNK):
        cs, cy = s[start : start + CHUNK], y[start : start + CHUNK]
        imp = cs[~cy & (cs >= u[0])]  # impostors below every genuine score never matter
        r = np.searchsorted(u, imp, side="right")  # u[r-1] <= score < u[r]
        hist += np.bincount(r, minlength=u.size + 1)
        eq += np.bincount(r[u[r - 1] == imp] - 1, minlength=u.size)
    return corners_from_histogram(u, counts, hist, eq, n_pos, s.size - n_pos)


def corners_from_histogram(
    u: np.ndarray, counts: np.ndarray, hist: np.ndarray, eq: np.ndarray, n_pos: int, n_neg: int
) -> Corners:
    """The exact ROC corners from impostor counts per genuine-score interval.

    ``u`` are the distinct genuine scores (ascending) with their ``counts``; ``hist[r]``
    counts impostors with u[r-1] <= score < u[r] and ``eq[r]`` those equal to u[r]. Sums
    of these over any partition of the pairs give the same corners, which is what lets
    every engine count its own blocks.
    """
    fp_ge = np.cumsum(hist[::-1])[::-1][1:]
    tp = np.cumsum(counts[::-1])
    fp_ge = fp_ge[::-1]
    eq = eq[::-1]
    return Corners(u[::-1], counts[::-1], tp, fp_ge, fp_ge - eq, n_pos, n_neg)


def roc_points(scores: Any, labels: Any, method: Method = "auto") -> RocCurve:
    """The ROC for plotting: the full curve, or on huge inputs only its exact corners.

    The corners come from the search path (no sort of the impostors); the points they
    leave out are collinear, so a plot drawn through them is the same curve.
    """
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "the ROC curve")
    if not use_search(method, s.size, n_pos, n_neg):
        return confusion_counts(s, y).roc()
    c = _genuine_corners(s, y, n_pos)
    tp, fp = c.vertices()
    thresholds = np.r_[np.inf, np.repeat(c.thresholds, 2), -np.inf]
    return RocCurve(fp / n_neg, tp / n_pos, thresholds)


def sweep_at_genuine_scores(scores: Any, labels: Any) -> ThresholdSweep:
    """Every rate at each distinct genuine score only, without sorting the impostors.

    These thresholds include the F1 optimum and bracket every other operating point, so the
    sweep keeps its shape at a fraction of the rows when impostors number in the millions.
    """
    s, y, n_pos, _n_neg = check_two_classes(scores, labels, "the threshold sweep")
    c = _genuine_corners(s, y, n_pos)
    return ConfusionCounts(c.thresholds, c.tp, c.fp_ge, c.n_pos, c.n_neg).sweep()


# ---------------------------------------------------------------- AUC


def auc_from_counts(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int) -> float:
    """Trapezoid over vertices that start at (0, 0), summed exactly in integers."""
    twice_area = int(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]), dtype=np.int64))
    return twice_area / (2 * n_pos * n_neg)


def _weighted(
    scores: Any, labels: Any, sample_weight: Any, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (with +inf first) and (tp, fp) vertices of the weighted counts."""
    s, y, _n_pos, _n_neg = check_two_classes(scores, labels, what)
    c = confusion_counts(s, y, sample_weight)
    tp, fp = weighted.vertices(c)
    if not (tp[0, -1] > 0 and fp[0, -1] > 0):
        raise MetricError(f"{what} is undefined: a class of pairs has no weight")
    return np.r_[np.inf, c.thresholds], tp, fp


def roc_auc(
    scores: Any, labels: Any, method: Method = "auto", *, sample_weight: Any = None
) -> float:
    """Exact ROC AUC, equal to ``sklearn.metrics.roc_auc_score`` (with ``sample_weight`` too).

    ``method="auto"`` sorts only the smaller class when it is much smaller than the other
    (AUC(s, y) = AUC(-s, not y), so either class can be the sorted one).
    """
    if sample_weight is not None:
        _thr, tp, fp = _weighted(scores, labels, sample_weight, "ROC AUC")
        return float(weighted.auc_rows(tp, fp)[0])
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "ROC AUC")
    if use_search(method, s.size, min(n_pos, n_neg), max(n_pos, n_neg)):
        if n_neg < n_pos:
            s, y, n_pos, n_neg = -s, ~y, n_neg, n_pos
        c = _genuine_corners(s, y, n_pos)
        return auc_from_counts(*c.vertices(), n_pos, n_neg)
    counts = counts_sorted(s, y)
    return auc_from_counts(np.r_[0, counts.tp], np.r_[0, counts.fp], n_pos, n_neg)


# ---------------------------------------------------------------- EER


@dataclass(frozen=True)
class EerPoint:
    """Equal error rate.

    ``eer`` is where the ROC polyline (vertices at every distinct score, joined by straight
    segments) crosses FMR = FNMR: linear interpolation between the two bracketing vertices,
    computed exactly from integer counts. ``threshold`` is the distinct score whose own
    operating point has the smallest |FMR - FNMR| (ties go to the lower threshold).
    """

    eer: float
    threshold: float


def eer_on_vertices(
    thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int
) -> EerPoint:
    gap = (n_pos - tp) * n_neg - fp * n_pos  # (FNMR - FMR) * P * N, strictly decreasing
    j = int(np.argmax(gap <= 0))
    d0, d1 = int(gap[j - 1]), int(gap[j])
    fp0, fp1 = int(fp[j - 1]), int(fp[j])
    eer = Fraction(fp0 * (d0 - d1) + d0 * (fp1 - fp0), n_neg * (d0 - d1))
    best = j - 1 if abs(d0) < abs(d1) else j
    return EerPoint(float(eer), float(thresholds[best]))


def _eer_search(s: np.ndarray, y: np.ndarray, c: Corners) -> EerPoint:
    """Re-count exactly only the scores between the two genuine scores around the crossing."""
    tp_v, fp_v = c.vertices()
    gap = (c.n_pos - tp_v) * c.n_neg - fp_v * c.n_pos
    k = (int(np.argmax(gap <= 0)) - 1) // 2  # the crossing lies between A_{k-1} and A_k
    lo = c.thresholds[k]
    hi = c.thresholds[k - 1] if k > 0 else np.inf
    local = counts_sorted(*_select_between(s, y, lo, hi))
    if k > 0:
        tp_off = int(c.tp[k - 1] - c.counts[k - 1])
        fp_off = int(c.fp_gt[k - 1])
        return eer_on_vertices(
            local.thresholds, local.tp + tp_off, local.fp + fp_off, c.n_pos, c.n_neg
        )
    thr = np.r_[np.inf, local.thresholds]
    return eer_on_vertices(thr, np.r_[0, local.tp], np.r_[0, local.fp], c.n_pos, c.n_neg)


def _select_between(s: np.ndarray, y: np.ndarray, lo: float, hi: float) -> tuple[Any, ...]:
    parts_s, parts_y = [], []
    for start in range(0, s.size, CHUNK):
        cs, cy = s[start : start + CHUNK], y[start : start + CHUNK]
        keep = (cs >= lo) & (cs <= hi)
        parts_s.append(cs[keep])
        parts_y.append(cy[keep])
    return np.concatenate(parts_s), np.concatenate(parts_y)


def equal_error_rate(
    scores: Any, labels: Any, method: Method = "auto", *, sample_weight: Any = None
) -> EerPoint:
    if sample_weight is not None:
        thresholds, tp, fp = _weighted(scores, labels, sample_weight, "the EER")
        j, d0, d1 = weighted.eer_crossing(tp, fp)
        best = int(j[0]) - 1 if abs(d0[0]) < abs(d1[0]) else int(j[0])
        return EerPoint(float(weighted.eer_rows(tp, fp)[0]), float(thresholds[best]))
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "the EER")
    if use_search(method, s.size, n_pos, n_neg):
        return _eer_search(s, y, _genuine_corners(s, y, n_pos))
    c = counts_sorted(s, y)
    return eer_on_vertices(
        np.r_[np.inf, c.thresholds], np.r_[0, c.tp], np.r_[0, c.fp], n_pos, n_neg
    )


# ---------------------------------------------------------------- TAR @ FAR


@dataclass(frozen=True)
class TarAtFar:
    """TAR at the lowest distinct-score threshold whose FMR does not exceed the target.

    Support rule: the threshold for a target FAR is pinned by the impostor pairs it lets
    through, ``far_target * n_impostors`` of them. With one or two the threshold (and so the
    TAR) moves with a single pair: the estimate of a FAR near the target has a relative
    standard error of about 1/sqrt(k) for k false accepts (Poisson), 100 % at k = 1 and
    about 32 % at k = 10. ``supported`` therefore needs ``far_target * n_impostors >=
    MIN_SUPPORT_ERRORS`` (10). Between 1 and 10 the TAR is still computed but flagged
    "thin evidence" (``supported`` false, not gated); below one allowed false accept it
    would only say "no impostor passed" and is None. A threshold of +inf (even the top
    score lets too many impostors through) means TAR 0.
    """

    far_target: float
    tar: float | None
    threshold: float | None
    achieved_far: float | None
    supported: bool
    reason: str | None = None
    expected_errors: float | None = None  # far_target * n_impostors: what the rule judges

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["threshold"] = json_float(self.threshold)
        return d


def allowed_false_accepts(target: float, n_neg: int) -> int:
    # The tolerance forgives binary rounding of decimal targets (1e-4 * 30000 < 3).
    return math.floor(target * n_neg + 1e-9)


def support_verdict(target: float, n_neg: int) -> tuple[bool, str | None]:
    """(supported, reason) of the support rule for TAR at ``target`` over ``n_neg`` impostors."""
    expected = target * n_neg
    if expected + 1e-9 >= MIN_SUPPORT_ERRORS:
        return True, None
    if allowed_false_accepts(target, n_neg) < 1:
        return False, "insufficient data"
    return False, (
        f"thin evidence: FAR x impostors = {expected:.3g} < {MIN_SUPPORT_ERRORS} false accepts"
    )


def unsupported_tar(target: float, n_neg: int = 0) -> TarAtFar:
    return TarAtFar(target, None, None, None, False, "insufficient data", target * n_neg)


def tar_point(target: float, n_neg: int, tar: float, thr: float, far: float) -> TarAtFar:
    supported, reason = support_verdict(target, n_neg)
    return TarAtFar(target, tar, thr, far, supported, reason, target * n_neg)


def _tar_sorted(c: ConfusionCounts, targets: Sequence[float]) -> list[TarAtFar]:
    out = []
    for t in targets:
        k = allowed_false_accepts(t, c.n_neg)
        if k < 1:
            out.append(unsupported_tar(t, c.n_neg))
            continue
        i = int(np.searchsorted(c.fp, k, side="right")) - 1
        tp, fp, thr = (0, 0, math.inf) if i < 0 else (c.tp[i], c.fp[i], float(c.thresholds[i]))
        out.append(tar_point(t, c.n_neg, float(tp / c.n_pos), thr, float(fp / c.n_neg)))
    return out


def _tar_search(
    s: np.ndarray, y: np.ndarray, n_pos: int, n_neg: int, targets: Sequence[float]
) -> list[TarAtFar]:
    """The (k+1)-th largest impostor score bounds the threshold: np.partition finds it in O(N)."""
    ks = [allowed_false_accepts(t, n_neg) for t in targets]
    kth = sorted({n_neg - k - 1 for k in ks if 1 <= k < n_neg})
    imp = s[~y] if kth else np.empty(0)  # no copy when no target needs the k-th impostor
    if kth:
        imp.partition(kth)
    gen = np.sort(s[y])
    out = []
    for t, k in zip(targets, ks, strict=True):
        if k < 1:
            out.append(unsupported_tar(t, n_neg))
        elif k >= n_neg:
            out.append(tar_point(t, n_neg, 1.0, float(s.min()), 1.0))
        else:
            v = imp[n_neg - k - 1]
            tail = imp[n_neg - k :]
            above = tail[tail > v]
            g = int(np.searchsorted(gen, v, side="right"))
            thr = min(
                float(above.min()) if above.size else math.inf,
                float(gen[g]) if g < n_pos else math.inf,
            )
            out.append(tar_point(t, n_neg, (n_pos - g) / n_pos, thr, above.size / n_neg))
    return out


def _tar_weighted(
    thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, targets: Sequence[float]
) -> list[TarAtFar]:
    p, n = float(tp[0, -1]), float(fp[0, -1])
    out = []
    for t in targets:
        idx, allowed = weighted.tar_index(fp, t)
        if allowed[0] < 1:
            out.append(unsupported_tar(t, n))  # type: ignore[arg-type]
            continue
        i = int(idx[0])
        tar, far = float(tp[0, i] / p), float(fp[0, i] / n)
        out.append(tar_point(t, n, tar, float(thresholds[i]), far))  # type: ignore[arg-type]
    return out


def tar_at_far(
    scores: Any,
    labels: Any,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    method: Method = "auto",
    *,
    sample_weight: Any = None,
) -> list[TarAtFar]:
    if sample_weight is not None:
        return _tar_weighted(*_weighted(scores, labels, sample_weight, "TAR@FAR"), far_targets)
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "TAR@FAR")
    if use_search(method, s.size, n_pos, n_neg):
        return _tar_search(s, y, n_pos, n_neg, far_targets)
    return _tar_sorted(counts_sorted(s, y), far_targets)


# ---------------------------------------------------------------- F1


@dataclass(frozen=True)
class F1Point:
    threshold: float
    f1: float
    precision: float
    recall: float


def f1_point(thr: np.ndarray, tp: np.ndarray, fp: np.ndarray, n_pos: int) -> F1Point:
    """First (highest-threshold) maximum; it always sits at a genuine score."""
    f1 = 2 * tp / (tp + fp + n_pos)
    i = int(np.argmax(f1))
    return F1Point(
        float(thr[i]), float(f1[i]), float(tp[i] / (tp[i] + fp[i])), float(tp[i] / n_pos)
    )


def best_f1(scores: Any, labels: Any, method: Method = "auto") -> F1Point:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "F1")
    if use_search(method, s.size, n_pos, n_neg):
        c = _genuine_corners(s, y, n_pos)
        return f1_point(c.thresholds, c.tp, c.fp_ge, n_pos)
    counts = counts_sorted(s, y)
    return f1_point(counts.thresholds, counts.tp, counts.fp, n_pos)


# ---------------------------------------------------------------- summary


@dataclass(frozen=True)
class VerificationSummary:
    """The headline figures of one model on one pair set (what results.json stores)."""

    roc_auc: float
    eer: float
    eer_threshold: float
    tar_at_far: tuple[TarAtFar, ...]
    best_f1: F1Point
    d_prime: float
    genuine_mean: float
    genuine_std: float
    impostor_mean: float
    impostor_std: float
    n_genuine: int
    n_impostor: int
    method: str  # "sort" or "search": how the exact figures were obtained

    @classmethod
    def of(
        cls,
        roc_auc: float,
        eer: EerPoint,
        tar_at_far: Sequence[TarAtFar],
        best_f1: F1Point,
        stats: ScoreStats,
        counts: tuple[int, int],
        method: str,
    ) -> VerificationSummary:
        """The summary from its parts, however they were counted (the array path, the
        blocked all-pairs passes, the one sort): ``counts`` is (genuine, impostor)."""
        return cls(
            roc_auc=roc_auc,
            eer=eer.eer,
            eer_threshold=eer.threshold,
            tar_at_far=tuple(tar_at_far),
            best_f1=best_f1,
            d_prime=stats.d_prime,
            genuine_mean=stats.genuine_mean,
            genuine_std=stats.genuine_std,
            impostor_mean=stats.impostor_mean,
            impostor_std=stats.impostor_std,
            n_genuine=counts[0],
            n_impostor=counts[1],
            method=method,
        )

    def to_dict(self) -> dict[str, Any]:
        d = {k: json_float(v) if isinstance(v, float) else v for k, v in asdict(self).items()}
        d["tar_at_far"] = [t.to_dict() for t in self.tar_at_far]
        d["best_f1"] = {k: json_float(v) for k, v in asdict(self.best_f1).items()}
        return d


def compute_all(
    scores: Any,
    labels: Any,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    method: Method = "auto",
    chunk_bounds: Sequence[tuple[int, int]] | None = None,
) -> VerificationSummary:
    """Every headline figure; ``chunk_bounds`` (the all-pairs blocks) fixes how d' is summed."""
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "verification metrics")
    if use_search(method, s.size, n_pos, n_neg):
        c = _genuine_corners(s, y, n_pos)
        auc = auc_from_counts(*c.vertices(), n_pos, n_neg)
        eer = _eer_search(s, y, c)
        tars = _tar_search(s, y, n_pos, n_neg, far_targets)
        f1 = f1_point(c.thresholds, c.tp, c.fp_ge, n_pos)
        used = "search"
    else:
        counts = counts_sorted(s, y)
        tp, fp = np.r_[0, counts.tp], np.r_[0, counts.fp]
        auc = auc_from_counts(tp, fp, n_pos, n_neg)
        eer = eer_on_vertices(np.r_[np.inf, counts.thresholds], tp, fp, n_pos, n_neg)
        tars = _tar_sorted(counts, far_targets)
        f1 = f1_point(counts.thresholds, counts.tp, counts.fp, n_pos)
        used = "sort"
    st = score_stats_checked(s, y, chunk_bounds)
    return VerificationSummary.of(auc, eer, tars, f1, st, (n_pos, n_neg), used)
