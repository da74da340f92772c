"""AUC, EER and TAR@FAR on weighted confusion counts, one value per row of weights.

The weighted forms of the exact figures in ``summary``: they read the counts of
``confusion.RankedPairs.counts`` (the counting primitive with ``sample_weight``), and the
same functions serve ``summary.roc_auc(..., sample_weight=w)`` and every replicate of the
identity bootstrap. With integer weights they equal the unweighted figures on data where
each pair is repeated that many times (tested), as scikit-learn's ``sample_weight`` does.
"""

from __future__ import annotations

import numpy as np

from face_bench.metrics.confusion import ConfusionCounts


def vertices(c: ConfusionCounts) -> tuple[np.ndarray, np.ndarray]:
    """(tp, fp) per row with the ROC's (0, 0) start prepended: shape (rows, k + 1)."""
    tp, fp = np.atleast_2d(c.tp), np.atleast_2d(c.fp)
    zero = np.zeros((tp.shape[0], 1))
    return np.hstack([zero, tp]), np.hstack([zero, fp])


def auc_rows(tp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Trapezoidal area under each row's ROC (ties count half); NaN without both classes."""
    area2 = np.sum(np.diff(fp, axis=1) * (tp[:, 1:] + tp[:, :-1]), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = area2 / (2 * tp[:, -1] * fp[:, -1])
    return out


def eer_crossing(tp: np.ndarray, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the vertex j after FMR = FNMR, and the gaps (FNMR - FMR) * P * N at j-1, j."""
    p, n = tp[:, -1:], fp[:, -1:]
    gap = (p - tp) * n - fp * p  # integer-valued weights: exact in float64
    j = np.argmax(gap <= 0, axis=1)
    j = np.maximum(j, 1)  # rows with no weight in a class have gap 0 everywhere
    rows = np.arange(tp.shape[0])
    return j, gap[rows, j - 1], gap[rows, j]


def eer_rows(tp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """The interpolated crossing of ``summary.EerPoint``, row by row."""
    p, n = tp[:, -1], fp[:, -1]
    j, d0, d1 = eer_crossing(tp, fp)
    rows = np.arange(tp.shape[0])
    f0, f1 = fp[rows, j - 1], fp[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (f0 + d0 / (d0 - d1) * (f1 - f0)) / n
    out[(p == 0) | (n == 0)] = np.nan
    return out


def tar_index(fp: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    """``summary.TarAtFar``'s rule per row: the vertex of the lowest threshold whose FMR <=
    ``target``, and the false-accept weight the target allows."""
    allowed = np.floor(target * fp[:, -1] + 1e-9)
    return np.count_nonzero(fp <= allowed[:, None], axis=1) - 1, allowed


def tar_rows(tp: np.ndarray, fp: np.ndarray, target: float) -> np.ndarray:
    """TAR at FAR ``target`` per row; NaN below one allowed false accept."""
    idx, allowed = tar_index(fp, target)
    p = tp[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = tp[np.arange(tp.shape[0]), idx] / p
    out[(allowed < 1) | (p == 0)] = np.nan
    return out
