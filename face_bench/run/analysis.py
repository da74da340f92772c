"""From one model's pair scores to the figures results.json records, in the model's units.

The metrics layer works on scores where higher means "same person"; this module
converts every threshold back to the model's own units (Euclidean distance for
dlib, cosine similarity for ONNX models) so that reported thresholds can be
used as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from face_bench.metrics import summary as m
from face_bench.metrics.transfer import CrossValidated, cross_validated_threshold
from face_bench.metrics.uncertainty import ReplicateMemo
from face_bench.results import blocks as r
from face_bench.run.subset_scores import ScoreTable

if TYPE_CHECKING:
    from face_bench.metrics.uncertainty import ConfidenceInterval

HEADLINE_FMR = 1e-3
"""The target FMR whose threshold (and FNMR there) the headline reports."""
CV_FOLDS = 5


def in_model_units(spec, value: float | None) -> float | None:
    """A threshold on the metrics' scale (higher: same person) in the model's own units;
    None for none or an infinite one."""
    if value is None or not np.isfinite(value):
        return None
    return float(spec.from_score(value))


def _rates(rates: m.Rates, spec) -> dict[str, float | int | bool | None]:
    """Rates at one threshold (model units) with bob's counts beside them.

    F1, precision and accuracy depend on the genuine/impostor mix, so they are kept but
    never compared across subsets (the catalog marks them prevalence-dependent)."""
    return {
        "threshold": in_model_units(spec, rates.threshold),
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


def _target_point(ms: ScoreTable, target: float) -> r.TargetFmrPoint | None:
    """The threshold reaching FMR <= target, and the FNMR there (None: too few impostors)."""
    thr = ms.threshold_at_fmr(target)
    if thr is None:
        return None
    rates = ms.counted_rates(thr)
    supported, reason = m.support_verdict(target, rates.n_impostor)
    return r.TargetFmrPoint(
        target_fmr=target,
        threshold=in_model_units(ms.spec, thr),
        rates=rates,
        supported=supported,
        reason=reason,
    )


def _cross_validated(cv: CrossValidated, spec) -> r.CrossValidatedThreshold:
    """Thresholds in the model's units; min/max swap back for distances (negated scores)."""
    finite = [t for t in cv.thresholds if np.isfinite(t)]
    mean = in_model_units(spec, float(np.mean(finite))) if finite else None
    ends = (
        [in_model_units(spec, min(finite)), in_model_units(spec, max(finite))]
        if finite
        else [None, None]
    )
    low, high = ends
    if low is not None and high is not None and low > high:
        low, high = high, low
    return r.CrossValidatedThreshold(
        criterion=cv.criterion,
        k=cv.k,
        threshold_mean=mean,
        threshold_min=low,
        threshold_max=high,
        held_out=cv.pooled,
        folds=[
            r.HeldOutFold(
                fold=f.fold, threshold=in_model_units(spec, f.threshold), rates=f.held_out
            )
            for f in cv.folds
        ],
    )


def _threshold_choices(ms: ScoreTable, target: float, seed: int) -> dict:
    """Zero-error points and thresholds chosen on held-out identities (per-pair runs only)."""
    spec = ms.spec
    zero = ms.zero_rates()
    out: dict = {
        "zero_fmr": r.ZeroFmr(
            fnmr=zero.zero_fmr, threshold=in_model_units(spec, zero.zero_fmr_threshold)
        ),
        "zero_fnmr": r.ZeroFnmr(
            fmr=zero.zero_fnmr, threshold=in_model_units(spec, zero.zero_fnmr_threshold)
        ),
        "at_target_fmr": _target_point(ms, target),
    }
    if ms.per_pair:
        cv: list[r.CrossValidatedThreshold | r.CriterionNote] = []
        for criterion in ("far", "best_f1"):
            try:
                result = cross_validated_threshold(
                    ms.scores, ms.labels, ms.ids_a, ms.ids_b, criterion, target, CV_FOLDS, seed
                )
            except m.MetricError as exc:
                cv.append(r.CriterionNote(criterion=criterion, note=str(exc)))
                continue
            cv.append(_cross_validated(result, spec))
        out["cross_validated"] = cv
    return out


def _interval(ci: ConfidenceInterval) -> r.ConfidenceInterval:
    return r.ConfidenceInterval(
        estimate=m.json_float(ci.estimate),
        lower=m.json_float(ci.lower),
        upper=m.json_float(ci.upper),
        n_boot=ci.n_boot,
        seed=ci.seed,
        confidence=ci.confidence,
        n_invalid=ci.n_invalid,
    )


def _tar_entry(t: m.TarAtFar, spec) -> r.TarAtFarEntry:
    return r.TarAtFarEntry(
        far_target=t.far_target,
        tar=t.tar,
        threshold=in_model_units(spec, t.threshold) if t.threshold is not None else None,
        achieved_far=t.achieved_far,
        supported=t.supported,
        reason=t.reason,
        expected_errors=m.json_float(t.expected_errors),
    )


