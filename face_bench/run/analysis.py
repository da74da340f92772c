"""From one model's pair scores to the figures results.json records, in the model's units.

The metrics layer works on scores where higher means "same person"; this module
converts every threshold back to the model's own units (Euclidean distance for
dlib, cosine similarity for ONNX models) so that reported thresholds can be
used as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from face_bench.metrics import summary as m
from face_bench.metrics.operating import (
    OperatingPoint,
    operating_point,
    threshold_at_fmr,
    zero_rates,
)
from face_bench.metrics.transfer import cross_validated_threshold
from face_bench.run.subset_scores import ScoreTable

HEADLINE_FMR = 1e-3
"""The target FMR whose threshold (and FNMR there) the headline reports."""
CV_FOLDS = 5
PREVALENCE_DEPENDENT = ("f1", "precision", "accuracy")
"""Figures that change with the share of genuine pairs: never a headline or default gate."""


def _units(spec, value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(spec.from_score(value))


def _rates_dict(rates: m.Rates, spec) -> dict[str, Any]:
    """Rates at one threshold with bob's counts beside them (FMR = fmr_errors / n_impostor).

    F1, precision and accuracy depend on the genuine/impostor mix, so they are kept but
    never compared across subsets (see PREVALENCE_DEPENDENT)."""
    return {
        "threshold": _units(spec, rates.threshold),
        "f1": rates.f1,
        "precision": rates.precision,
        "recall": rates.recall,
        "accuracy": rates.accuracy,
        "fmr": rates.fmr,
        "fmr_errors": rates.fp,
        "n_impostor": rates.fp + rates.tn,
        "fnmr": rates.fnmr,
        "fnmr_errors": rates.fn,
        "n_genuine": rates.tp + rates.fn,
        "accepts_everything": rates.tn == 0 and rates.fn == 0,
    }


def _point_dict(point: OperatingPoint, spec) -> dict[str, Any]:
    return {**point.to_dict(), "threshold": _units(spec, point.threshold)}


def _target_block(ms: ScoreTable, target: float) -> dict[str, Any] | None:
    """The threshold reaching FMR <= target, and the FNMR there (None: too few impostors)."""
    thr = threshold_at_fmr(ms.scores, ms.labels, target)
    if thr is None:
        return None
    point = operating_point(ms.scores, ms.labels, thr)
    supported, reason = m.support_verdict(target, point.n_impostor)
    return {
        "target_fmr": target,
        **_point_dict(point, ms.spec),
        "supported": supported,
        "reason": reason,
    }


def _threshold_choices(ms: ScoreTable, target: float, seed: int) -> dict[str, Any]:
    """Zero-error points and thresholds chosen on held-out identities (per-pair runs only)."""
    spec = ms.spec
    out: dict[str, Any] = {}
    zero = zero_rates(ms.scores, ms.labels)
    out["zero_fmr"] = {
        "fnmr": zero.zero_fmr,
        "threshold": _units(spec, zero.zero_fmr_threshold),
    }
    out["zero_fnmr"] = {"fmr": zero.zero_fnmr, "threshold": _units(spec, zero.zero_fnmr_threshold)}
    out["at_target_fmr"] = _target_block(ms, target)
    if ms.per_pair:
        cv = []
        for criterion in ("far", "best_f1"):
            try:
                result = cross_validated_threshold(
                    ms.scores, ms.labels, ms.ids_a, ms.ids_b, criterion, target, CV_FOLDS, seed
                ).to_dict()
            except m.MetricError as exc:
                cv.append({"criterion": criterion, "note": str(exc)})
                continue
            for key in ("threshold_mean", "threshold_min", "threshold_max"):
                result[key] = _units(spec, result[key])
            lo, hi = result["threshold_min"], result["threshold_max"]
            if lo is not None and hi is not None and lo > hi:
                result["threshold_min"], result["threshold_max"] = hi, lo
            for fold in result["folds"]:
                fold["threshold"] = _units(spec, fold["threshold"])
            cv.append(result)
        out["cross_validated"] = cv
    return out


def model_metrics(
    ms: ScoreTable,
    far_targets: tuple[float, ...],
    bootstrap: int,
    seed: int,
    sweep: bool = False,
    fta: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``metrics`` block of one model on one subset, and its sweep markers when asked."""
    spec = ms.spec
    summary = ms.summarise(far_targets)
    at_default = m.rates_at_threshold(ms.scores, ms.labels, spec.to_score(spec.threshold))
    sign = -1.0 if spec.distance_like else 1.0
    metrics: dict[str, Any] = {
        "roc_auc": summary.roc_auc,
        "eer": summary.eer,
        "eer_threshold": _units(spec, summary.eer_threshold),
        "tar_at_far": [
            {
                **t.to_dict(),
                "threshold": _units(spec, t.threshold) if t.threshold is not None else None,
            }
            for t in summary.tar_at_far
        ],
        "best_f1": {
            "threshold": _units(spec, summary.best_f1.threshold),
            "f1": summary.best_f1.f1,
            "precision": summary.best_f1.precision,
            "recall": summary.best_f1.recall,
        },
        "at_default": _rates_dict(at_default, spec),
        "d_prime": summary.d_prime,
        "genuine_mean": sign * summary.genuine_mean,
        "genuine_std": summary.genuine_std,
        "impostor_mean": sign * summary.impostor_mean,
        "impostor_std": summary.impostor_std,
        "n_genuine": summary.n_genuine,
        "n_impostor": summary.n_impostor,
        "failure_rate": fta or 0.0,
        "auc_definition": "exact: trapezoidal area under the full ROC (ties count half)",
        **_threshold_choices(ms, HEADLINE_FMR, seed),
    }
    if fta is not None:
        far, frr = m.fta_adjust(at_default.fmr, at_default.fnmr, fta)
        metrics["at_default"].update({"far": float(far), "frr": float(frr), "fta": fta})
    if bootstrap and ms.per_pair:
        from face_bench.metrics.uncertainty import bootstrap_metrics

        metrics["ci"] = bootstrap_metrics(
            ms.scores, ms.labels, ms.ids_a, ms.ids_b, far_targets, bootstrap, seed
        ).to_dict()
    sweep_block = None
    if sweep:
        eer_rates = m.rates_at_threshold(ms.scores, ms.labels, summary.eer_threshold)
        best_rates = m.rates_at_threshold(ms.scores, ms.labels, summary.best_f1.threshold)
        sweep_block = {
            "units": spec.units,
            "accept_rule": "distance <= threshold"
            if spec.distance_like
            else "similarity >= threshold",
            "markers": [
                {"name": "default", **_rates_dict(at_default, spec)},
                {"name": "best F1", **_rates_dict(best_rates, spec)},
                {"name": "EER", **_rates_dict(eer_rates, spec)},
            ],
        }
    return metrics, sweep_block


