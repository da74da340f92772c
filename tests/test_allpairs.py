"""face_bench.metrics.allpairs: exact all-pairs metrics from per-block counts.

The per-block path must give the same bits as the array path it replaces on a cluster
(scores in memory, the search path of compute_all) and agree with scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from face_bench.core.errors import MetricError
from face_bench.metrics import summary as m
from face_bench.metrics.allpairs import all_pair_scores, local_mapper, summarise_all_pairs
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
