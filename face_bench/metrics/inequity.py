"""Summary measures of inequity across groups: one number for "how unequal", with its formula.

Given each group's FMR and FNMR at one threshold (rows may be bootstrap replicates):

- ``max_min``: the highest group rate over the lowest.
- ``max_geomean``: the highest over the geometric mean of all groups (NIST's proposed
  summary for FRTE demographic results; less driven by one very good group than max/min).
- ``gini``: Gini coefficient with the small-sample correction n / (n - 1), as in GARBE.
- ``garbe``: Gini Aggregation Rate for Biometric Equitability (Howard, Laird, Rubin et al.,
  2022): alpha * Gini(FMR) + (1 - alpha) * Gini(FNMR); 0 = equal, larger = less equal.
- ``fdr``: Fairness Discrepancy Rate (de Freitas Pereira & Marcel, 2021):
  1 - (alpha * max|FMR_i - FMR_j| + (1 - alpha) * max|FNMR_i - FNMR_j|); 1 = equal.

A ratio cannot divide by a zero rate: for ``max_min`` and ``max_geomean`` a group with
no error enters with its rule-of-three bound 3 / n instead (the caller substitutes), which
makes the ratio conservative, never infinite. Gini and FDR take the rates as they are.
"""

from __future__ import annotations

import numpy as np


def max_min(rates: np.ndarray) -> np.ndarray:
    """max / min over the last axis; NaN where the minimum is 0."""
    r = np.asarray(rates, dtype=np.float64)
    lo = r.min(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(lo > 0, r.max(axis=-1) / np.where(lo > 0, lo, 1.0), np.nan)


def max_geomean(rates: np.ndarray) -> np.ndarray:
    """max / geometric mean over the last axis; NaN where any rate is 0."""
    r = np.asarray(rates, dtype=np.float64)
    positive = (r > 0).all(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        geo = np.exp(np.log(np.where(r > 0, r, 1.0)).mean(axis=-1))
        return np.where(positive, r.max(axis=-1) / geo, np.nan)


def gini(rates: np.ndarray) -> np.ndarray:
    """Sample-corrected Gini: n/(n-1) * sum_ij |x_i - x_j| / (2 n^2 mean); NaN at mean 0."""
    r = np.asarray(rates, dtype=np.float64)
    n = r.shape[-1]
    if n < 2:
        return np.full(r.shape[:-1], np.nan)
    spread = np.abs(r[..., :, None] - r[..., None, :]).sum(axis=(-1, -2))
    mean = r.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = (n / (n - 1)) * spread / (2 * n * n * np.where(mean > 0, mean, 1.0))
    return np.where(mean > 0, g, np.nan)


def garbe(fmr: np.ndarray, fnmr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    return alpha * gini(fmr) + (1 - alpha) * gini(fnmr)


def fdr(fmr: np.ndarray, fnmr: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    a = np.asarray(fmr, dtype=np.float64)
    b = np.asarray(fnmr, dtype=np.float64)
    gap_a = a.max(axis=-1) - a.min(axis=-1)
    gap_b = b.max(axis=-1) - b.min(axis=-1)
    out: np.ndarray = 1.0 - (alpha * gap_a + (1 - alpha) * gap_b)
    return out


def with_zero_bounds(errors: np.ndarray, pairs: np.ndarray, rule: float = 3.0) -> np.ndarray:
    """Rates errors/pairs, with rule / pairs where errors are 0 (NaN where pairs are 0)."""
    e = np.asarray(errors, dtype=np.float64)
    n = np.asarray(pairs, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, 1.0)
        return np.where(n > 0, np.where(e > 0, e / safe, rule / safe), np.nan)
