"""Every metric against an independent reference: scikit-learn or a brute-force count."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_curve as sk_pr_curve
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from face_bench.core.errors import MetricError
from face_bench.metrics import summary as m

# ---------------------------------------------------------------- references


def brute_auc(s: np.ndarray, y: np.ndarray) -> float:
    pos, neg = s[y][:, None], s[~y][None, :]
    return ((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)


def brute_points(s: np.ndarray, y: np.ndarray):
    """(thresholds, tp, fp) at +inf and every distinct score, by plain comparisons."""
    thr = np.r_[np.inf, np.unique(s)[::-1]]
    accepted = s[None, :] >= thr[:, None]
    return thr, (accepted & y).sum(1), (accepted & ~y).sum(1)


def brute_eer(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Linear interpolation at the first sign change of FNMR - FMR, in plain floats."""
    thr, tp, fp = brute_points(s, y)
    fmr, fnmr = fp / (~y).sum(), 1 - tp / y.sum()
    d = fnmr - fmr
    for k in range(1, thr.size):
        if d[k] <= 1e-15:
            lam = d[k - 1] / (d[k - 1] - d[k])
            eer = fmr[k - 1] + lam * (fmr[k] - fmr[k - 1])
            break
    gaps = np.abs(d)
    best = np.flatnonzero(gaps <= gaps.min() + 1e-15)[-1]  # ties: the lower threshold
    return eer, thr[best]


def brute_tar(s: np.ndarray, y: np.ndarray, target: float) -> tuple[float, float, float]:
    thr, tp, fp = brute_points(s, y)
    ok = fp / (~y).sum() <= target + 1e-12
    k = np.flatnonzero(ok)[-1]  # thresholds descend: the last allowed is the smallest
    return tp[k] / y.sum(), thr[k], fp[k] / (~y).sum()


def random_case(rng: np.random.Generator, tied: bool):
    n = int(rng.integers(2, 80))
    s = rng.normal(size=n)
    if tied:
        s = np.round(s, 1)
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[0], y[-1] = True, False
    return s, y


CASES = [random_case(np.random.default_rng(seed), tied=seed % 2 == 0) for seed in range(60)]


# ---------------------------------------------------------------- primitive and curves


@pytest.mark.parametrize("tied", [False, True])
def test_roc_curve_equals_sklearn_unthinned(tied):
    rng = np.random.default_rng(3)
    s = rng.normal(size=500)
    s = np.round(s, 1) if tied else s
    y = rng.random(500) < 0.3
    roc = m.roc_curve(s, y)
    fpr, tpr, thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(roc.thresholds[1:], thr[1:])
    assert roc.thresholds[0] == np.inf


def test_confusion_counts_match_plain_counting():
    for s, y in CASES[:20]:
        c = m.confusion_counts(s, y)
        thr, tp, fp = brute_points(s, y)
        np.testing.assert_array_equal(c.thresholds, thr[1:])
        np.testing.assert_array_equal(c.tp, tp[1:])
        np.testing.assert_array_equal(c.fp, fp[1:])
        np.testing.assert_array_equal(c.tn, (~y).sum() - fp[1:])
        np.testing.assert_array_equal(c.fn, y.sum() - tp[1:])


def test_det_is_the_roc_in_error_rates():
    s, y = CASES[4]
    roc, det = m.roc_curve(s, y), m.det_curve(s, y)
    np.testing.assert_array_equal(det.fmr, roc.fpr)
    np.testing.assert_allclose(det.fnmr, 1 - roc.tpr)
    z = m.probit(det.fnmr)
    assert np.isfinite(z).all()
    assert m.probit(0.5) == pytest.approx(0.0)


def test_precision_recall_equals_sklearn():
    rng = np.random.default_rng(8)
    s, y = np.round(rng.normal(size=300), 1), rng.random(300) < 0.4
    pr = m.precision_recall_curve(s, y)
    precision, recall, thr = sk_pr_curve(y, s)
    # scikit-learn: ascending thresholds plus a final (precision 1, recall 0) point.
    np.testing.assert_array_equal(pr.thresholds[::-1], thr)
    np.testing.assert_allclose(pr.precision[::-1], precision[:-1], atol=1e-12)
    np.testing.assert_allclose(pr.recall[::-1], recall[:-1], atol=1e-12)


def test_sweep_rates_recomputed_from_returned_thresholds():
    for s, y in CASES[:30]:
        sw = m.threshold_sweep(s, y)
        accepted = s[None, :] >= sw.thresholds[:, None]
        tp, fp = (accepted & y).sum(1), (accepted & ~y).sum(1)
        p, n = y.sum(), (~y).sum()
        np.testing.assert_array_equal(sw.tp, tp)
        np.testing.assert_array_equal(sw.fp, fp)
        np.testing.assert_allclose(sw.precision, tp / (tp + fp))
        np.testing.assert_allclose(sw.recall, tp / p)
        np.testing.assert_allclose(sw.f1, 2 * tp / (2 * tp + fp + (p - tp)))
        np.testing.assert_allclose(sw.accuracy, (tp + n - fp) / (p + n))
        np.testing.assert_allclose(sw.fmr, fp / n)
        np.testing.assert_allclose(sw.fnmr, (p - tp) / p)


