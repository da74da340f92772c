"""Platt and isotonic maps: prior handling, the LLR form, and identity-disjoint cross-fitting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_bench.core.errors import MetricError
from face_bench.metrics.calibration_maps import (
    ISOTONIC_CLIP,
    CalibrationMap,
    cross_fit,
    fit_map,
    logit,
    sigmoid,
)
from face_bench.metrics.transfer import identity_folds


def _logistic_pairs(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(-3, 3, n)
    labels = rng.random(n) < sigmoid(2.0 * scores - 1.0)
    return scores, labels


def test_platt_recovers_the_generating_logistic() -> None:
    scores, labels = _logistic_pairs()
    fitted = fit_map(scores, labels, "platt")
    assert fitted.slope == pytest.approx(2.0, rel=0.15)
    assert fitted.intercept == pytest.approx(-1.0, abs=0.2)
    assert fitted.prior == pytest.approx(labels.mean())


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_prior_handling_follows_the_llr_form(method: str) -> None:
    scores, labels = _logistic_pairs(seed=1)
    fitted = fit_map(scores, labels, method)  # type: ignore[arg-type]
    probe = np.linspace(-2, 2, 9)
    # At the fitting prior the map's own output; at any prior q: sigmoid(llr + logit q).
    assert np.allclose(fitted.probability(probe), fitted.fitted_probability(probe))
    q = 0.01
    assert np.allclose(fitted.probability(probe, q), sigmoid(fitted.llr(probe) + logit(q)))
    odds = fitted.probability(probe, q) / (1 - fitted.probability(probe, q))
    assert np.allclose(odds, np.exp(fitted.llr(probe)) * q / (1 - q))


def test_isotonic_is_monotone_and_never_certain() -> None:
    scores, labels = _logistic_pairs(seed=2)
    fitted = fit_map(scores, labels, "isotonic")
    values = fitted.fitted_probability(np.linspace(-10, 10, 200))
    assert (np.diff(values) >= 0).all()
    assert values.min() >= ISOTONIC_CLIP and values.max() <= 1 - ISOTONIC_CLIP
    assert np.isfinite(fitted.llr(np.array([-100.0, 100.0]))).all()


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_parameters_round_trip(method: str) -> None:
    scores, labels = _logistic_pairs(seed=3)
    fitted = fit_map(scores, labels, method)  # type: ignore[arg-type]
    again = CalibrationMap.from_parameters(fitted.method, fitted.prior, fitted.parameters())
    probe = np.linspace(-4, 4, 17)
    assert np.array_equal(again.probability(probe), fitted.probability(probe))


def test_one_class_cannot_fit() -> None:
    with pytest.raises(MetricError):
        fit_map([0.1, 0.5], [1, 1], "platt")


def test_cross_fit_never_scores_a_pair_with_a_fitted_person() -> None:
    rng = np.random.default_rng(4)
    ida, idb = rng.integers(0, 20, 3000), rng.integers(0, 20, 3000)
    labels = ida == idb
    scores = rng.normal(labels * 2.0, 1.0)
    fitted = cross_fit(scores, labels, ida, idb, "platt", k=4, seed=7)
    to_fold = identity_folds(ida, idb, 4, 7)
    fa, fb = to_fold(ida), to_fold(idb)
    assert np.array_equal(fitted.held_out, fa == fb)  # only pairs within one fold
    assert np.isnan(fitted.llr[~fitted.held_out]).all()
    for fold in range(4):
        test = (fa == fold) & (fb == fold)
        train = (fa != fold) & (fb != fold)
        # The fold's people appear in none of the pairs its map was fitted on.
        assert not np.isin(np.concatenate([ida[train], idb[train]]), ida[test]).any()
        expected = fit_map(scores[train], labels[train], "platt").llr(scores[test])
        assert np.allclose(fitted.llr[test], expected)
    assert fitted.folds_used == 4


def test_too_few_people_for_the_folds() -> None:
    with pytest.raises(MetricError):
        cross_fit([0.1, 0.9], [0, 1], [0, 1], [1, 1], "platt", k=5)


def test_logit_and_sigmoid_are_inverse() -> None:
    p = np.array([1e-6, 0.2, 0.5, 0.9])
    assert np.allclose(sigmoid(logit(p)), p)
    assert float(sigmoid(np.array(800.0))) == 1.0 and math.isfinite(float(sigmoid(-800.0)))
