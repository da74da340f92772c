"""Demographic differentials: person-weighted rates, bounds, ratios, tests and inequity
measures, each against a brute-force computation or a hand-worked example."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from face_bench.core.errors import MetricError
from face_bench.metrics import inequity
from face_bench.metrics.differentials import (
    GroupedPairs,
    bootstrap_p_value,
    reference_threshold,
)
from face_bench.metrics.group_analysis import analyse
from face_bench.metrics.person_weights import PersonTable, stratified_draws


def _toy(seed: int = 0, people: int = 16, per: int = 4, shift: float = 1.0) -> GroupedPairs:
    """Two groups of people; group 1's impostors score higher (harder to tell apart)."""
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(people), per)
    group = (np.arange(people) >= people // 2).astype(np.int64)[person]
    a, b = np.triu_indices(person.size, 1)
    y = person[a] == person[b]
    s = np.where(y, rng.normal(2, 1, a.size), rng.normal(0, 1, a.size))
    s = s + shift * (~y & (group[a] == 1) & (group[b] == 1))
    return GroupedPairs(
        s,
        y,
        person[a],
        person[b],
        group[a],
        group[b],
        ("A", "B"),
        tuple(f"p{i}" for i in range(people)),
    )


def _brute_rate(pairs: GroupedPairs, mask: np.ndarray, error: np.ndarray, w: np.ndarray) -> float:
    """Sum over pairs of w[a] * w[b]: each copy of one person against each copy of the other."""
    weight = w[pairs.person_a] * w[pairs.person_b]
    n = (weight * mask).sum()
    return float((weight * (mask & error)).sum() / n) if n else math.nan


def test_person_table_matches_brute_force_under_any_weights():
    pairs = _toy()
    error = pairs.scores >= 0.5
    mask = pairs.within(1) & ~pairs.labels
    table = PersonTable.build(pairs.person_a[mask], pairs.person_b[mask], error[mask], 16)
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 3, size=(20, 16)).astype(float)
    got = table.rates(weights)
    want = [_brute_rate(pairs, mask, error, w) for w in weights]
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_bootstrap_weights_equal_duplicating_people():
    """A person drawn twice counts as two copies: the weighted rate equals the rate over
    an explicitly duplicated pair list (each copy paired with every other copy)."""
    pairs = _toy(people=6, per=3)
    error = pairs.scores >= 0.0
    mask = ~pairs.labels
    copies = np.array([2.0, 0, 1, 1, 3, 0])
    table = PersonTable.build(pairs.person_a[mask], pairs.person_b[mask], error[mask], 6)
    e = n = 0
    for i in np.flatnonzero(mask):
        k = copies[pairs.person_a[i]] * copies[pairs.person_b[i]]
        n += k
        e += k * error[i]
    assert table.rates(copies[None, :])[0] == pytest.approx(e / n)


def test_stratified_draws_keep_each_group_size():
    strata = np.array([0, 0, 0, 1, 1, 2])
    draws = stratified_draws(strata, 50, 7)
    for s in (0, 1, 2):
        assert (draws[:, strata == s].sum(axis=1) == (strata == s).sum()).all()
    np.testing.assert_array_equal(draws, stratified_draws(strata, 50, 7))


def test_group_rates_count_what_a_recount_counts():
    pairs = _toy()
    thr = reference_threshold(pairs, 0, 0.05)
    result = analyse(pairs, thr, 0, n_boot=200, seed=1, min_people=2)
    accepted = pairs.scores >= thr
    for g, row in enumerate(result.groups):
        imp = pairs.within(g) & ~pairs.labels
        gen = pairs.within(g) & pairs.labels
        assert row.fmr.errors == int((accepted & imp).sum())
        assert row.fmr.n == int(imp.sum())
        assert row.fnmr.errors == int((~accepted & gen).sum())
        assert row.fnmr.n == int(gen.sum())
        assert row.fmr.lower <= row.fmr.rate <= row.fmr.upper
    # the threshold meets the target on the reference group's own impostors
    assert result.groups[0].fmr.rate <= 0.05
    ratio = result.groups[1].fmr_ratio
    assert ratio.estimate == pytest.approx(result.groups[1].fmr.rate / result.groups[0].fmr.rate)


def test_leave_one_out_range_matches_recomputing_without_each_person():
    pairs = _toy(seed=4)
    thr = reference_threshold(pairs, 0, 0.1)
    result = analyse(pairs, thr, 0, n_boot=0, min_people=2)
    accepted = pairs.scores >= thr
    ratios = []
    for p in range(len(pairs.people)):
        keep = (pairs.person_a != p) & (pairs.person_b != p)
        rates = []
        for g in (1, 0):
            m = pairs.within(g) & ~pairs.labels & keep
            rates.append((accepted & m).sum() / m.sum())
        if rates[1] > 0:
            ratios.append(rates[0] / rates[1])
    r = result.groups[1].fmr_ratio
    assert r.loo_min == pytest.approx(min(ratios))
    assert r.loo_max == pytest.approx(max(ratios))


def test_zero_errors_give_the_rule_of_three_bound_and_a_lower_bound_ratio():
    pairs = _toy(shift=3.0)
    # a threshold no reference impostor reaches
    ref_imp = pairs.within(0) & ~pairs.labels
    thr = float(pairs.scores[ref_imp].max()) + 1e-9
    result = analyse(pairs, thr, 0, n_boot=100, min_people=2)
    ref = result.groups[0]
    assert ref.fmr.errors == 0 and ref.fmr.rate == 0
    assert ref.fmr.upper == pytest.approx(3 / ref.fmr.n)
    assert ref.fmr.method == "rule of three"
    ratio = result.groups[1].fmr_ratio
    assert ratio.estimate is None  # never infinite
    assert ratio.lower_bound == pytest.approx(result.groups[1].fmr.rate / (3 / ref.fmr.n))
    assert "rule of three" in ratio.note