def _bootstrap(ms: ScoreTable, far_targets, bootstrap: int, seed: int, memo: ReplicateMemo):
    from face_bench.metrics.catalog import far_key
    from face_bench.metrics.uncertainty import bootstrap_metrics

    boot = bootstrap_metrics(
        ms.scores, ms.labels, ms.ids_a, ms.ids_b, far_targets, bootstrap, seed, memo=memo
    )
    cis = {"roc_auc": _interval(boot.roc_auc), "eer": _interval(boot.eer)}
    cis.update({far_key(target): _interval(ci) for target, ci in boot.tar_at_far})
    return cis


def model_metrics(
    ms: ScoreTable,
    far_targets: tuple[float, ...],
    bootstrap: int,
    seed: int,
    sweep: bool = False,
    fta: float | None = None,
    multi_face_images: int = 0,
    memo: ReplicateMemo | None = None,
) -> tuple[r.ModelMetrics, r.ThresholdSweep | None]:
    """The ``metrics`` block of one model on one subset, and its sweep markers when asked.

    ``memo`` is the run's: its bootstrap replicates serve ``compare_models`` and the DET band.
    """
    spec = ms.spec
    summary = ms.summarise(far_targets)
    at_default = ms.rates_at(spec.to_score(spec.threshold))
    sign = -1.0 if spec.distance_like else 1.0
    optional: dict = {}
    if bootstrap and ms.per_pair:
        optional["ci"] = _bootstrap(ms, far_targets, bootstrap, seed, memo or ReplicateMemo())
    adjusted: dict[str, float] = {}
    if fta is not None:
        far, frr = m.fta_adjust(at_default.fmr, at_default.fnmr, fta)
        adjusted = {"far": float(far), "frr": float(frr), "fta": fta}
    j = m.json_float
    metrics = r.ModelMetrics(
        roc_auc=j(summary.roc_auc),
        eer=j(summary.eer),
        eer_threshold=in_model_units(spec, summary.eer_threshold),
        tar_at_far=[_tar_entry(t, spec) for t in summary.tar_at_far],
        best_f1=r.F1Point(
            threshold=in_model_units(spec, summary.best_f1.threshold),
            f1=j(summary.best_f1.f1),
            precision=j(summary.best_f1.precision),
            recall=j(summary.best_f1.recall),
        ),
        at_default=r.OperatingPoint(**_rates(at_default, spec), **adjusted),
        d_prime=j(summary.d_prime),
        genuine_mean=j(sign * summary.genuine_mean),
        genuine_std=j(summary.genuine_std),
        impostor_mean=j(sign * summary.impostor_mean),
        impostor_std=j(summary.impostor_std),
        n_genuine=summary.n_genuine,
        n_impostor=summary.n_impostor,
        failure_rate=fta or 0.0,
        auc_definition="exact: trapezoidal area under the full ROC (ties count half)",
        **_threshold_choices(ms, HEADLINE_FMR, seed),
        **optional,
        multi_face_images=multi_face_images,
    )
    sweep_block = None
    if sweep:
        eer_rates = ms.rates_at(summary.eer_threshold)
        best_rates = ms.rates_at(summary.best_f1.threshold)
        rule = "distance <= threshold" if spec.distance_like else "similarity >= threshold"
        sweep_block = r.ThresholdSweep(
            units=spec.units,
            accept_rule=rule,
            markers=[
                r.SweepMarker(name="default", **_rates(at_default, spec)),
                r.SweepMarker(name="best F1", **_rates(best_rates, spec)),
                r.SweepMarker(name="EER", **_rates(eer_rates, spec)),
            ],
        )
    return metrics, sweep_block


def compare_models(
    model_scores: dict[str, ScoreTable],
    bootstrap: int,
    seed: int,
    memo: ReplicateMemo | None = None,
) -> list[r.ModelComparison]:
    """Each pair of models: the paired identity bootstrap of ΔAUC (interval, p-value and
    standard error; the primary figures, with --bootstrap) and DeLong's test, which assumes
    independent pairs."""
    names = list(model_scores)
    out: list[r.ModelComparison] = []
    if len(names) < 2 or not next(iter(model_scores.values())).per_pair:
        return out  # blocked runs have no pair identities to resample, and DeLong's ranks
        # of tens of millions of pairs would cost more than the rest of the run
    from face_bench.metrics.uncertainty import delong_test, paired_auc_difference

    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = model_scores[first], model_scores[second]
            test = delong_test(a.scores, b.scores, a.labels)
            paired: dict = {}
            if bootstrap:
                result = paired_auc_difference(
                    a.scores, b.scores, a.labels, a.ids_a, a.ids_b, bootstrap, seed, memo=memo
                )
                paired = {
                    "ci": _interval(result.ci),
                    "bootstrap_p": result.p_value,
                    "bootstrap_std_error": result.std_error,
                }
            out.append(
                r.ModelComparison(
                    model_a=first,
                    model_b=second,
                    auc_a=m.json_float(test.auc_a),
                    auc_b=m.json_float(test.auc_b),
                    auc_difference=m.json_float(test.diff),
                    delong_z=m.json_float(test.z),
                    delong_p=m.json_float(test.p_value),
                    delong_log10_p=m.json_float(test.log10_p_value),
                    delong_std_error=m.json_float(test.std_error),
                    **paired,
                )
            )
    return out
