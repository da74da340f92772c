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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from scipy.stats import norm

from face_bench.errors import MetricError

DEFAULT_FAR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
Method = Literal["auto", "sort", "search"]
_CHUNK = 1 << 22  # elements per pass over huge arrays: bounds temporaries to tens of MB
_SEARCH_MIN_N = 1 << 20  # below this a full sort is cheap enough


def json_float(x: float | None) -> float | None:
    """JSON has no inf/NaN: those become None."""
    return None if x is None or not math.isfinite(x) else float(x)


def check_scores(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate once at the boundary so every metric can trust its inputs."""
    s, y = np.asarray(scores), np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise MetricError(
            f"scores and labels must be 1-D and equal length, got {s.shape}, {y.shape}"
        )
    if s.size == 0:
        raise MetricError("no scores: the pair set is empty")
    if s.dtype.kind not in "fiub":
        raise MetricError(f"scores must be numeric, got dtype {s.dtype}")
    if s.dtype.kind != "f" or s.dtype.itemsize < 4:
        s = s.astype(np.float64 if s.dtype.kind != "f" else np.float32)
    if not np.isfinite(s).all():
        raise MetricError("scores contain NaN or infinity")
    if y.dtype != bool:
        if not ((y == 0) | (y == 1)).all():
            raise MetricError("labels must be boolean or 0/1")
        y = y.astype(bool)
    return s, y


def check_two_classes(
    scores: Any, labels: Any, what: str
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """check_scores, plus a clear error when ``what`` needs both classes and one is absent."""
    s, y = check_scores(scores, labels)
    n_pos = int(np.count_nonzero(y))
    n_neg = s.size - n_pos
    if n_pos == 0 or n_neg == 0:
        kind = "genuine (same-person)" if n_pos == 0 else "impostor (different-person)"
        raise MetricError(f"{what} is undefined: there are no {kind} pairs")
    return s, y, n_pos, n_neg


def _use_search(method: Method, n: int, n_pos: int, n_neg: int) -> bool:
    if method not in ("auto", "sort", "search"):
        raise ValueError(f"method must be 'auto', 'sort' or 'search', got {method!r}")
    if method == "auto":
        return n >= _SEARCH_MIN_N and 8 * n_pos <= n_neg
    return method == "search"


# ---------------------------------------------------------------- primitive and curves


@dataclass(frozen=True)
class RocCurve:
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # first entry +inf: the (0, 0) point, as in scikit-learn


@dataclass(frozen=True)
class DetCurve:
    fmr: np.ndarray
    fnmr: np.ndarray
    thresholds: np.ndarray  # the same points as the ROC


@dataclass(frozen=True)
class PrecisionRecallCurve:
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray  # distinct scores, descending; no artificial end point


@dataclass(frozen=True)
class ThresholdSweep:
    """Every rate at every distinct score (descending), for tables and threshold choice.

    Precision is always defined here: at any distinct score at least one pair is accepted.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    accuracy: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(asdict(self))


@dataclass(frozen=True)
class ConfusionCounts:
    """Counts at every distinct score, descending: scikit-learn's ``_binary_clf_curve``.

    Tied scores are collapsed into one threshold, so each row is an operating point someone
    could actually choose.
    """

    thresholds: np.ndarray
    tp: np.ndarray  # genuine pairs with score >= threshold (int64)
    fp: np.ndarray  # impostor pairs with score >= threshold (int64)
    n_pos: int
    n_neg: int

    @property
    def tn(self) -> np.ndarray:
        return self.n_neg - self.fp

    @property
    def fn(self) -> np.ndarray:
        return self.n_pos - self.tp

    def _both(self, what: str) -> None:
        if self.n_pos == 0 or self.n_neg == 0:
            raise MetricError(f"{what} is undefined: only one class of pairs is present")

    def roc(self) -> RocCurve:
        self._both("the ROC curve")
        tp, fp = np.r_[0, self.tp], np.r_[0, self.fp]
        return RocCurve(fp / self.n_neg, tp / self.n_pos, np.r_[np.inf, self.thresholds])

    def det(self) -> DetCurve:
        roc = self.roc()
        return DetCurve(roc.fpr, 1.0 - roc.tpr, roc.thresholds)

    def precision_recall(self) -> PrecisionRecallCurve:
        self._both("the precision-recall curve")
        return PrecisionRecallCurve(
            self.tp / (self.tp + self.fp), self.tp / self.n_pos, self.thresholds
        )

    def sweep(self) -> ThresholdSweep:
        self._both("the threshold sweep")
        tp, fp, p, n = self.tp, self.fp, self.n_pos, self.n_neg
        return ThresholdSweep(
            thresholds=self.thresholds,
            tp=tp,
            fp=fp,
            tn=self.tn,
            fn=self.fn,
            precision=tp / (tp + fp),
            recall=tp / p,
            f1=2 * tp / (tp + fp + p),
            accuracy=(tp + n - fp) / (p + n),
            fmr=fp / n,
            fnmr=(p - tp) / p,
        )


def _counts_sorted(s: np.ndarray, y: np.ndarray) -> ConfusionCounts:
    """scikit-learn's stable-sort-and-collapse counts, without an argsort.

    Within a tie only the group's total matters, so sorting the values (fast SIMD sort, no
    index array) and counting genuine scores >= each distinct value gives identical counts.
    """
    desc = np.sort(s)[::-1]
    ends = np.r_[np.flatnonzero(desc[1:] != desc[:-1]), desc.size - 1]
    thresholds = desc[ends]
    del desc
    genuine = np.sort(s[y])
    below = np.searchsorted(genuine, thresholds[::-1], side="left")[::-1]
    tp = (genuine.size - below).astype(np.int64)
    fp = ends + 1 - tp
    return ConfusionCounts(thresholds, tp, fp, genuine.size, int(fp[-1]))


def confusion_counts(scores: Any, labels: Any) -> ConfusionCounts:
    s, y = check_scores(scores, labels)
    return _counts_sorted(s, y)


def roc_curve(scores: Any, labels: Any) -> RocCurve:
    return confusion_counts(scores, labels).roc()


def det_curve(scores: Any, labels: Any) -> DetCurve:
    return confusion_counts(scores, labels).det()


def precision_recall_curve(scores: Any, labels: Any) -> PrecisionRecallCurve:
    return confusion_counts(scores, labels).precision_recall()


def threshold_sweep(scores: Any, labels: Any) -> ThresholdSweep:
    return confusion_counts(scores, labels).sweep()


def probit(p: Any, eps: float = 1e-9) -> np.ndarray:
    """Normal deviate for DET axes; clipping keeps rates of 0 and 1 plottable."""
    return norm.ppf(np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps))