def curve_points(ms: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
    """ROC (fpr, tpr) for plotting (exact corners on huge inputs); the plot layer thins it."""
    if not ms.per_pair:
        sweep = ms.genuine_sweep  # shared with the sweep figure: one pass over the pairs
        return np.r_[0.0, sweep.fmr, 1.0], np.r_[0.0, sweep.recall, 1.0]
    roc = m.roc_points(ms.scores, ms.labels)
    return roc.fpr, roc.tpr


def sweep_frame(ms: ScoreTable) -> pd.DataFrame:
    """Every rate at every distinct threshold, thresholds in the model's units.

    Per-pair runs sweep every distinct score; blocked runs (tens of millions of pairs) sweep
    the distinct genuine scores, which hold the F1 optimum, in a fraction of the memory.
    """
    sweep = m.threshold_sweep(ms.scores, ms.labels) if ms.per_pair else ms.genuine_sweep
    frame = pd.DataFrame(
        {
            "threshold": sweep.thresholds * (-1.0 if ms.spec.distance_like else 1.0),
            "precision": sweep.precision,
            "recall": sweep.recall,
            "f1": sweep.f1,
            "accuracy": sweep.accuracy,
            "fmr": sweep.fmr,
            "fnmr": sweep.fnmr,
            "tp": sweep.tp,
            "fp": sweep.fp,
            "tn": sweep.tn,
            "fn": sweep.fn,
        }
    )
    return frame


def compare_models(
    model_scores: dict[str, ScoreTable], bootstrap: int, seed: int
) -> list[dict[str, Any]]:
    """DeLong's paired test (and a bootstrap CI when asked) for each pair of models."""
    names = list(model_scores)
    out: list[dict[str, Any]] = []
    if len(names) < 2 or not next(iter(model_scores.values())).per_pair:
        return out  # blocked runs have no pair identities to resample, and DeLong's ranks
        # of tens of millions of pairs would cost more than the rest of the run
    from face_bench.metrics.uncertainty import bootstrap_auc_difference, delong_test

    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = model_scores[first], model_scores[second]
            test = delong_test(a.scores, b.scores, a.labels)
            entry: dict[str, Any] = {
                "model_a": first,
                "model_b": second,
                "auc_a": test.auc_a,
                "auc_b": test.auc_b,
                "auc_difference": test.diff,
                "delong_z": m.json_float(test.z),
                "delong_p": test.p_value,
                "delong_log10_p": m.json_float(test.log10_p_value),
            }
            if bootstrap:
                entry["ci"] = bootstrap_auc_difference(
                    a.scores, b.scores, a.labels, a.ids_a, a.ids_b, bootstrap, seed
                ).to_dict()
            out.append(entry)
    return out


def differentials_in_units(
    subsets, specs, far_target: float = 1e-3, use_default: bool = False
) -> dict[str, Any]:
    """``metrics.fairness`` differentials of every model, thresholds in the model's units.

    Too few impostors for the FAR target is a note in the block, not a failed run.
    """
    from face_bench.metrics.fairness import differentials_for_model

    models: dict[str, Any] = {}
    for name, spec in specs.items():
        per_subset = {s.name: (s.scores[name].scores, s.scores[name].labels) for s in subsets}
        fixed = spec.to_score(spec.threshold) if use_default else None
        try:
            result = differentials_for_model(
                per_subset, threshold=fixed, far_target=far_target
            ).to_dict()
        except m.MetricError as exc:
            # Too few impostors for the FAR target: say so instead of failing the whole run.
            result = {
                "threshold": None,
                "fdr": None,
                "subsets": [],
                "note": str(exc),
                "threshold_rule": f"FMR <= {far_target:g} on the pooled impostors",
            }
        if result["threshold"] is not None:
            result["threshold"] = _units(spec, result["threshold"])
        result["units"] = spec.units
        if use_default:
            result["threshold_rule"] = "the model's default threshold"
        models[name] = result
    return {"models": models}