def test_rates_at_threshold_by_plain_counting():
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    y = np.array([True, True, False, False, True])
    r = m.rates_at_threshold(s, y, 0.8)
    assert (r.tp, r.fp, r.tn, r.fn) == (2, 1, 1, 1)
    assert r.precision == pytest.approx(2 / 3)
    assert r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 / 3)
    assert r.accuracy == pytest.approx(3 / 5)
    assert (r.fmr, r.fnmr) == (pytest.approx(0.5), pytest.approx(1 / 3))
    nothing = m.rates_at_threshold(s, y, 2.0)
    assert nothing.precision == 1.0  # nothing accepted: scikit-learn's end-point convention
    assert (nothing.fmr, nothing.fnmr, nothing.f1) == (0.0, 1.0, 0.0)
    only_genuine = m.rates_at_threshold(s[y], y[y], 0.5)
    assert math.isnan(only_genuine.fmr)


# ---------------------------------------------------------------- AUC


@pytest.mark.parametrize("method", ["sort", "search"])
def test_auc_equals_sklearn_and_brute_force(method):
    for s, y in CASES:
        auc = m.roc_auc(s, y, method=method)
        assert abs(auc - roc_auc_score(y, s)) <= 1e-12
        assert abs(auc - brute_auc(s, y)) <= 1e-12


def test_search_auc_is_bitwise_the_sort_auc_in_both_orientations():
    rng = np.random.default_rng(11)
    s = np.round(rng.normal(size=5000), 2).astype(np.float32)
    for y in (rng.random(5000) < 0.02, rng.random(5000) < 0.98):
        assert m.roc_auc(s, y, "search") == m.roc_auc(s, y, "sort")


def test_auto_switches_to_search_on_huge_inputs_and_agrees():
    rng = np.random.default_rng(5)
    n = (1 << 20) + 1000
    y = rng.random(n) < 0.01
    s = (rng.normal(size=n) + 2.0 * y).astype(np.float32)
    fast = m.compute_all(s, y)
    slow = m.compute_all(s, y, method="sort")
    assert (fast.method, slow.method) == ("search", "sort")
    assert fast.to_dict() | {"method": "x"} == slow.to_dict() | {"method": "x"}
    assert abs(fast.roc_auc - roc_auc_score(y, s)) <= 1e-12


# ---------------------------------------------------------------- EER


@pytest.mark.parametrize("method", ["sort", "search"])
def test_eer_against_brute_force(method):
    for s, y in CASES:
        got = m.equal_error_rate(s, y, method=method)
        eer, thr = brute_eer(s, y)
        assert got.eer == pytest.approx(eer, abs=1e-12)
        assert got.threshold == thr


def test_eer_hand_example():
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.6, 0.9])
    y = np.array([False, False, False, False, True, True, True])
    # Vertices (fmr, fnmr): 0.9 (0, 2/3), 0.6 (0, 1/3), 0.4 (1/4, 1/3), 0.35 (1/4, 0).
    # FNMR = FMR on the vertical segment 0.4 -> 0.35 at FMR = 1/4.
    got = m.equal_error_rate(s, y)
    assert got.eer == 0.25
    assert got.threshold == 0.4  # |1/3 - 1/4| < |0 - 1/4|


@pytest.mark.parametrize("method", ["sort", "search"])
def test_eer_of_perfect_reversed_and_constant_scores(method):
    y = np.array([True, True, False, False])
    perfect = m.equal_error_rate([0.9, 0.8, 0.2, 0.1], y, method)
    assert (perfect.eer, perfect.threshold) == (0.0, 0.8)
    reversed_ = m.equal_error_rate([0.1, 0.2, 0.8, 0.9], y, method)
    assert (reversed_.eer, reversed_.threshold) == (1.0, 0.8)  # FMR = FNMR = 1 there
    constant = m.equal_error_rate([0.5, 0.5, 0.5, 0.5], y, method)
    assert (constant.eer, constant.threshold) == (0.5, 0.5)


# ---------------------------------------------------------------- TAR @ FAR


