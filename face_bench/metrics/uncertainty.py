"""How sure are the figures? Identity bootstrap CIs and DeLong's test.

Pairs that share a person are not independent (one blurry photo spoils every pair it is
in), so resampling pairs understates the uncertainty. The bootstrap here resamples people.

Weighting: one replicate draws the K identities with replacement; a person drawn c times
counts as c copies. Every pair (a, b) gets weight c[a] * c[b]. For impostor pairs that is
each copy of a against each copy of b. For a genuine pair it is c^2: duplicating a person
and pairing all images except each image with its own copy gives exactly c^2 copies of
every genuine pair. One rule for both classes, and a person drawn 0 times drops out.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics import summary as metrics
from face_bench.metrics.catalog import far_key
from face_bench.metrics.replicates import (
    CELLS_PER_CHUNK,
    ClassReplicates,
    DenseReplicates,
    replicates,
)

_THREADS = min(4, os.cpu_count() or 1)


class ReplicateMemo:
    """What the bootstraps of one run share, handed to each call by whoever runs them.

    Two things are worth keeping between calls on the same pairs: the ranked pair set a
    model's intervals and its DET band both count (``counter``, the last few kept), and the
    replicate AUCs of each ``bootstrap_metrics`` call (the last ``aucs_kept``): the paired
    AUC difference of two models draws the very same people (same seed, same pairs), so its
    replicates are the difference of theirs, and recounting them would double the bootstrap.

    Entries are keyed by everything they depend on (scores, labels, identity codes, draws,
    seed), so a memo never changes a number, only how often it is counted. Create one per
    run (``evaluate`` does) and let it go with the run; a call given none counts afresh.
    """

    def __init__(self, counters_kept: int = 4, aucs_kept: int = 64) -> None:
        self._counters: dict[str, ClassReplicates | DenseReplicates] = {}
        self._aucs: dict[str, np.ndarray] = {}
        self._counters_kept = counters_kept
        self._aucs_kept = aucs_kept

    def counter(
        self, s: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> ClassReplicates | DenseReplicates:
        """``replicates(s, y, a, b)``, built once for the last few pair sets."""
        key = _replicate_key(s, y, a, b, 0, 0)
        found = self._counters.get(key)
        if found is None:
            if len(self._counters) >= self._counters_kept:
                self._counters.pop(next(iter(self._counters)))
            found = self._counters[key] = replicates(s, y, a, b)
        return found

    def remember_aucs(self, key: str, reps: np.ndarray) -> None:
        if len(self._aucs) >= self._aucs_kept:
            self._aucs.pop(next(iter(self._aucs)))
        self._aucs[key] = reps.copy()

    def aucs(self, key: str) -> np.ndarray | None:
        """The replicate AUCs remembered under ``_replicate_key``, None when not (or no more)."""
        return self._aucs.get(key)


@dataclass(frozen=True)
class ConfidenceInterval:
    """Percentile bootstrap interval around the full-data estimate.

    ``n_invalid`` counts replicates where the metric was undefined (a draw left no genuine
    or no impostor weight, or too few impostors for the FAR target); they are left out.
    Bounds are None when the bootstrap is disabled or no replicate was valid.
    """

    estimate: float | None
    lower: float | None
    upper: float | None
    n_boot: int
    seed: int
    confidence: float
    n_invalid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            k: metrics.json_float(v) if isinstance(v, float) else v for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class BootstrapResult:
    roc_auc: ConfidenceInterval
    eer: ConfidenceInterval
    tar_at_far: tuple[tuple[float, ConfidenceInterval], ...]

    def to_dict(self) -> dict[str, Any]:
        """Keyed by flat metric name (roc_auc, eer, tar_at_far_1e-3), as results.json is."""
        out = {"roc_auc": self.roc_auc.to_dict(), "eer": self.eer.to_dict()}
        for target, ci in self.tar_at_far:
            out[far_key(target)] = ci.to_dict()
        return out


def _identity_codes(id_a: Any, id_b: Any, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    id_a, id_b = np.asarray(id_a), np.asarray(id_b)
    if id_a.shape != (n,) or id_b.shape != (n,):
        raise MetricError(f"need two identity codes per pair: {id_a.shape}, {id_b.shape} vs {n}")
    uniq, inv = np.unique(np.concatenate([id_a, id_b]), return_inverse=True)
    return inv[:n], inv[n:], uniq.size


def _draw_counts(n_ids: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_ids) copies of each person per replicate, drawn up front so that chunking
    never changes the numbers."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_ids, size=(n_boot, n_ids))
    draws += n_ids * np.arange(n_boot)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n_ids).reshape(n_boot, n_ids)


def _each_chunk(n_boot: int, step: int, count: Callable[[int, int], None]) -> None:
    """``count(r0, r1)`` for every chunk of replicates, on up to ``_THREADS`` threads.

    numpy's gathers, products and cumulative sums release the GIL, and each chunk fills
    only its own rows, so the numbers are those of a sequential loop.
    """
    starts = range(0, n_boot, step)
    if len(starts) < 2 or _THREADS < 2:
        for r0 in starts:
            count(r0, min(r0 + step, n_boot))
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_THREADS, len(starts))) as pool:
        for done in [pool.submit(count, r0, min(r0 + step, n_boot)) for r0 in starts]:
            done.result()


def _replicate_key(
    s: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int, seed: int
) -> str:
    """Everything a replicate AUC depends on: scores, labels, identity codes, draws, seed."""
    digest = hashlib.sha256(f"{s.size} {n_boot} {seed} {CELLS_PER_CHUNK}".encode())
    for array in (s, y, a, b):
        digest.update(array.dtype.str.encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _interval(
    estimate: float | None, reps: np.ndarray | None, n_boot: int, seed: int, confidence: float
) -> ConfidenceInterval:
    if estimate is None or reps is None or n_boot == 0:
        return ConfidenceInterval(estimate, None, None, n_boot, seed, confidence)
    valid = reps[np.isfinite(reps)]
    n_invalid = int(reps.size - valid.size)
    if valid.size == 0:
        return ConfidenceInterval(estimate, None, None, n_boot, seed, confidence, n_invalid)
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(valid, [tail, 100 - tail])
    return ConfidenceInterval(estimate, float(lo), float(hi), n_boot, seed, confidence, n_invalid)


def _check_boot(n_boot: int, confidence: float) -> None:
    if n_boot < 0:
        raise MetricError(f"n_boot must be >= 0, got {n_boot}")
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must lie in (0, 1), got {confidence}")


def bootstrap_metrics(
    scores: Any,
    labels: Any,
    id_a: Any,
    id_b: Any,
    far_targets: Sequence[float] = metrics.DEFAULT_FAR_TARGETS,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    memo: ReplicateMemo | None = None,
) -> BootstrapResult:
    """Identity-bootstrap CIs of AUC, EER and TAR@FAR; ``n_boot=0`` gives estimates only.

    ``memo`` (one per run) shares the ranked pairs and replicate AUCs with later calls.
    """
    _check_boot(n_boot, confidence)
    memo = memo or ReplicateMemo()
    s, y = metrics.check_scores(scores, labels)
    auc = metrics.roc_auc(s, y)
    eer = metrics.equal_error_rate(s, y).eer
    tars = metrics.tar_at_far(s, y, far_targets)
    reps: dict[str, np.ndarray] | None = None
    if n_boot:
        a, b, n_ids = _identity_codes(id_a, id_b, s.size)
        copies = _draw_counts(n_ids, n_boot, seed)
        roc = memo.counter(s, y, a, b)
        reps = {"auc": np.empty(n_boot), "eer": np.empty(n_boot)}
        reps.update({f"tar{i}": np.empty(n_boot) for i in range(len(tars))})
        targets = [t.far_target for t in tars]

        def count(r0: int, r1: int) -> None:
            auc_rows, eer_rows, tar_rows = roc.figures(copies[r0:r1], targets)
            reps["auc"][r0:r1], reps["eer"][r0:r1] = auc_rows, eer_rows
            for i, rows in enumerate(tar_rows):
                reps[f"tar{i}"][r0:r1] = rows

        _each_chunk(n_boot, roc.chunk, count)
        memo.remember_aucs(_replicate_key(s, y, a, b, n_boot, seed), reps["auc"])
    get = (lambda key: reps[key]) if reps else (lambda key: None)
    return BootstrapResult(
        roc_auc=_interval(auc, get("auc"), n_boot, seed, confidence),
        eer=_interval(eer, get("eer"), n_boot, seed, confidence),
        tar_at_far=tuple(
            (
                t.far_target,
                _interval(t.tar, get(f"tar{i}") if t.supported else None, n_boot, seed, confidence),
            )
            for i, t in enumerate(tars)
        ),
    )


@dataclass(frozen=True)
class PairedDifference:
    """AUC(a) - AUC(b) judged on people: the paired identity bootstrap's interval, its
    two-sided p-value (percentile inversion, never 0: at least 2 / (B + 1)) and the
    replicates' standard deviation, the identity-level standard error."""

    ci: ConfidenceInterval
    p_value: float | None
    std_error: float | None


