"""Score checks and the one primitive: confusion counts at every distinct score.

ROC, DET, precision-recall and the threshold sweep are views of :class:`ConfusionCounts`;
face_bench.metrics.summary builds the exact headline figures on top of it. Conventions are those
of face_bench.metrics.summary: higher score = same person, accepted when ``score >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from face_bench.core.errors import MetricError

Method = Literal["auto", "sort", "search"]
CHUNK = 1 << 22  # elements per pass over huge arrays: bounds temporaries to tens of MB
_SEARCH_MIN_N = 1 << 20  # below this a full sort is cheap enough


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


def use_search(method: Method, n: int, n_pos: int, n_neg: int) -> bool:
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


@dataclass(frozen=True)
class ConfusionCounts:
    """Counts at every distinct score, descending: scikit-learn's ``_binary_clf_curve``.

    Tied scores are collapsed into one threshold, so each row is an operating point someone
    could actually choose.
    """

    thresholds: np.ndarray
    tp: np.ndarray  # genuine pairs with score >= threshold (int64; weighted: float64)
    fp: np.ndarray  # impostor pairs with score >= threshold (int64; weighted: float64)
    n_pos: Any  # int; weighted: the genuine weight (one per row of weights)
    n_neg: Any

    @property
    def tn(self) -> np.ndarray:
        return np.asarray(self.n_neg - self.fp)

    @property
    def fn(self) -> np.ndarray:
        return np.asarray(self.n_pos - self.tp)

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


def counts_sorted(s: np.ndarray, y: np.ndarray) -> ConfusionCounts:
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


@dataclass(frozen=True)
class RankedPairs:
    """Pairs sorted once by descending score: the counting primitive with sample weights.

    ``counts(w)`` is scikit-learn's weighted ``_binary_clf_curve``: cumulative genuine and
    impostor weight at every distinct score. ``w`` may hold one row of weights per
    replicate, so the identity bootstrap counts a thousand reweightings from one sort.
    """

    order: np.ndarray  # stable descending order of the scores
    ends: np.ndarray  # in that order, the last pair of each distinct score
    genuine: np.ndarray  # labels in that order
    thresholds: np.ndarray

    def counts(self, sample_weight: Any) -> ConfusionCounts:
        """Weighted counts; ``sample_weight`` is (n,) or (replicates, n), one per pair."""
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape[-1:] != self.order.shape:
            raise MetricError(f"need one weight per pair: {w.shape} vs {self.order.size}")
        return self.counts_ranked(w[..., self.order])

    def counts_ranked(self, w: np.ndarray) -> ConfusionCounts:
        """``counts`` for float64 weights already in ranked order (``w[..., order]``), which
        the bootstrap builds directly; ``w`` is overwritten."""
        wg = w * self.genuine
        np.cumsum(w, axis=-1, out=w)
        np.cumsum(wg, axis=-1, out=wg)
        tp = wg[..., self.ends]
        fp = w[..., self.ends] - tp
        return ConfusionCounts(self.thresholds, tp, fp, tp[..., -1], fp[..., -1])


def rank_pairs(scores: Any, labels: Any) -> RankedPairs:
    """Sort the pairs once for any number of weighted counts."""
    s, y = check_scores(scores, labels)
    order = np.argsort(s, kind="stable")[::-1]
    desc = s[order]
    ends = np.r_[np.flatnonzero(np.diff(desc)), desc.size - 1]
    return RankedPairs(order, ends, y[order], desc[ends])


def confusion_counts(scores: Any, labels: Any, sample_weight: Any = None) -> ConfusionCounts:
    """Counts at every distinct score; with ``sample_weight``, weighted as scikit-learn does.

    Unweighted counts come from a sort of the values (integers, exact); weighted ones from
    the same ranking with cumulative weights, so unit weights give the same counts.
    """
    s, y = check_scores(scores, labels)
    if sample_weight is None:
        return counts_sorted(s, y)
    return rank_pairs(s, y).counts(sample_weight)


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
    from scipy.special import ndtri  # scipy.stats costs ~1 s to import; ndtri is the same ppf

    deviates: np.ndarray = ndtri(np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps))
    return deviates
