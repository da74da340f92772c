"""Identity bootstrap and DeLong's test against duplicated data and brute-force components."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from face_bench.core.errors import MetricError
from face_bench.metrics import scoring
from face_bench.metrics import summary as m
from face_bench.metrics import uncertainty as u
from face_bench.metrics import weighted as weighted_rows
from face_bench.metrics.replicates import ClassReplicates, DenseReplicates


def identity_run(n_people: int, per_person: int = 4, seed: int = 0, noise: float = 1.2):
    """All pairs of synthetic people: scores, labels and both identity codes per pair."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_people), per_person)
    emb = rng.normal(size=(n_people, 16))[ids] + noise * rng.normal(size=(ids.size, 16))
    scores, labels = scoring.pair_scores_blocked(emb, ids)
    i, j = scoring.all_pair_indices(ids.size)
    return scores, labels, ids[i], ids[j]


# ---------------------------------------------------------------- weighted metrics


def weighted(scores, labels, id_a, id_b, copies, targets=(0.01, 0.1)):
    """One bootstrap replicate's figures: the bootstrap's own rows, and the public metrics
    with ``sample_weight`` (the same counting primitive) must agree exactly."""
    a, b, _ = u._identity_codes(id_a, id_b, len(scores))
    s, y = m.check_scores(scores, labels)
    tp, fp = DenseReplicates(s, y, a, b).vertices(copies[None, :])
    auc, eer = weighted_rows.auc_rows(tp, fp)[0], weighted_rows.eer_rows(tp, fp)[0]
    tars = [weighted_rows.tar_rows(tp, fp, t)[0] for t in targets]
    by_class = ClassReplicates.build(s, y, a, b).figures(copies[None, :], targets)
    assert (by_class[0][0], by_class[1][0], [t[0] for t in by_class[2]]) == (auc, eer, tars)
    w = copies[a] * copies[b]
    assert m.roc_auc(scores, labels, sample_weight=w) == auc
    assert m.equal_error_rate(scores, labels, sample_weight=w).eer == eer
    assert [t.tar for t in m.tar_at_far(scores, labels, targets, sample_weight=w)] == tars
    return auc, eer, tars


def test_weighted_auc_equals_scikit_learn_with_sample_weight():
    rng = np.random.default_rng(5)
    s = np.round(rng.normal(size=3000), 2)  # ties, as real scores have
    y = rng.random(3000) < 0.2
    s[y] += 0.8
    w = rng.random(3000) * 3
    got = m.roc_auc(s, y, sample_weight=w)
    assert got == pytest.approx(roc_auc_score(y, s, sample_weight=w), rel=1e-12, abs=1e-12)
    assert m.roc_auc(s, y, sample_weight=np.ones(3000)) == m.roc_auc(s, y)


def test_unit_weights_give_the_unweighted_counts():
    rng = np.random.default_rng(6)
    s = np.round(rng.normal(size=500), 1)
    y = rng.random(500) < 0.3
    plain = m.confusion_counts(s, y)
    unit = m.confusion_counts(s, y, np.ones(500))
    assert np.array_equal(plain.thresholds, unit.thresholds)
    assert np.array_equal(plain.tp, unit.tp) and np.array_equal(plain.fp, unit.fp)
    assert (plain.n_pos, plain.n_neg) == (unit.n_pos, unit.n_neg)
    eer = m.equal_error_rate(s, y)
    assert m.equal_error_rate(s, y, sample_weight=np.ones(500)).eer == pytest.approx(eer.eer)
    assert m.equal_error_rate(s, y, sample_weight=np.ones(500)).threshold == eer.threshold
    assert m.tar_at_far(s, y, (0.1,), sample_weight=np.ones(500)) == m.tar_at_far(s, y, (0.1,))


def test_unit_weights_reproduce_the_exact_metrics():
    s, y, a, b = identity_run(25)
    auc, eer, tars = weighted(s, y, a, b, np.ones(25))
    assert auc == pytest.approx(m.roc_auc(s, y), abs=1e-12)
    assert eer == pytest.approx(m.equal_error_rate(s, y).eer, abs=1e-12)
    assert tars == [t.tar for t in m.tar_at_far(s, y, (0.01, 0.1))]


def test_integer_weights_equal_duplicated_pairs():
    """A replicate is the data with each pair repeated c[a]*c[b] times."""
    s, y, a, b = identity_run(12, seed=3)
    copies = np.random.default_rng(1).integers(0, 4, size=12).astype(float)
    copies[[0, 1]] = 2  # keep both classes present
    times = (copies[a] * copies[b]).astype(int)
    s_dup, y_dup = np.repeat(s, times), np.repeat(y, times)
    auc, eer, tars = weighted(s, y, a, b, copies)
    assert auc == pytest.approx(roc_auc_score(y_dup, s_dup), abs=1e-12)
    assert eer == pytest.approx(m.equal_error_rate(s_dup, y_dup).eer, abs=1e-12)
    assert tars == [t.tar for t in m.tar_at_far(s_dup, y_dup, (0.01, 0.1))]


