"""The curves the figures draw and sweep.csv lists, from one model's pair scores.

Pure functions of a score table (``report.source.PairScores``, or a run's ``ScoreTable``):
scores where higher means the same person, labels, and the model's scale; thresholds come
back in the model's own units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from face_bench.metrics.confusion import threshold_sweep
from face_bench.metrics.summary import roc_points, sweep_at_genuine_scores


def _sweep(table: Any) -> Any:
    """Every distinct score (per-pair tables), or only the distinct genuine scores of a table
    scored in blocks (tens of millions of pairs; they hold the F1 optimum)."""
    if table.per_pair:
        return threshold_sweep(table.scores, table.labels)
    cached = getattr(table, "genuine_sweep", None)  # shared with the run's own figures
    return cached if cached is not None else sweep_at_genuine_scores(table.scores, table.labels)


def curve_points(table: Any) -> tuple[np.ndarray, np.ndarray]:
    """ROC (fpr, tpr) for plotting (exact corners on huge inputs); the plot layer thins it."""
    if not table.per_pair:
        sweep = _sweep(table)
        return np.r_[0.0, sweep.fmr, 1.0], np.r_[0.0, sweep.recall, 1.0]
    roc = roc_points(table.scores, table.labels)
    return roc.fpr, roc.tpr


def sweep_frame(table: Any) -> pd.DataFrame:
    """Every rate at every distinct threshold, thresholds in the model's units."""
    sweep = _sweep(table)
    return pd.DataFrame(
        {
            "threshold": sweep.thresholds * (-1.0 if table.spec.distance_like else 1.0),
            "precision": sweep.precision,
            "recall": sweep.recall,
            "f1": sweep.f1,
            "accuracy": sweep.accuracy,
            "fmr": sweep.fmr,
            "fnmr": sweep.fnmr,
            "tp": sweep.tp,
            "fp": sweep.fp,
            "tn": sweep.tn,
            "fn": sweep.fn,
        }
    )