# ---------------------------------------------------------------- the search path


@dataclass(frozen=True)
class _Corners:
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


def _genuine_corners(s: np.ndarray, y: np.ndarray, n_pos: int) -> _Corners:
    u, counts = np.unique(s[y], return_counts=True)  # ascending
    hist = np.zeros(u.size + 1, np.int64)
    eq = np.zeros(u.size, np.int64)
    for start in range(0, s.size, _CHUNK):
        cs, cy = s[start : start + _CHUNK], y[start : start + _CHUNK]
        imp = cs[~cy & (cs >= u[0])]  # impostors below every genuine score never matter
        r = np.searchsorted(u, imp, side="right")  # u[r-1] <= score < u[r]
        hist += np.bincount(r, minlength=u.size + 1)
        eq += np.bincount(r[u[r - 1] == imp] - 1, minlength=u.size)
    fp_ge = np.cumsum(hist[::-1])[::-1][1:]
    tp = np.cumsum(counts[::-1])
    fp_ge = fp_ge[::-1]
    eq = eq[::-1]
    return _Corners(u[::-1], counts[::-1], tp, fp_ge, fp_ge - eq, n_pos, s.size - n_pos)


# ---------------------------------------------------------------- AUC


def _auc_from_counts(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int) -> float:
    """Trapezoid over vertices that start at (0, 0), summed exactly in integers."""
    twice_area = int(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]), dtype=np.int64))
    return twice_area / (2 * n_pos * n_neg)


def roc_auc(scores: Any, labels: Any, method: Method = "auto") -> float:
    """Exact ROC AUC, equal to ``sklearn.metrics.roc_auc_score``.

    ``method="auto"`` sorts only the smaller class when it is much smaller than the other
    (AUC(s, y) = AUC(-s, not y), so either class can be the sorted one).
    """
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "ROC AUC")
    if _use_search(method, s.size, min(n_pos, n_neg), max(n_pos, n_neg)):
        if n_neg < n_pos:
            s, y, n_pos, n_neg = -s, ~y, n_neg, n_pos
        c = _genuine_corners(s, y, n_pos)
        return _auc_from_counts(*c.vertices(), n_pos, n_neg)
    c = _counts_sorted(s, y)
    return _auc_from_counts(np.r_[0, c.tp], np.r_[0, c.fp], n_pos, n_neg)


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


