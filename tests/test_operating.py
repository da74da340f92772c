"""Operating points with counts, ZeroFMR/ZeroFNMR, identity concentration, matched impostors,
identity-disjoint threshold choice: checked against brute force on small cases."""

import math

import numpy as np
import pytest

from face_bench.core.errors import MetricError
from face_bench.metrics.operating import (
    counted_rates,
    identity_concentration,
    threshold_at_fmr,
    zero_rates,
)
from face_bench.metrics.transfer import cross_validated_threshold, identity_folds

RNG = np.random.default_rng(7)
labels_ = RNG.random(400) < 0.3
scores_ = np.round(RNG.normal(size=400) + 1.5 * labels_, 2)  # rounded: ties


def test_counted_rates_match_brute_force():
    for thr in (-1.0, 0.0, 0.75, 1.5, 9.0):
        p = counted_rates(scores_, labels_, thr)
        accepted = scores_ >= thr
        assert p.fmr_errors == int((accepted & ~labels_).sum())
        assert p.fnmr_errors == int((~accepted & labels_).sum())
        assert (p.n_impostor, p.n_genuine) == (int((~labels_).sum()), int(labels_.sum()))
        assert p.fmr == p.fmr_errors / p.n_impostor and p.fnmr == p.fnmr_errors / p.n_genuine
    assert counted_rates(scores_, labels_, scores_.min()).accepts_everything
    assert not counted_rates(scores_, labels_, 0.0).accepts_everything


def test_zero_rates_are_pyeers_definitions():
    z = zero_rates(scores_, labels_)
    # ZeroFMR: smallest FNMR over thresholds with no false accept.
    candidates = [t for t in np.unique(scores_) if not ((scores_ >= t) & ~labels_).any()]
    assert z.zero_fmr_threshold == min(candidates)
    assert z.zero_fmr == pytest.approx(
        ((scores_ < min(candidates)) & labels_).sum() / labels_.sum()
    )
    # ZeroFNMR: smallest FMR over thresholds with no false reject.
    thr = scores_[labels_].min()
    assert z.zero_fnmr_threshold == thr
    assert z.zero_fnmr == pytest.approx(((scores_ >= thr) & ~labels_).sum() / (~labels_).sum())


def test_threshold_at_fmr_allows_no_more_than_the_target():
    for target in (0.01, 0.05, 0.2):
        thr = threshold_at_fmr(scores_, labels_, target)
        assert ((scores_ >= thr) & ~labels_).sum() / (~labels_).sum() <= target
        lower = np.unique(scores_)[np.unique(scores_) < thr]
        if lower.size:  # the next lower distinct score would break the target
            assert ((scores_ >= lower.max()) & ~labels_).sum() / (~labels_).sum() > target
    assert threshold_at_fmr(scores_, labels_, 1e-6) is None


def test_identity_concentration_inverse_simpson():
    ids = np.array(["a"] * 6 + ["b"] * 2 + ["c"] * 2)
    # genuine pairs: a 15, b 1, c 1 (shares 15/17, 1/17, 1/17)
    a_idx, b_idx = np.triu_indices(ids.size, 1)
    labels = ids[a_idx] == ids[b_idx]
    c = identity_concentration(ids, ids[a_idx], labels)
    shares = np.array([15, 1, 1]) / 17
    assert c.people == 3 and c.people_with_genuine_pairs == 3
    assert c.largest_identity == "a" and c.largest_share == pytest.approx(15 / 17)
    assert c.effective_identities == pytest.approx(1 / np.sum(shares**2))
    assert "one person (a)" in c.warning
    even = np.repeat(np.arange(8), 3)
    a_idx, b_idx = np.triu_indices(even.size, 1)
    c = identity_concentration(even, even[a_idx], even[a_idx] == even[b_idx])
    assert c.effective_identities == pytest.approx(8) and c.warning is None


def test_cross_validated_thresholds_never_see_their_own_people():
    people = RNG.integers(0, 20, 200)
    a, b = np.triu_indices(200, 1)
    labels = people[a] == people[b]
    scores = RNG.normal(size=a.size) + 2 * labels
    cv = cross_validated_threshold(scores, labels, people[a], people[b], "far", 0.01, k=4, seed=1)
    fold_of = identity_folds(people[a], people[b], 4, 1)
    fa, fb = fold_of(people[a]), fold_of(people[b])
    total_imp = total_gen = 0
    for f in cv.folds:
        train = (fa != f.fold) & (fb != f.fold)
        test = (fa == f.fold) & (fb == f.fold)
        assert f.threshold == threshold_at_fmr(scores[train], labels[train], 0.01)
        assert f.held_out.n_impostor == int((test & ~labels).sum())
        total_imp += f.held_out.n_impostor
        total_gen += f.held_out.n_genuine
    assert (cv.pooled.n_impostor, cv.pooled.n_genuine) == (total_imp, total_gen)
    assert cv.k == 4
    assert all(math.isfinite(t) for t in cv.thresholds)
    with pytest.raises(MetricError, match="cannot form"):
        cross_validated_threshold(scores, labels, people[a], people[b], k=50)


def test_identity_folds_map_every_person_once_and_refuse_strangers():
    names = np.array(["ann", "bob", "cy", "dee", "ed", "flo"])
    fold_of = identity_folds(names[:4], names[2:], 3, 0)
    folds = fold_of(names)
    assert folds.dtype == np.int64 and sorted(np.bincount(folds).tolist()) == [2, 2, 2]
    assert fold_of(names[::-1]).tolist() == folds[::-1].tolist()
    with pytest.raises(KeyError):
        fold_of(np.array(["zed"]))


def test_p_values_below_double_precision_are_not_printed_as_zero():
    from face_bench.metrics.uncertainty import delong_test
    from face_bench.report.text import p_value

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(3000, bool), np.zeros(3000, bool)]
    good = rng.normal(size=6000) + 6 * y
    bad = rng.normal(size=6000) + 0.5 * y
    r = delong_test(good, bad, y)
    assert r.p_value == 0.0 and r.log10_p_value < -300
    text = p_value(r.p_value, r.log10_p_value)
    assert text.startswith("< 1e-300 (log10 p = -") and "0.0" not in text.split("(")[0]
    assert p_value(0.0312) == "0.0312"