# ---------------------------------------------------------------- bootstrap CIs


def test_intervals_contain_the_estimate_and_are_reproducible():
    s, y, a, b = identity_run(40)
    first = u.bootstrap_metrics(s, y, a, b, (1e-2, 1e-3), n_boot=300, seed=7)
    again = u.bootstrap_metrics(s, y, a, b, (1e-2, 1e-3), n_boot=300, seed=7)
    other = u.bootstrap_metrics(s, y, a, b, (1e-2, 1e-3), n_boot=300, seed=8)
    assert first == again
    assert first != other
    for ci in (first.roc_auc, first.eer, first.tar_at_far[0][1]):
        assert ci.lower <= ci.estimate <= ci.upper
        assert (ci.n_boot, ci.seed, ci.confidence) == (300, 7, 0.95)
    assert first.roc_auc.estimate == m.roc_auc(s, y)
    # 1e-3 needs 1000 impostors; 40 people x 4 images give 12,480 of them
    assert first.tar_at_far[1][1].lower is not None


def test_intervals_shrink_as_people_are_added():
    widths = []
    for people in (20, 120):
        s, y, a, b = identity_run(people, seed=people)
        r = u.bootstrap_metrics(s, y, a, b, (1e-2,), n_boot=200, seed=0)
        widths.append((r.roc_auc.upper - r.roc_auc.lower, r.eer.upper - r.eer.lower))
    assert widths[1][0] < widths[0][0]
    assert widths[1][1] < widths[0][1]


def test_no_bootstrap_gives_estimates_only_and_json_keys():
    s, y, a, b = identity_run(10)
    r = u.bootstrap_metrics(s, y, a, b, (1e-2, 1e-3, 1e-4), n_boot=0)
    assert (r.roc_auc.lower, r.roc_auc.upper, r.roc_auc.n_boot) == (None, None, 0)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert list(d) == ["roc_auc", "eer", "tar_at_far_1e-2", "tar_at_far_1e-3", "tar_at_far_1e-4"]
    assert d["tar_at_far_1e-4"]["estimate"] is None  # 720 impostors cannot support 1e-4


def test_interval_names_are_catalog_names():
    from face_bench.metrics.catalog import metrics_for

    s = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.15])
    y = np.array([True, True, False, False, False, False])
    r = u.bootstrap_metrics(s, y, [0, 0, 0, 1, 0, 1], [0, 0, 1, 2, 2, 2], (1e-2, 1e-3), n_boot=5)
    assert set(r.to_dict()) <= {m.name for m in metrics_for((1e-2, 1e-3))}


def test_degenerate_replicates_are_counted_not_averaged():
    # Two people: a replicate drawing one person twice has no impostor pairs.
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.15])
    y = np.array([True, True, False, False, False, False])
    a = np.array([0, 1, 0, 0, 1, 1])
    b = np.array([0, 1, 1, 1, 0, 0])
    r = u.bootstrap_metrics(s, y, a, b, (), n_boot=200, seed=0)
    assert 0 < r.roc_auc.n_invalid < 200
    assert r.roc_auc.lower == r.roc_auc.upper == 1.0


def test_auc_difference_uses_shared_replicates():
    s, y, a, b = identity_run(30)
    same = u.paired_auc_difference(s, s, y, a, b, 200, 0).ci
    assert (same.estimate, same.lower, same.upper) == (0.0, 0.0, 0.0)
    noisy = s + np.random.default_rng(0).normal(scale=0.3, size=s.size)
    ab = u.paired_auc_difference(s, noisy, y, a, b, 200, 0).ci
    ba = u.paired_auc_difference(noisy, s, y, a, b, 200, 0).ci
    assert ab.lower <= ab.estimate <= ab.upper
    assert (ab.lower, ab.upper) == pytest.approx((-ba.upper, -ba.lower))
    assert ab.estimate > 0


def test_auc_difference_reuses_each_models_replicates_exactly(monkeypatch):
    """After both models' bootstrap_metrics, the paired difference is read from their replicate
    AUCs (same people drawn) and equals the difference counted afresh, bit for bit."""
    s, y, a, b = identity_run(30)
    noisy = s + np.random.default_rng(1).normal(scale=0.3, size=s.size)
    fresh = u.paired_auc_difference(s, noisy, y, a, b, 300, 4)
    memo = u.ReplicateMemo()
    u.bootstrap_metrics(s, y, a, b, n_boot=300, seed=4, memo=memo)
    u.bootstrap_metrics(noisy, y, a, b, n_boot=300, seed=4, memo=memo)
    monkeypatch.setattr(u, "_each_chunk", None)  # any recount would fail here
    assert u.paired_auc_difference(s, noisy, y, a, b, 300, 4, memo=memo) == fresh
    monkeypatch.undo()
    other_seed = u.paired_auc_difference(s, noisy, y, a, b, 300, 5, memo=memo)  # not kept
    assert other_seed != fresh


