"""Subset differentials on hand-counted examples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from face_bench.core.errors import MetricError
from face_bench.metrics import fairness as f
from face_bench.metrics import summary as m

# At threshold 0.5: "a" has FMR 1/4 and FNMR 1/2; "b" has FMR 2/4 and FNMR 0.
SUBSETS = {
    "a": (
        np.array([0.9, 0.4, 0.6, 0.1, 0.2, 0.3]),
        np.array([True, True, False, False, False, False]),
    ),
    "b": (
        np.array([0.8, 0.7, 0.55, 0.6, 0.2, 0.1]),
        np.array([True, True, False, False, False, False]),
    ),
}


def test_rates_ratios_and_fdr_by_hand():
    r = f.subset_differentials(SUBSETS, 0.5)
    a, b = r.subsets
    assert (a.name, a.n_genuine, a.n_impostor) == ("a", 2, 4)
    assert (a.fmr, a.fnmr, b.fmr, b.fnmr) == (0.25, 0.5, 0.5, 0.0)
    assert (a.fmr_ratio, b.fmr_ratio) == (1.0, 2.0)
    assert (a.fnmr_ratio, b.fnmr_ratio) == (math.inf, 1.0)  # best FNMR is 0
    assert (r.max_fmr_gap, r.max_fnmr_gap) == (0.25, 0.5)
    assert r.fdr == pytest.approx(1 - (0.5 * 0.25 + 0.5 * 0.5))
    weighted = f.subset_differentials(SUBSETS, 0.5, alpha=1.0)
    assert weighted.fdr == pytest.approx(0.75)


def test_rates_agree_with_plain_counting():
    rng = np.random.default_rng(0)
    subsets = {}
    for k in range(4):
        y = rng.random(500) < 0.2
        subsets[f"s{k}"] = (rng.normal(size=500) + (1 + 0.3 * k) * y, y)
    r = f.subset_differentials(subsets, 0.7)
    for row, (s, y) in zip(r.subsets, subsets.values(), strict=True):
        assert row.fmr == np.count_nonzero((s >= 0.7) & ~y) / np.count_nonzero(~y)
        assert row.fnmr == np.count_nonzero((s < 0.7) & y) / np.count_nonzero(y)
    fmrs = [row.fmr for row in r.subsets]
    assert r.max_fmr_gap == max(fmrs) - min(fmrs)
    assert min(row.fmr_ratio for row in r.subsets) == 1.0


def test_json_form_writes_inf_as_null():
    d = json.loads(json.dumps(f.subset_differentials(SUBSETS, 0.5).to_dict(), allow_nan=False))
    assert d["subsets"][0]["fnmr_ratio"] is None
    assert d["subsets"][1]["fmr_ratio"] == 2.0
    assert set(d) >= {"threshold", "threshold_rule", "fdr", "subsets"}
    assert d["subsets"][0]["subset"] == "a"


def test_all_zero_rates_give_ratio_one():
    r = f.subset_differentials(SUBSETS, 0.95)  # nothing accepted: FMR 0 everywhere
    assert [row.fmr_ratio for row in r.subsets] == [1.0, 1.0]
    assert r.max_fmr_gap == 0.0


def test_subset_missing_a_class_has_undefined_rates():
    subsets = dict(SUBSETS, genuine_only=(np.array([0.9, 0.3]), np.array([True, True])))
    r = f.subset_differentials(subsets, 0.5)
    row = r.subsets[2]
    assert (row.fmr, row.fmr_ratio, row.fnmr) == (None, None, 0.5)
    assert r.max_fmr_gap == 0.25  # the undefined rate is left out


def test_global_threshold_meets_the_pooled_target():
    rng = np.random.default_rng(1)
    subsets = {}
    for k in range(3):
        y = rng.random(4000) < 0.05
        subsets[f"s{k}"] = (rng.normal(size=4000) + 2.5 * y + 0.2 * k, y)
    thr = f.global_threshold(subsets, 1e-3)
    pooled_s = np.concatenate([s for s, _ in subsets.values()])
    pooled_y = np.concatenate([y for _, y in subsets.values()])
    n_imp = np.count_nonzero(~pooled_y)
    assert np.count_nonzero((pooled_s >= thr) & ~pooled_y) / n_imp <= 1e-3
    lower = pooled_s[pooled_s < thr].max()  # the next distinct score down breaks the target
    assert np.count_nonzero((pooled_s >= lower) & ~pooled_y) / n_imp > 1e-3
    assert thr == m.tar_at_far(pooled_s, pooled_y, [1e-3])[0].threshold
    report = f.differentials_for_model(subsets, far_target=1e-3)
    assert report.threshold == thr
    assert "pooled" in report.threshold_rule
    assert f.differentials_for_model(subsets, threshold=0.3).threshold == 0.3


def test_errors_are_metric_errors():
    with pytest.raises(MetricError, match="insufficient data"):
        f.global_threshold(SUBSETS, 1e-3)  # 8 pooled impostors
    with pytest.raises(MetricError, match="subset 'empty'"):
        f.subset_differentials({"empty": (np.array([]), np.array([], bool))}, 0.5)
    with pytest.raises(MetricError, match="no subsets"):
        f.subset_differentials({}, 0.5)
    with pytest.raises(MetricError, match="alpha"):
        f.subset_differentials(SUBSETS, 0.5, alpha=2)