def paired_auc_difference(
    scores_a: Any,
    scores_b: Any,
    labels: Any,
    id_a: Any,
    id_b: Any,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    memo: ReplicateMemo | None = None,
) -> PairedDifference:
    """AUC(model a) - AUC(model b) on the same pairs, both models seeing the same people in
    every replicate so that their shared difficulty cancels: interval, p-value, SE.

    With the ``memo`` both models' ``bootstrap_metrics`` used (same seed and ``n_boot``), the
    replicates are the difference of theirs, read instead of counted again.
    """
    _check_boot(n_boot, confidence)
    memo = memo or ReplicateMemo()
    sa, y = metrics.check_scores(scores_a, labels)
    sb, _ = metrics.check_scores(scores_b, labels)  # same labels: the same pairs
    diff = metrics.roc_auc(sa, y) - metrics.roc_auc(sb, y)
    if n_boot == 0:
        return PairedDifference(_interval(diff, None, 0, seed, confidence), None, None)
    a, b, n_ids = _identity_codes(id_a, id_b, sa.size)
    known_a = memo.aucs(_replicate_key(sa, y, a, b, n_boot, seed))
    known_b = memo.aucs(_replicate_key(sb, y, a, b, n_boot, seed))
    if known_a is not None and known_b is not None:
        reps = known_a - known_b
    else:
        copies = _draw_counts(n_ids, n_boot, seed)
        roc_a, roc_b = memo.counter(sa, y, a, b), memo.counter(sb, y, a, b)
        reps = np.empty(n_boot)

        def count(r0: int, r1: int) -> None:
            chunk = copies[r0:r1]
            reps[r0:r1] = roc_a.auc(chunk) - roc_b.auc(chunk)

        _each_chunk(n_boot, min(roc_a.chunk, roc_b.chunk), count)
    ci = _interval(diff, reps, n_boot, seed, confidence)
    valid = reps[np.isfinite(reps)]
    if valid.size < 2:
        return PairedDifference(ci, None, None)
    below = (np.count_nonzero(valid <= 0) + 1) / (valid.size + 1)
    above = (np.count_nonzero(valid >= 0) + 1) / (valid.size + 1)
    p = float(min(1.0, 2 * min(below, above)))
    return PairedDifference(ci, p, float(np.std(valid, ddof=1)))


