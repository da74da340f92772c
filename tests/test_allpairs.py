"""face_bench.metrics.allpairs: exact all-pairs metrics from per-block counts.

The per-block path must give the same bits as the array path it replaces on a cluster
(scores in memory, the search path of compute_all) and agree with scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from face_bench.core.errors import MetricError
from face_bench.metrics import operating
from face_bench.metrics import summary as m
from face_bench.metrics.allpairs import (
    SortedScores,
    all_pair_scores,
    local_mapper,
    summarise_all_pairs,
)
from face_bench.metrics.scoring import block_bounds, pair_scores_blocked

BLOCK = 1 << 15  # small blocks: many of them, so merging across blocks is exercised


def synthetic(n: int, d: int, people: int, seed: int, quantise: float | None = None):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, people, n)
    centres = rng.normal(size=(people, d))
    e = centres[ids] + rng.normal(scale=1.3, size=(n, d))
    if quantise:  # coarse embeddings make many exactly tied scores
        e = np.round(e / quantise) * quantise
    return e.astype(np.float32), ids


def array_reference(e, ids, similarity, far_targets=m.DEFAULT_FAR_TARGETS):
    s, y = pair_scores_blocked(e, ids, similarity, block_elems=BLOCK)
    bounds = block_bounds(len(e), BLOCK)
    return s, y, m.compute_all(s, y, far_targets, method="search", chunk_bounds=bounds)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
@pytest.mark.parametrize("quantise", [None, 0.5])
def test_per_block_summary_equals_the_array_path_bit_for_bit(similarity, quantise):
    e, ids = synthetic(700, 16, 120, seed=3, quantise=quantise)
    s, y, reference = array_reference(e, ids, similarity)
    got = summarise_all_pairs(e, ids, similarity, block_elems=BLOCK)
    assert got.summary == reference  # every field, floats compared exactly
    assert got.summary.roc_auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert np.array_equal(got.genuine, np.sort(s[y]))


def test_sweep_and_counts_at_chosen_thresholds_match_the_arrays():
    e, ids = synthetic(500, 8, 60, seed=5)
    s, y, _ = array_reference(e, ids, "cosine")
    got = summarise_all_pairs(e, ids, "cosine", thresholds=(0.1, 0.5), block_elems=BLOCK)
    for t, count in got.impostors_at_or_above.items():
        assert count == int(np.count_nonzero(s[~y] >= np.float32(t)))
    reference = m.sweep_at_genuine_scores(s, y)
    sweep = got.sweep()
    assert np.array_equal(sweep.thresholds, reference.thresholds)
    assert np.array_equal(sweep.tp, reference.tp) and np.array_equal(sweep.fp, reference.fp)


def test_tar_at_far_brute_force_on_every_target():
    e, ids = synthetic(400, 8, 40, seed=11, quantise=0.25)
    s, y, _ = array_reference(e, ids, "euclidean")
    targets = (0.5, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
    got = summarise_all_pairs(e, ids, "euclidean", far_targets=targets, block_elems=BLOCK)
    imp, gen = s[~y].astype(np.float64), s[y].astype(np.float64)
    for entry in got.summary.tar_at_far:
        allowed = math.floor(entry.far_target * imp.size + 1e-9)
        if allowed < 1:
            assert not entry.supported and entry.tar is None
            continue
        # Brute force: the lowest distinct score whose FMR stays within the target.
        candidates = np.unique(s)
        ok = [t for t in candidates if np.count_nonzero(imp >= t) <= allowed]
        best = min(ok) if ok else math.inf
        assert entry.threshold == pytest.approx(best, abs=0)
        assert entry.tar == np.count_nonzero(gen >= best) / gen.size
        assert entry.achieved_far == np.count_nonzero(imp >= best) / imp.size


def test_scores_from_blocks_equal_the_in_memory_scorer():
    e, ids = synthetic(300, 8, 30, seed=2)
    for similarity in ("cosine", "euclidean"):
        a = pair_scores_blocked(e, ids, similarity, block_elems=BLOCK)
        b = all_pair_scores(e, ids, similarity, local_mapper, block_elems=BLOCK)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_one_class_only_is_a_metric_error():
    e, _ids = synthetic(50, 4, 5, seed=1)
    with pytest.raises(MetricError):
        summarise_all_pairs(e, np.zeros(50, int), "cosine")
    with pytest.raises(MetricError):
        summarise_all_pairs(e, np.arange(50), "cosine")


# ---------------------------------------------------------------- one sort, every figure


def _scored(similarity, quantise, seed, n=600):
    e, ids = synthetic(n, 16, n // 6, seed=seed, quantise=quantise)
    s, y = pair_scores_blocked(e, ids, similarity, block_elems=BLOCK)
    return s, y, block_bounds(len(e), BLOCK)


def _thresholds(s, y):
    """Scores of both classes, values between float32 neighbours, and beyond every score."""
    rng = np.random.default_rng(0)
    picked = np.r_[rng.choice(s[y], 20), rng.choice(s[~y], 20)].astype(np.float64)
    between = picked + np.spacing(picked.astype(np.float32)).astype(np.float64) / 3
    return [*picked, *between, *(-between), s.min(), s.max(), -math.inf, math.inf, 0.0, 1e300]


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])  # similarity, -distance
@pytest.mark.parametrize("quantise", [None, 0.5, 1.5])  # 1.5: few distinct scores
@pytest.mark.parametrize("seed", [0, 1])
def test_one_sort_gives_the_array_path_figures_bit_for_bit(similarity, quantise, seed, slices):
    s, y, bounds = _scored(similarity, quantise, seed)
    targets = (0.5, 1e-1, 1e-2, 1e-3, 1e-4, 1e-6)
    one = SortedScores(s, y, bounds)
    reference = m.compute_all(s, y, targets, method="search", chunk_bounds=bounds)
    assert one.summary(targets) == reference  # every field, floats compared exactly
    by_sort = m.compute_all(s, y, targets, method="sort", chunk_bounds=bounds)
    assert one.summary(targets) == replace(by_sort, method="search")
    sweep, ref_sweep = one.sweep(), m.sweep_at_genuine_scores(s, y)
    for field in ("thresholds", "tp", "fp", "precision", "recall", "f1", "fmr", "fnmr"):
        assert np.array_equal(getattr(sweep, field), getattr(ref_sweep, field))
    for t in _thresholds(s, y):
        assert one.rates(t) == m.rates_at_threshold(s, y, t)
        assert one.counted_rates(t) == operating.counted_rates(s, y, t)
    assert one.zero_rates() == operating.zero_rates(s, y)
    for target in (*targets, 1.0, 0.0, 0.3):
        assert one.threshold_at_fmr(target) == operating.threshold_at_fmr(s, y, target)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
@pytest.mark.parametrize("quantise", [None, 1.5])
def test_one_sort_equals_scikit_learn_with_ties(similarity, quantise):
    s, y, _ = _scored(similarity, quantise, seed=4)
    one = SortedScores(s, y)
    auc = one.summary().roc_auc
    # The exact Mann-Whitney fraction (ties half), rounded once; scikit-learn's trapezoid sums
    # floats and may land one ulp away.
    gen, imp = np.sort(s[y]), np.sort(s[~y])
    below = np.searchsorted(imp, gen, "left").sum() * 2
    ties = (np.searchsorted(imp, gen, "right") - np.searchsorted(imp, gen, "left")).sum()
    assert auc == float(Fraction(int(below + ties), 2 * gen.size * imp.size))
    assert abs(auc - roc_auc_score(y, s)) <= np.spacing(auc)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    sweep = one.sweep()  # rows at the distinct genuine scores: a subset of sklearn's
    rows = np.searchsorted(-thr[1:], -sweep.thresholds) + 1
    assert np.array_equal(thr[rows], sweep.thresholds)
    assert np.array_equal(fpr[rows], sweep.fmr) and np.array_equal(tpr[rows], sweep.recall)


def test_brute_force_counts_at_every_distinct_score():
    s, y, _ = _scored("euclidean", 1.5, seed=7, n=200)
    one = SortedScores(s, y)
    for t in np.unique(s):
        tp, fp = one.counts_at(float(t))
        assert tp == sum(1 for v, g in zip(s, y, strict=True) if g and v >= t)
        assert fp == sum(1 for v, g in zip(s, y, strict=True) if not g and v >= t)


def test_the_sort_is_the_only_full_size_copy():
    s, y, _ = _scored("cosine", None, seed=2)
    one = SortedScores(s, y)
    assert one.scores is s and one.labels is y
    assert sum(part.size for part in one.parts) == s.size  # one copy, in sorted slices
    assert all(part.dtype == np.float32 for part in one.parts)  # float32 kept, no float64
    held = [a for a in vars(one).values() if isinstance(a, np.ndarray)]
    assert not [a for a in held if a.size == s.size and a is not s and a is not y]


@pytest.fixture(params=[1, 3], ids=["one-slice", "three-slices"])
def slices(request, monkeypatch):
    """The sorted copy in one slice, or in three sorted side by side (as on 3 cores)."""
    from face_bench.metrics import allpairs

    monkeypatch.setattr(allpairs, "_SORT_THREADS", request.param)
    monkeypatch.setattr(allpairs, "_MIN_SLICE", 1000)
    monkeypatch.setattr(allpairs.os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    return request.param


def test_sorted_slices_give_the_same_figures(slices):
    s, y, bounds = _scored("euclidean", 0.5, seed=3)
    one = SortedScores(s, y, bounds)
    assert len(one.parts) == slices
    targets = (1e-1, 1e-3, 1e-5)
    assert one.summary(targets) == m.compute_all(s, y, targets, "search", bounds)
    assert one.zero_rates() == operating.zero_rates(s, y)
    for t in _thresholds(s, y):
        assert one.rates(t) == m.rates_at_threshold(s, y, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_keys_sort_like_the_floats(dtype):
    from face_bench.metrics.allpairs import _from_order_key, _order_key

    values = np.array([-np.inf, -2.5, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, np.inf], dtype)
    keys = [_order_key(v) for v in values]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(_from_order_key(k, values.dtype) == v for k, v in zip(keys, values, strict=True))