def _eer_on_vertices(
    thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int
) -> EerPoint:
    gap = (n_pos - tp) * n_neg - fp * n_pos  # (FNMR - FMR) * P * N, strictly decreasing
    j = int(np.argmax(gap <= 0))
    d0, d1 = int(gap[j - 1]), int(gap[j])
    fp0, fp1 = int(fp[j - 1]), int(fp[j])
    eer = Fraction(fp0 * (d0 - d1) + d0 * (fp1 - fp0), n_neg * (d0 - d1))
    best = j - 1 if abs(d0) < abs(d1) else j
    return EerPoint(float(eer), float(thresholds[best]))


def _eer_search(s: np.ndarray, y: np.ndarray, c: _Corners) -> EerPoint:
    """Re-count exactly only the scores between the two genuine scores around the crossing."""
    tp_v, fp_v = c.vertices()
    gap = (c.n_pos - tp_v) * c.n_neg - fp_v * c.n_pos
    k = (int(np.argmax(gap <= 0)) - 1) // 2  # the crossing lies between A_{k-1} and A_k
    lo = c.thresholds[k]
    hi = c.thresholds[k - 1] if k > 0 else np.inf
    local = _counts_sorted(*_select_between(s, y, lo, hi))
    if k > 0:
        tp_off = int(c.tp[k - 1] - c.counts[k - 1])
        fp_off = int(c.fp_gt[k - 1])
        return _eer_on_vertices(
            local.thresholds, local.tp + tp_off, local.fp + fp_off, c.n_pos, c.n_neg
        )
    thr = np.r_[np.inf, local.thresholds]
    return _eer_on_vertices(thr, np.r_[0, local.tp], np.r_[0, local.fp], c.n_pos, c.n_neg)


def _select_between(s: np.ndarray, y: np.ndarray, lo: float, hi: float) -> tuple:
    parts_s, parts_y = [], []
    for start in range(0, s.size, _CHUNK):
        cs, cy = s[start : start + _CHUNK], y[start : start + _CHUNK]
        keep = (cs >= lo) & (cs <= hi)
        parts_s.append(cs[keep])
        parts_y.append(cy[keep])
    return np.concatenate(parts_s), np.concatenate(parts_y)


def equal_error_rate(scores: Any, labels: Any, method: Method = "auto") -> EerPoint:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "the EER")
    if _use_search(method, s.size, n_pos, n_neg):
        return _eer_search(s, y, _genuine_corners(s, y, n_pos))
    c = _counts_sorted(s, y)
    return _eer_on_vertices(
        np.r_[np.inf, c.thresholds], np.r_[0, c.tp], np.r_[0, c.fp], n_pos, n_neg
    )


# ---------------------------------------------------------------- TAR @ FAR


@dataclass(frozen=True)
class TarAtFar:
    """TAR at the lowest distinct-score threshold whose FMR does not exceed the target.

    ``supported`` is ``far_target * n_impostors >= 1``: below one allowed false accept the
    figure would only say "no impostor passed" and is reported as None instead. A threshold
    of +inf (even the top score lets too many impostors through) means TAR 0.
    """

    far_target: float
    tar: float | None
    threshold: float | None
    achieved_far: float | None
    supported: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["threshold"] = json_float(self.threshold)
        return d


def _allowed_false_accepts(target: float, n_neg: int) -> int:
    # The tolerance forgives binary rounding of decimal targets (1e-4 * 30000 < 3).
    return math.floor(target * n_neg + 1e-9)


def _unsupported(target: float) -> TarAtFar:
    return TarAtFar(target, None, None, None, False, "insufficient data")


def _tar_sorted(c: ConfusionCounts, targets: Sequence[float]) -> list[TarAtFar]:
    out = []
    for t in targets:
        k = _allowed_false_accepts(t, c.n_neg)
        if k < 1:
            out.append(_unsupported(t))
            continue
        i = int(np.searchsorted(c.fp, k, side="right")) - 1
        tp, fp, thr = (0, 0, math.inf) if i < 0 else (c.tp[i], c.fp[i], float(c.thresholds[i]))
        out.append(TarAtFar(t, float(tp / c.n_pos), thr, float(fp / c.n_neg), True))
    return out