@pytest.mark.parametrize("method", ["sort", "search"])
def test_tar_at_far_against_brute_force(method):
    for s, y in CASES:
        n_imp = int((~y).sum())
        targets = (1 / n_imp, 0.1, 0.25, 0.5, 1.0)
        for t, got in zip(targets, m.tar_at_far(s, y, targets, method=method), strict=True):
            assert got.supported == (t * n_imp >= m.MIN_SUPPORT_ERRORS - 1e-9)
            assert got.expected_errors == pytest.approx(t * n_imp)
            if got.tar is None:
                assert t * n_imp < 1 - 1e-9
                continue
            tar, thr, far = brute_tar(s, y, t)
            assert (got.tar, got.threshold) == (pytest.approx(tar), thr)
            assert got.achieved_far == pytest.approx(far)
            assert got.achieved_far <= t + 1e-12
            accepted = np.asarray(s) >= got.threshold
            assert np.count_nonzero(accepted & ~y) / n_imp == pytest.approx(got.achieved_far)


def test_tar_at_far_never_exceeds_target_with_ties():
    s = np.array([0.9, 0.5, 0.5, 0.5, 0.2, 0.1])
    y = np.array([True, True, False, False, False, False])
    (point,) = m.tar_at_far(s, y, [0.25])  # one false accept allowed; the tie holds two
    assert (point.tar, point.threshold, point.achieved_far) == (0.5, 0.9, 0.0)
    (top,) = m.tar_at_far([0.5, 0.5, 0.5, 0.1], [True, False, False, False], [0.34])
    assert (top.tar, top.threshold) == (0.0, math.inf)
    assert top.to_dict()["threshold"] is None


def test_tar_at_far_unsupported_when_too_few_impostors():
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=1100), np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    points = m.tar_at_far(s, y, (1e-2, 1e-3, 1e-4))
    # 10 allowed false accepts meet the rule; 1 is thin evidence (computed, not supported).
    assert [p.supported for p in points] == [True, False, False]
    assert points[1].tar is not None and points[1].reason.startswith("thin evidence")
    assert (points[2].tar, points[2].threshold, points[2].reason) == (
        None,
        None,
        "insufficient data",
    )
    for method in ("sort", "search"):
        assert m.tar_at_far(s, y, (1e-2, 1e-3, 1e-4), method=method) == points


# ---------------------------------------------------------------- F1, d', FTA


@pytest.mark.parametrize("method", ["sort", "search"])
def test_best_f1_against_brute_force(method):
    for s, y in CASES:
        thr, tp, fp = brute_points(s, y)
        f1 = 2 * tp / (tp + fp + y.sum())
        k = int(np.argmax(f1))
        got = m.best_f1(s, y, method=method)
        assert (got.threshold, got.f1) == (thr[k], pytest.approx(f1[k]))
        assert got.precision == pytest.approx(tp[k] / (tp[k] + fp[k]))
        assert got.recall == pytest.approx(tp[k] / y.sum())


@pytest.mark.parametrize("errors, n", [(1, 10), (12, 1000), (7, 7), (499, 1000)])
def test_error_rate_interval_is_scipys_exact_interval(errors, n):
    from scipy.stats import binomtest

    from face_bench.metrics.rates import error_rate_interval

    exact = binomtest(errors, n).proportion_ci(0.95, method="exact")
    assert error_rate_interval(errors, n) == pytest.approx((exact.low, exact.high), abs=1e-9)


def test_error_rate_interval_of_no_errors_is_a_one_sided_bound():
    from face_bench.metrics.rates import error_rate_interval

    lower, upper = error_rate_interval(0, 1000)
    assert lower == 0 and upper == pytest.approx(1 - 0.05 ** (1 / 1000))
    assert 2.9 / 1000 < upper < 3.0 / 1000  # the rule of three
    with pytest.raises(MetricError, match="errors <= n"):
        error_rate_interval(3, 2)


def test_d_prime_and_moments():
    s = np.array([1.0, 3.0, -1.0, 1.0])
    y = np.array([True, True, False, False])
    st_ = m.score_stats(s, y)
    assert (st_.genuine_mean, st_.genuine_std, st_.impostor_mean, st_.impostor_std) == (2, 1, 0, 1)
    assert st_.d_prime == 2.0
    assert m.d_prime([1.0, 1.0, 0.0], [True, True, False]) == math.inf
    rng = np.random.default_rng(2)
    big = rng.normal(size=3000).astype(np.float32)
    lab = rng.random(3000) < 0.5
    st_ = m.score_stats(big, lab)
    assert st_.impostor_std == pytest.approx(np.std(big[~lab].astype(np.float64)), rel=1e-12)


def test_fta_adjustment():
    far, frr = m.fta_adjust(0.1, 0.2, 0.5)
    assert (far, frr) == (pytest.approx(0.05), pytest.approx(0.6))
    far, frr = m.fta_adjust(np.array([0.1, 0.0]), np.array([0.2, 1.0]), 0.0)
    np.testing.assert_allclose(far, [0.1, 0.0])
    np.testing.assert_allclose(frr, [0.2, 1.0])
    with pytest.raises(MetricError, match="failure-to-acquire"):
        m.fta_adjust(0.1, 0.1, 1.5)