def test_too_few_people_withholds_the_rates():
    pairs = _toy(people=8)
    thr = reference_threshold(pairs, 0, 0.2)
    result = analyse(pairs, thr, 0, n_boot=0, min_people=4)
    assert all(g.status is None for g in result.groups)
    with pytest.raises(MetricError, match="reference group 'A' has 4 people"):
        analyse(pairs, thr, 0, n_boot=0, min_people=5)


def test_matrix_cells_partition_the_impostors():
    pairs = _toy()
    thr = 0.8
    result = analyse(pairs, thr, 0, n_boot=0, min_people=2)
    assert [(c.group_a, c.group_b) for c in result.matrix] == [("A", "A"), ("A", "B"), ("B", "B")]
    assert sum(c.fmr.n for c in result.matrix) == int((~pairs.labels).sum())
    cross = result.matrix[1].fmr
    m = pairs.between(0, 1) & ~pairs.labels
    assert cross.errors == int((m & (pairs.scores >= thr)).sum())


def test_zoo_names_the_pair_that_carries_the_false_matches():
    pairs = _toy(shift=0.0)
    # make p8 and p9 (group B) look alike: every pair between them scores high
    look_alike = ((pairs.person_a == 8) & (pairs.person_b == 9)) & ~pairs.labels
    scores = np.where(look_alike, 5.0, pairs.scores)
    pairs = GroupedPairs(scores, *[getattr(pairs, f) for f in (
        "labels", "person_a", "person_b", "group_a", "group_b", "groups", "people")])  # fmt: skip
    result = analyse(pairs, 4.0, 0, n_boot=0, min_people=2)
    zoo = {z.group: z for z in result.zoo}
    top = zoo["B"].false_match_pairs[0]
    assert (top.person_a, top.person_b) == ("p8", "p9")
    assert top.share >= 0.5
    assert any("p8 / p9" in w for w in result.warnings)


def test_bootstrap_p_value_is_two_sided_and_never_zero():
    assert bootstrap_p_value(np.full(999, 1.0)) == pytest.approx(2 / 1000)
    assert bootstrap_p_value(np.array([-1.0, 1.0] * 50)) == pytest.approx(1.0)
    assert bootstrap_p_value(np.array([np.nan])) is None


# ---------------------------------------------------------------- summary measures


def test_gini_matches_its_definition_by_brute_force():
    x = np.array([0.01, 0.02, 0.07])
    n = x.size
    spread = sum(abs(a - b) for a, b in itertools.product(x, x))
    want = n / (n - 1) * spread / (2 * n * n * x.mean())
    assert inequity.gini(x) == pytest.approx(want)


def test_hand_worked_summary_measures():
    """FMR 0.001, 0.004; FNMR 0.02, 0.03 (two groups).

    max/min FMR = 4; geometric mean = 0.002, so max/geomean = 2. Gini of two values:
    2 * (|a - b| * 2) / (2 * 4 * mean): FMR 2 * 0.006 / (8 * 0.0025) = 0.6,
    FNMR 2 * 0.02 / (8 * 0.025) = 0.2; GARBE (alpha 0.5) = 0.4.
    FDR = 1 - (0.5 * 0.003 + 0.5 * 0.01) = 0.9935.
    """
    fmr = np.array([0.001, 0.004])
    fnmr = np.array([0.02, 0.03])
    assert inequity.max_min(fmr) == pytest.approx(4.0)
    assert inequity.max_geomean(fmr) == pytest.approx(2.0)
    assert inequity.gini(fmr) == pytest.approx(0.6)
    assert inequity.gini(fnmr) == pytest.approx(0.2)
    assert inequity.garbe(fmr, fnmr, 0.5) == pytest.approx(0.4)
    assert inequity.fdr(fmr, fnmr, 0.5) == pytest.approx(0.9935)


def test_zero_rates_enter_ratios_as_their_bound():
    rates = inequity.with_zero_bounds(np.array([0.0, 4.0]), np.array([300.0, 1000.0]))
    np.testing.assert_allclose(rates, [0.01, 0.004])
    assert math.isnan(inequity.max_min(np.array([0.0, 0.1])))
    assert math.isnan(inequity.max_geomean(np.array([0.0, 0.1])))


def test_summary_measures_in_an_analysis_have_intervals():
    pairs = _toy()
    result = analyse(pairs, reference_threshold(pairs, 0, 0.05), 0, n_boot=200, min_people=2)
    names = [m.name for m in result.summary]
    assert names == [
        "max/min FMR",
        "max/geomean FMR",
        "max/min FNMR",
        "max/geomean FNMR",
        "GARBE",
        "FDR",
    ]
    for m in result.summary:
        assert m.lower is not None and m.lower <= m.upper


def test_a_group_without_errors_has_a_ratio_bounded_from_above():
    pairs = _toy(shift=-3.0)  # group B's impostors score far lower: no false match there
    thr = reference_threshold(pairs, 0, 0.1)
    result = analyse(pairs, thr, 0, n_boot=50, min_people=2)
    b, ref = result.groups[1], result.groups[0]
    assert b.fmr.errors == 0 and ref.fmr.errors > 0
    ratio = b.fmr_ratio
    assert ratio.estimate == 0.0 and ratio.lower == 0.0
    assert ratio.upper == pytest.approx((3 / b.fmr.n) / ref.fmr.rate)
    assert "rule of three" in ratio.note