def _tar_search(
    s: np.ndarray, y: np.ndarray, n_pos: int, n_neg: int, targets: Sequence[float]
) -> list[TarAtFar]:
    """The (k+1)-th largest impostor score bounds the threshold: np.partition finds it in O(N)."""
    ks = [_allowed_false_accepts(t, n_neg) for t in targets]
    kth = sorted({n_neg - k - 1 for k in ks if 1 <= k < n_neg})
    imp = s[~y] if kth else None
    if kth:
        imp.partition(kth)
    gen = np.sort(s[y])
    out = []
    for t, k in zip(targets, ks, strict=True):
        if k < 1:
            out.append(_unsupported(t))
        elif k >= n_neg:
            out.append(TarAtFar(t, 1.0, float(s.min()), 1.0, True))
        else:
            v = imp[n_neg - k - 1]
            tail = imp[n_neg - k :]
            above = tail[tail > v]
            g = int(np.searchsorted(gen, v, side="right"))
            thr = min(
                float(above.min()) if above.size else math.inf,
                float(gen[g]) if g < n_pos else math.inf,
            )
            out.append(TarAtFar(t, (n_pos - g) / n_pos, thr, above.size / n_neg, True))
    return out


def tar_at_far(
    scores: Any,
    labels: Any,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    method: Method = "auto",
) -> list[TarAtFar]:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "TAR@FAR")
    if _use_search(method, s.size, n_pos, n_neg):
        return _tar_search(s, y, n_pos, n_neg, far_targets)
    return _tar_sorted(_counts_sorted(s, y), far_targets)


# ---------------------------------------------------------------- single thresholds, F1


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


@dataclass(frozen=True)
class F1Point:
    threshold: float
    f1: float
    precision: float
    recall: float


def _f1_point(thr: np.ndarray, tp: np.ndarray, fp: np.ndarray, n_pos: int) -> F1Point:
    """First (highest-threshold) maximum; it always sits at a genuine score."""
    f1 = 2 * tp / (tp + fp + n_pos)
    i = int(np.argmax(f1))
    return F1Point(
        float(thr[i]), float(f1[i]), float(tp[i] / (tp[i] + fp[i])), float(tp[i] / n_pos)
    )


def best_f1(scores: Any, labels: Any, method: Method = "auto") -> F1Point:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "F1")
    if _use_search(method, s.size, n_pos, n_neg):
        c = _genuine_corners(s, y, n_pos)
        return _f1_point(c.thresholds, c.tp, c.fp_ge, n_pos)
    c = _counts_sorted(s, y)
    return _f1_point(c.thresholds, c.tp, c.fp, n_pos)


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


# ---------------------------------------------------------------- plotting support


