"""Thresholds chosen on one set of pairs and judged on another.

A threshold picked on the very pairs it is then scored on flatters itself (the best-F1
threshold is best *there*). bob.measure's answer is dev/eval: choose on one set, apply to
another. Here that is either another subset (``--threshold-from ordinary``) or, within
one subset, identity-disjoint folds: people are split into k folds, each fold's threshold
is chosen on the pairs among the other folds' people and applied to the pairs among the
fold's own people, so no person is on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics import summary as metrics
from face_bench.metrics.operating import CountedRates, counted_rates, threshold_at_fmr

Criterion = Literal["far", "best_f1"]


def choose_threshold(scores: Any, labels: Any, criterion: Criterion, far: float) -> float:
    """The threshold ``criterion`` picks on these pairs (higher score = same person)."""
    if criterion == "best_f1":
        return metrics.best_f1(scores, labels).threshold
    thr = threshold_at_fmr(scores, labels, far)
    if thr is None:
        raise MetricError(f"insufficient data: too few impostor pairs to choose FMR {far:g}")
    return thr


def criterion_label(criterion: Criterion, far: float) -> str:
    return "best F1" if criterion == "best_f1" else f"FMR <= {far:g}"


@dataclass(frozen=True)
class FoldResult:
    """One identity fold: the threshold chosen on the other folds, its rates on this one."""

    fold: int
    threshold: float
    held_out: CountedRates


@dataclass(frozen=True)
class CrossValidated:
    """Held-out rates summed over identity-disjoint folds, and the spread of thresholds.

    ``pooled`` adds every fold's held-out errors and pairs, so its rates weigh each held-out
    pair once. Pairs between people of different folds are never scored here.
    """

    criterion: str
    k: int
    thresholds: tuple[float, ...]
    pooled: CountedRates
    folds: tuple[FoldResult, ...]


def identity_folds(id_a: Any, id_b: Any, k: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Person code -> fold number (0..k-1), elementwise; people shuffled with ``seed``."""
    people = np.unique(np.concatenate([np.asarray(id_a), np.asarray(id_b)]))
    if people.size < k:
        raise MetricError(f"{people.size} people cannot form {k} identity-disjoint folds")
    order = np.random.default_rng(seed).permutation(people.size)
    fold_of = np.empty(people.size, dtype=np.int64)
    fold_of[order] = np.arange(people.size) % k

    def to_fold(codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        at = np.minimum(np.searchsorted(people, codes), people.size - 1)  # people is sorted
        if codes.size and not (people[at] == codes).all():
            raise KeyError("a person outside the folds")
        found: np.ndarray = fold_of[at]
        return found

    return to_fold


def fold_splits(
    id_a: Any, id_b: Any, k: int, seed: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(fold, train, test) for every fold with pairs of its own: ``train`` marks the pairs
    among the other folds' people, ``test`` those among the fold's own people (pairs across
    folds are in neither), so no person is on both sides."""
    to_fold = identity_folds(id_a, id_b, k, seed)
    fa, fb = to_fold(np.asarray(id_a)), to_fold(np.asarray(id_b))
    for fold in range(k):
        test = (fa == fold) & (fb == fold)
        if test.any():
            yield fold, (fa != fold) & (fb != fold), test


def cross_validated_threshold(
    scores: Any,
    labels: Any,
    id_a: Any,
    id_b: Any,
    criterion: Criterion = "far",
    far: float = 1e-3,
    k: int = 5,
    seed: int = 0,
) -> CrossValidated:
    """Choose on the other folds' people, judge on this fold's people, for every fold."""
    s, y = metrics.check_scores(scores, labels)
    results = []
    for fold, train, test in fold_splits(id_a, id_b, k, seed):
        try:
            thr = choose_threshold(s[train], y[train], criterion, far)
        except MetricError:
            continue  # a fold whose training pairs lack a class cannot choose
        results.append(FoldResult(fold, thr, counted_rates(s[test], y[test], thr)))
    if not results:
        raise MetricError(
            f"no identity fold could choose a {criterion_label(criterion, far)} threshold"
        )
    return CrossValidated(
        criterion_label(criterion, far),
        k,
        tuple(r.threshold for r in results),
        CountedRates.pooled(r.held_out for r in results),
        tuple(results),
    )