def test_bad_arguments():
    s, y, a, b = identity_run(5)
    with pytest.raises(MetricError, match="n_boot"):
        u.bootstrap_metrics(s, y, a, b, n_boot=-1)
    with pytest.raises(MetricError, match="identity codes"):
        u.bootstrap_metrics(s, y, a[:-1], b, n_boot=10)
    with pytest.raises(MetricError, match="equal length"):
        u.paired_auc_difference(s, s[:-1], y, a, b, 10, 0)


# ---------------------------------------------------------------- DeLong


def brute_components(s, y):
    psi = (s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :])
    return psi.mean(1), psi.mean(0)


def test_delong_hand_example():
    # Worked by hand. Model a: genuine 0.9 0.8 0.4 / impostors 0.7 0.3 0.2 -> V10 (1, 1, 2/3),
    # V01 (2/3, 1, 1), AUC 8/9. Model b with ties: V10 (2/3, 1/2, 1/2), V01 (2/3, 0, 1),
    # AUC 5/9. S10 = [[1/27, 1/108], [1/108, 1/108]], S01 = [[1/27, -1/54], [-1/54, 7/27]],
    # Var(diff) = (1/36 + 1/3) / 3 = 13/108, z = (1/3) / sqrt(13/108) = sqrt(12/13).
    y = np.array([True, True, True, False, False, False])
    a = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2])
    b = np.array([0.6, 0.5, 0.5, 0.5, 0.7, 0.1])
    r = u.delong_test(a, b, y)
    assert (r.auc_a, r.auc_b, r.diff) == (
        pytest.approx(8 / 9),
        pytest.approx(5 / 9),
        pytest.approx(1 / 3),
    )
    assert (r.var_a, r.var_b, r.covariance) == pytest.approx((2 / 81, 29 / 324, -1 / 324))
    assert r.variance == pytest.approx(13 / 108)
    assert r.z == pytest.approx(math.sqrt(12 / 13))
    assert r.p_value == pytest.approx(2 * norm.sf(math.sqrt(12 / 13)))
    assert r.p_value == pytest.approx(0.3367, abs=1e-4)


def test_delong_components_and_variance_by_brute_force():
    rng = np.random.default_rng(9)
    y = rng.random(300) < 0.3
    a = np.round(rng.normal(size=300) + y, 1)
    b = np.round(rng.normal(size=300) + 0.5 * y + 0.3 * a, 1)
    auc, v10, v01 = u.delong_components(a, y)
    ref10, ref01 = brute_components(a, y)
    np.testing.assert_allclose(v10, ref10, atol=1e-12)
    np.testing.assert_allclose(v01, ref01, atol=1e-12)
    assert auc == roc_auc_score(y, a)
    b10, b01 = brute_components(b, y)
    m_, n_ = y.sum(), (~y).sum()
    s10, s01 = np.cov(ref10, b10), np.cov(ref01, b01)
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m_ + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / n_
    r = u.delong_test(a, b, y)
    assert r.variance == pytest.approx(var, rel=1e-10)
    assert r.p_value == pytest.approx(2 * norm.sf(abs(r.diff) / math.sqrt(var)), rel=1e-10)
    json.dumps(r.to_dict(), allow_nan=False)


def test_delong_identical_models():
    s, y, _, _ = identity_run(10)
    r = u.delong_test(s, s, y)
    assert (r.diff, r.z, r.p_value) == (0.0, 0.0, 1.0)
    with pytest.raises(MetricError, match="at least two"):
        u.delong_test([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [True, False, False])


def test_paired_identity_bootstrap_gives_the_p_value_and_a_wider_error_than_delong():
    """All pairs of few people: pairs share people, so the identity-level standard error of
    ΔAUC is larger than DeLong's, which treats the pairs as independent; the p-value is the
    replicates' two-sided share beyond 0, never 0."""
    rng = np.random.default_rng(5)
    person = np.repeat(np.arange(12), 5)
    a, b = np.triu_indices(person.size, 1)
    y = person[a] == person[b]
    hard = rng.normal(0, 1.0, 12)  # some people are hard for both models
    base = np.where(y, 1.5, 0.0) + hard[person[a]] + hard[person[b]]
    s1 = base + rng.normal(0, 1, a.size)
    s2 = base + rng.normal(0, 1.2, a.size)
    paired = u.paired_auc_difference(s1, s2, y, person[a], person[b], 400, 0)
    delong = u.delong_test(s1, s2, y)
    assert paired.std_error > delong.std_error
    assert 2 / 401 <= paired.p_value <= 1.0
    same = u.paired_auc_difference(s1, s1, y, person[a], person[b], 100, 0)
    assert same.p_value == 1.0
