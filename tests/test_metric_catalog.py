"""The metric catalog (face_bench.metrics.catalog): one list every reader iterates over."""

from __future__ import annotations

import pytest

from face_bench.metrics.catalog import (
    CATALOG,
    DEFAULT_TOLERANCES,
    TAR_FAMILY,
    far_key,
    far_target,
    metric,
    metrics_for,
    order_names,
    tolerance_help,
)


def test_names_are_unique_and_the_tar_family_expands_in_place():
    names = [m.name for m in CATALOG]
    assert len(set(names)) == len(names)
    expanded = [m.name for m in metrics_for([1e-3, 1e-2, 1e-3])]
    assert expanded[:4] == ["roc_auc", "eer", "tar_at_far_1e-2", "tar_at_far_1e-3"]
    assert TAR_FAMILY not in expanded and len(expanded) == len(CATALOG) + 1


@pytest.mark.parametrize("target", [1e-2, 1e-3, 1e-4, 5e-3, 1e-6, 2e-1])
def test_far_names_round_trip(target):
    assert far_target(far_key(target)) == pytest.approx(target)
    info = metric(far_key(target))
    assert info is not None and info.higher_is_better and info.tolerance == 0.01
    assert info.label == f"TAR @ FAR {target:g}"


def test_lookup_directions_and_unknown_names():
    assert metric("eer").direction == -1 and metric("roc_auc").direction == +1
    assert metric("fmr_at_default").better == "lower"
    assert metric("tar_at_far") is None and metric("accuracy") is None
    assert order_names(["failure_rate", "tar_at_far_1e-4", "x", "roc_auc", "tar_at_far_1e-2"]) == [
        "roc_auc",
        "tar_at_far_1e-2",
        "tar_at_far_1e-4",
        "failure_rate",
    ]


def test_prevalence_dependent_figures_are_marked():
    assert {m.name for m in CATALOG if m.prevalence_dependent} == {"best_f1", "f1_at_default"}


def test_display_and_tolerance_help():
    assert metric("eer").text(0.12345, percent=True) == "12.35%"
    assert metric("eer").text(0.12345) == "0.1235"
    assert metric("roc_auc").text(0.9, percent=True) == "0.9000"
    assert metric("d_prime").text(None) == "—"
    help_text = tolerance_help()
    for name, value in DEFAULT_TOLERANCES.items():
        assert name in help_text and f"{value:g}" in help_text