# ---------------------------------------------------------------- DeLong


@dataclass(frozen=True)
class DelongResult:
    """DeLong's test of AUC(a) = AUC(b) on the same pairs; two-sided normal p-value.

    Zero variance (identical rankings) gives z = 0 and p = 1 when the AUCs are equal.
    Note that DeLong treats pairs as independent, which all-pairs protocols are not;
    the identity bootstrap of the difference is the more honest companion figure.
    """

    auc_a: float
    auc_b: float
    diff: float
    var_a: float
    var_b: float
    covariance: float
    variance: float
    std_error: float
    z: float
    p_value: float
    log10_p_value: float  # exact even where p_value underflows to 0 (|z| > ~38)

    def to_dict(self) -> dict[str, Any]:
        return {k: metrics.json_float(v) for k, v in asdict(self).items()}


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (what DeLong's statistic needs)."""
    _values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return (starts + (counts + 1) / 2.0)[inverse]


def delong_components(scores: Any, labels: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, V10, V01) by midranks (Sun & Xu 2014), O(n log n).

    V10[i]: the share of impostors a genuine pair beats (ties half); V01[j]: the share of
    genuine pairs that beat impostor j. Both average to the AUC.
    """
    s, y, n_pos, n_neg = metrics.check_two_classes(scores, labels, "DeLong's test")
    pos, neg = s[y].astype(np.float64), s[~y].astype(np.float64)
    tz = _midranks(np.concatenate([pos, neg]))
    v10 = (tz[:n_pos] - _midranks(pos)) / n_neg
    v01 = 1.0 - (tz[n_pos:] - _midranks(neg)) / n_pos
    return metrics.roc_auc(s, y), v10, v01


def delong_test(scores_a: Any, scores_b: Any, labels: Any) -> DelongResult:
    auc_a, v10a, v01a = delong_components(scores_a, labels)
    auc_b, v10b, v01b = delong_components(scores_b, labels)
    m, n = v10a.size, v01a.size
    if m < 2 or n < 2:
        raise MetricError("DeLong's test needs at least two genuine and two impostor pairs")
    s10, s01 = np.cov(v10a, v10b), np.cov(v01a, v01b)
    cov = s10 / m + s01 / n
    var_a, var_b, cov_ab = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    variance = max(var_a + var_b - 2 * cov_ab, 0.0)
    diff = auc_a - auc_b
    se = math.sqrt(variance)
    z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    from scipy.special import log_ndtr, ndtr

    p = float(2 * ndtr(-abs(z)))
    log10_p = float((math.log(2) + log_ndtr(-abs(z))) / math.log(10))
    return DelongResult(auc_a, auc_b, diff, var_a, var_b, cov_ab, variance, se, z, p, log10_p)


# ---------------------------------------------------------------- DET band


def bootstrap_det_band(
    scores: Any,
    labels: Any,
    id_a: Any,
    id_b: Any,
    fmr_grid: Any,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    memo: ReplicateMemo | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise identity-bootstrap interval of FNMR at each FMR of ``fmr_grid``.

    Each replicate's FNMR at a grid FMR is taken at the lowest threshold whose weighted FMR
    does not exceed it (TAR@FAR's rule); replicates without both classes are left out.
    Returns (lower, upper), NaN where no replicate was valid. With the ``memo`` of the
    model's ``bootstrap_metrics`` the pairs are not ranked again.
    """
    _check_boot(n_boot, confidence)
    s, y = metrics.check_scores(scores, labels)
    grid = np.asarray(fmr_grid, dtype=np.float64)
    a, b, n_ids = _identity_codes(id_a, id_b, s.size)
    copies = _draw_counts(n_ids, n_boot, seed)
    roc = (memo or ReplicateMemo()).counter(s, y, a, b)
    reps = np.full((n_boot, grid.size), np.nan)

    def count(r0: int, r1: int) -> None:
        reps[r0:r1] = roc.fnmr_at(copies[r0:r1], grid)

    _each_chunk(n_boot, roc.chunk, count)
    tail = 100 * (1 - confidence) / 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lower = np.nanpercentile(reps, tail, axis=0)
        upper = np.nanpercentile(reps, 100 - tail, axis=0)
    return lower, upper