def _plot_axis(v: Any, scale: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if scale == "log":  # zeros sit at the smallest positive value, not decades below it
        positive = v[v > 0]
        v = np.log10(np.clip(v, positive.min() if positive.size else 1e-12, None))
    elif scale == "probit":
        v = probit(v)
    elif scale != "linear":
        raise ValueError(f"scale must be 'linear', 'log' or 'probit', got {scale!r}")
    span = v.max() - v.min()
    return (v - v.min()) / span if span > 0 else np.zeros_like(v)


def thin_curve(
    x: Any, y: Any, max_points: int = 2000, x_scale: str = "linear", y_scale: str = "linear"
) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep a curve's shape, for plots only.

    A point is kept when it enters a new grid cell (cell side 2/max_points of each axis in
    the plotted scale); a monotone curve crosses at most max_points cells. Both endpoints
    are kept. Reported figures always come from the full curve.
    """
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    cells = max(1, (max_points - 2) // 2)
    cx = np.floor(_plot_axis(x, x_scale) * cells)
    cy = np.floor(_plot_axis(y, y_scale) * cells)
    moved = np.r_[True, (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])]
    moved[-1] = True
    keep = np.flatnonzero(moved)
    if keep.size > max_points:  # a non-monotone curve (precision) can revisit cells
        keep = keep[np.unique(np.round(np.linspace(0, keep.size - 1, max_points)).astype(int))]
    return keep


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
) -> VerificationSummary:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "verification metrics")
    if _use_search(method, s.size, n_pos, n_neg):
        c = _genuine_corners(s, y, n_pos)
        auc = _auc_from_counts(*c.vertices(), n_pos, n_neg)
        eer = _eer_search(s, y, c)
        tars = _tar_search(s, y, n_pos, n_neg, far_targets)
        f1 = _f1_point(c.thresholds, c.tp, c.fp_ge, n_pos)
        used = "search"
    else:
        c = _counts_sorted(s, y)
        tp, fp = np.r_[0, c.tp], np.r_[0, c.fp]
        auc = _auc_from_counts(tp, fp, n_pos, n_neg)
        eer = _eer_on_vertices(np.r_[np.inf, c.thresholds], tp, fp, n_pos, n_neg)
        tars = _tar_sorted(c, far_targets)
        f1 = _f1_point(c.thresholds, c.tp, c.fp, n_pos)
        used = "sort"
    st = _score_stats(s, y)
    return VerificationSummary(
        roc_auc=auc,
        eer=eer.eer,
        eer_threshold=eer.threshold,
        tar_at_far=tuple(tars),
        best_f1=f1,
        d_prime=st.d_prime,
        genuine_mean=st.genuine_mean,
        genuine_std=st.genuine_std,
        impostor_mean=st.impostor_mean,
        impostor_std=st.impostor_std,
        n_genuine=n_pos,
        n_impostor=n_neg,
        method=used,
    )


# ---------------------------------------------------------------- pair scoring


def _prepare_embeddings(emb: Any, similarity: str) -> np.ndarray:
    e = np.asarray(emb)
    if e.ndim != 2:
        raise MetricError(f"embeddings must be an (n, d) matrix, got shape {e.shape}")
    e = e.astype(np.result_type(e.dtype, np.float32), copy=False)
    if similarity == "cosine":
        norms = np.linalg.norm(e, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise MetricError("an embedding is all zeros: its cosine similarity is undefined")
        return e / norms
    if similarity == "euclidean":
        return e
    raise ValueError(f"similarity must be 'cosine' or 'euclidean', got {similarity!r}")


def _row_blocks(n: int, block_elems: int):
    """Row ranges [r0, r1) and the i<j mask of the (r1-r0, n-r0) block, in pair order."""
    rows = max(1, block_elems // max(n, 1))
    for r0 in range(0, n - 1, rows):
        r1 = min(n - 1, r0 + rows)
        yield r0, r1, np.arange(n - r0)[None, :] > np.arange(r1 - r0)[:, None]


def pair_scores_blocked(
    emb: Any, ids: Any, similarity: str = "cosine", block_elems: int = 1 << 24
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and same-person labels of every pair i<j, in ``np.triu_indices(n, 1)`` order.

    Rows are processed in blocks of about ``block_elems`` similarities, so no n x n matrix
    is ever held. Cosine rows are L2-normalised here, then the score is the dot product;
    "euclidean" scores are -||a-b|| via ||a||^2+||b||^2-2a.b clipped at 0 (higher = same).
    """
    e = _prepare_embeddings(emb, similarity)
    ids = np.asarray(ids)
    n = e.shape[0]
    if ids.shape != (n,):
        raise MetricError(f"need one identity per embedding: {ids.shape} vs {n} rows")
    total = n * (n - 1) // 2
    scores = np.empty(total, np.float32)
    labels = np.empty(total, bool)
    sq = np.einsum("ij,ij->i", e, e) if similarity == "euclidean" else None
    pos = 0
    for r0, r1, mask in _row_blocks(n, block_elems):
        block = e[r0:r1] @ e[r0:].T
        if sq is not None:
            block *= -2
            block += sq[r0:r1, None]
            block += sq[None, r0:]
            np.maximum(block, 0, out=block)
            np.sqrt(block, out=block)
            np.negative(block, out=block)
        vals = block[mask]
        scores[pos : pos + vals.size] = vals
        labels[pos : pos + vals.size] = (ids[r0:r1, None] == ids[None, r0:])[mask]
        pos += vals.size
    return scores, labels


def all_pair_indices(n: int, block_elems: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """int32 (i, j) of every pair i<j, in the order of :func:`pair_scores_blocked`."""
    total = n * (n - 1) // 2
    i_out, j_out = np.empty(total, np.int32), np.empty(total, np.int32)
    pos = 0
    for r0, _, mask in _row_blocks(n, block_elems):
        a, b = np.nonzero(mask)
        i_out[pos : pos + a.size] = a + r0
        j_out[pos : pos + a.size] = b + r0
        pos += a.size
    return i_out, j_out


def score_pairs(
    emb: Any, i_idx: Any, j_idx: Any, similarity: str = "cosine", block_elems: int = 1 << 24
) -> np.ndarray:
    """float32 scores of explicit pairs (a protocol file), same orientation as above."""
    e = _prepare_embeddings(emb, similarity)
    i_idx, j_idx = np.asarray(i_idx), np.asarray(j_idx)
    if i_idx.shape != j_idx.shape or i_idx.ndim != 1:
        raise MetricError(f"pair index arrays differ in shape: {i_idx.shape}, {j_idx.shape}")
    out = np.empty(i_idx.size, np.float32)
    step = max(1, block_elems // max(e.shape[1], 1))
    for start in range(0, i_idx.size, step):
        a = e[i_idx[start : start + step]]
        b = e[j_idx[start : start + step]]
        if similarity == "cosine":
            out[start : start + step] = np.einsum("ij,ij->i", a, b)
        else:
            a -= b
            out[start : start + step] = -np.sqrt(np.einsum("ij,ij->i", a, a))
    return out
