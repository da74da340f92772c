"""Both ways of counting bootstrap replicates give the same figures, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from face_bench.metrics import replicates as rp
from face_bench.metrics import uncertainty as u

TARGETS = (1e-1, 1e-2, 1e-3)


def pairs(n_people: int, per_person: int, seed: int, decimals: int | None = None):
    """All pairs of synthetic people, scores rounded to make ties when ``decimals`` is set."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_people), rng.integers(1, per_person + 1, size=n_people))
    i, j = np.triu_indices(ids.size, k=1)
    a, b = ids[i], ids[j]
    y = a == b
    s = rng.normal(size=a.size) + 1.5 * y
    if decimals is not None:
        s = np.round(s, decimals)
    return s, y, a, b


def both(s, y, a, b):
    dense = rp.DenseReplicates(s, y, a, b)
    by_class = rp.ClassReplicates.build(s, y, a, b)
    assert by_class is not None
    return dense, by_class


def same(x, z) -> bool:
    return np.array_equal(np.asarray(x), np.asarray(z), equal_nan=True)


@pytest.mark.parametrize(
    ("n_people", "per_person", "seed", "decimals"),
    [(8, 12, 0, None), (8, 12, 1, 1), (30, 5, 2, 2), (3, 4, 3, 0), (40, 2, 4, None)],
)
def test_class_form_equals_dense_bit_for_bit(n_people, per_person, seed, decimals):
    s, y, a, b = pairs(n_people, per_person, seed, decimals)
    dense, by_class = both(s, y, a, b)
    copies = u._draw_counts(n_people, 300, seed)  # includes people drawn 0 times
    copies[:3] = 0  # empty replicates: no weight at all
    copies[3, :] = 0
    copies[3, 0] = 2  # one person only: no impostor weight
    d_auc, d_eer, d_tars = dense.figures(copies, TARGETS)
    c_auc, c_eer, c_tars = by_class.figures(copies, TARGETS)
    assert same(d_auc, c_auc) and same(d_eer, c_eer)
    assert all(same(x, z) for x, z in zip(d_tars, c_tars, strict=True))
    assert same(dense.auc(copies), by_class.auc(copies))
    grid = np.geomspace(1e-3, 1.0, 40)
    assert same(dense.fnmr_at(copies[:60], grid), by_class.fnmr_at(copies[:60], grid))
    assert np.isnan(c_auc[:4]).all() and np.isfinite(c_auc[4:]).any()


def test_labels_need_not_follow_identities():
    """A pairs file may label pairs as it likes: classes keep label and people apart."""
    s, _y, a, b = pairs(10, 6, 5, 1)
    y = np.random.default_rng(5).random(s.size) < 0.3
    dense, by_class = both(s, y, a, b)
    copies = u._draw_counts(10, 200, 1)
    (d_auc, d_eer, d_tars), (c_auc, c_eer, c_tars) = (
        dense.figures(copies, TARGETS),
        by_class.figures(copies, TARGETS),
    )
    assert same(d_auc, c_auc) and same(d_eer, c_eer) and same(d_tars, c_tars)


def test_large_sets_stay_dense(monkeypatch):
    s, y, a, b = pairs(8, 12, 0)
    assert isinstance(rp.replicates(s, y, a, b), rp.ClassReplicates)
    monkeypatch.setattr(rp, "CLASS_TABLE_CELLS", 10)
    assert rp.ClassReplicates.build(s, y, a, b) is None
    assert isinstance(rp.replicates(s, y, a, b), rp.DenseReplicates)


def test_bootstrap_results_do_not_depend_on_the_way(monkeypatch):
    s, y, a, b = pairs(12, 8, 6, 2)
    other = s + np.random.default_rng(0).normal(scale=0.5, size=s.size)
    grid = np.geomspace(1e-3, 1.0, 30)

    def run():
        memo = u.ReplicateMemo()
        return (
            u.bootstrap_metrics(s, y, a, b, TARGETS, 400, 3, memo=memo),
            u.paired_auc_difference(s, other, y, a, b, 400, 3, memo=memo),
            u.bootstrap_det_band(s, y, a, b, grid, 150, 3, memo=memo),
        )

    by_class = run()
    monkeypatch.setattr(rp, "CLASS_TABLE_CELLS", 0)
    dense = run()
    assert by_class[:2] == dense[:2]
    assert all(same(x, z) for x, z in zip(by_class[2], dense[2], strict=True))


def test_a_pair_set_is_ranked_once_for_intervals_and_band(monkeypatch):
    s, y, a, b = pairs(10, 6, 7, 2)
    built = []
    monkeypatch.setattr(u, "replicates", lambda *args: built.append(1) or rp.replicates(*args))
    grid = np.geomspace(1e-2, 1, 10)
    memo = u.ReplicateMemo()
    first = u.bootstrap_metrics(s, y, a, b, TARGETS, 100, 0, memo=memo)
    band = u.bootstrap_det_band(s, y, a, b, grid, 50, 0, memo=memo)
    assert len(built) == 1
    # Without a memo every call ranks the pairs afresh, and the numbers are the same.
    assert u.bootstrap_metrics(s, y, a, b, TARGETS, 100, 0) == first
    assert same(u.bootstrap_det_band(s, y, a, b, grid, 50, 0), band)
    assert len(built) == 3