# ---------------------------------------------------------------- errors and summary


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([0.1, 0.2], [True, True], "no impostor"),
        ([0.1, 0.2], [0, 0], "no genuine"),
        ([], [], "empty"),
        ([0.1, np.nan], [True, False], "NaN"),
        ([0.1, np.inf], [True, False], "infinity"),
        ([0.1, 0.2], [True], "equal length"),
        ([0.1, 0.2], [2, 0], "0/1"),
    ],
)
def test_undefined_metrics_raise_metric_error(scores, labels, match):
    for fn in (m.roc_auc, m.equal_error_rate, m.compute_all, m.tar_at_far, m.best_f1):
        with pytest.raises(MetricError, match=match):
            fn(scores, labels)
    if match in ("no impostor", "no genuine"):
        with pytest.raises(MetricError, match="one class"):
            m.det_curve(scores, labels)


def test_compute_all_summary_is_plain_json():
    rng = np.random.default_rng(4)
    y = rng.random(2000) < 0.1
    s = (rng.normal(size=2000) + 2 * y).astype(np.float32)
    summary = m.compute_all(s, y)
    d = json.loads(json.dumps(summary.to_dict(), allow_nan=False))
    assert d["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert d["n_genuine"] == int(y.sum()) and d["n_impostor"] == int((~y).sum())
    assert [t["far_target"] for t in d["tar_at_far"]] == [1e-2, 1e-3, 1e-4]
    assert d["tar_at_far"][2] == {
        "far_target": 1e-4,
        "tar": None,
        "threshold": None,
        "achieved_far": None,
        "supported": False,
        "reason": "insufficient data",
        "expected_errors": pytest.approx(1e-4 * int((~y).sum())),
    }
    assert set(d["best_f1"]) == {"threshold", "f1", "precision", "recall"}


# ---------------------------------------------------------------- properties

int_scores = st.lists(st.integers(-30, 30), min_size=2, max_size=60)


def _labelled(draw_scores, data):
    s = np.array(draw_scores, dtype=np.float64)
    y = np.array(data.draw(st.lists(st.booleans(), min_size=s.size, max_size=s.size)))
    y[0], y[-1] = True, False
    return s, y


@settings(max_examples=150, deadline=None)
@given(int_scores, st.data())
def test_auc_properties(raw, data):
    s, y = _labelled(raw, data)
    auc = m.roc_auc(s, y)
    assert 0.0 <= auc <= 1.0
    assert m.roc_auc(np.exp(s / 7) * 3 + 1, y) == auc  # strictly monotone: same ranking
    assert m.roc_auc(s**3, y) == auc
    assert abs(m.roc_auc(-s, y) - (1 - auc)) <= 1e-12
    assert m.roc_auc(s, y, "search") == auc
    assert abs(auc - roc_auc_score(y, s)) <= 1e-12


@settings(max_examples=100, deadline=None)
@given(int_scores, st.data())
def test_search_path_equals_sort_path(raw, data):
    s, y = _labelled(raw, data)
    fast, slow = m.compute_all(s, y, (0.1, 0.5), "search"), m.compute_all(s, y, (0.1, 0.5), "sort")
    assert fast.to_dict() | {"method": ""} == slow.to_dict() | {"method": ""}


def test_roc_points_search_path_draws_the_same_curve() -> None:
    rng = np.random.default_rng(7)
    labels = rng.random(60_000) < 0.03
    scores = np.round(rng.normal(size=labels.size) + 1.5 * labels, 2)  # many ties
    full = m.roc_curve(scores, labels)
    corners = m.roc_points(scores, labels, method="search")
    assert np.trapezoid(corners.tpr, corners.fpr) == pytest.approx(
        np.trapezoid(full.tpr, full.fpr), abs=1e-12
    )
    # Every corner lies on the full curve.
    pairs = set(zip(full.fpr.round(12), full.tpr.round(12), strict=True))
    assert all(p in pairs for p in zip(corners.fpr.round(12), corners.tpr.round(12), strict=True))


def test_sweep_at_genuine_scores_is_the_full_sweep_at_those_thresholds() -> None:
    rng = np.random.default_rng(8)
    labels = rng.random(20_000) < 0.05
    scores = np.round(rng.normal(size=labels.size) + 2 * labels, 3)
    full = m.threshold_sweep(scores, labels)
    part = m.sweep_at_genuine_scores(scores, labels)
    index = {t: i for i, t in enumerate(full.thresholds)}
    rows = np.array([index[t] for t in part.thresholds])
    assert np.array_equal(part.tp, full.tp[rows]) and np.array_equal(part.fp, full.fp[rows])
    assert part.f1.max() == pytest.approx(full.f1.max(), abs=1e-15)
