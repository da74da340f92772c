"""``face-bench calibrate``: fit score -> P(same person) maps on one subset, judge them on
held-out people and on other subsets.

One evaluation scores the fitting subset and every ``apply_to`` subset; then, per model:

1. the map written to the file is fitted on every pair of the fitting subset;
2. its held-out quality comes from identity-disjoint cross-fitting (``k`` folds of people:
   each fold's own pairs are scored by a map fitted without any of its people), with
   probabilities at the held-out pairs' own genuine fraction (within-fold pairs keep every
   genuine pair but only a k-th of the impostor pairs, so their base rate is not the
   fitting set's);
3. on each other subset the map is applied as it is, at the stated prior (default: the
   fitting subset's genuine fraction): what a user of the probabilities would see there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.core.version import __version__
from face_bench.metrics.calibration import CalibrationQuality, calibration_quality
from face_bench.metrics.calibration_maps import Method, cross_fit, fit_map, logit, sigmoid
from face_bench.models.backends import preprocessing
from face_bench.results.calibration_file import CalibrationFile, FittedOn, ModelMap
from face_bench.run.evaluation import Evaluation, Progress, evaluate
from face_bench.run.request import EvaluationRequest
from face_bench.run.subset_scores import ScoreTable, SubsetScores


@dataclass(frozen=True)
class CalibrationSettings:
    method: Method = "platt"
    k: int = 5
    n_boot: int = 1000
    seed: int = 0
    prior: float | None = None  # None: the fitting subset's genuine fraction
    by: tuple[str, ...] = ()  # manifest columns: measures per group of pairs within one group


@dataclass
class Calibration:
    """The file to write and every quality block, keyed by model then set."""

    file: CalibrationFile
    quality: dict[str, dict[str, CalibrationQuality]] = field(default_factory=dict)
    evaluation: Evaluation | None = None


def _pairs(table: ScoreTable, subset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if table.ids_a is None or table.ids_b is None:
        raise MetricError(
            f"{subset}: too many pairs to calibrate pair by pair; use --sample or --sample-pairs"
        )
    return table.scores.astype(np.float64), table.labels.astype(bool), table.ids_a, table.ids_b


@dataclass(frozen=True)
class _Mapped:
    """One set's pairs with the LLRs a map gave them, and the prior to read them at."""

    scores: np.ndarray
    labels: np.ndarray
    llr: np.ndarray
    ids_a: np.ndarray
    ids_b: np.ndarray
    prior: float
    keep: np.ndarray  # which of the subset's scored pairs these are

    def quality(
        self, settings: CalibrationSettings, within: np.ndarray | None = None
    ) -> CalibrationQuality:
        k = np.ones(self.labels.size, dtype=bool) if within is None else within[self.keep]
        probability = sigmoid(self.llr[k] + float(logit(self.prior)))
        return calibration_quality(
            self.scores[k], self.labels[k], self.llr[k], probability,
            (self.ids_a[k], self.ids_b[k]), self.prior, settings.n_boot, settings.seed,
        )  # fmt: skip


def _held_out(table: ScoreTable, name: str, settings: CalibrationSettings) -> _Mapped:
    """Cross-fitted LLRs of the pairs within one fold, at their own genuine fraction."""
    scores, labels, ids_a, ids_b = _pairs(table, name)
    fitted = cross_fit(scores, labels, ids_a, ids_b, settings.method, settings.k, settings.seed)
    h = fitted.held_out
    prior = float(labels[h].mean())
    return _Mapped(scores[h], labels[h], fitted.llr[h], ids_a[h], ids_b[h], prior, h)


def _applied(
    table: ScoreTable, name: str, entry: ModelMap, settings: CalibrationSettings
) -> _Mapped:
    """The map as it is, at the stated prior (default: the fitting prior)."""
    scores, labels, ids_a, ids_b = _pairs(table, name)
    llr = entry.calibration_map().llr(scores)
    prior = entry.prior if settings.prior is None else settings.prior
    return _Mapped(scores, labels, llr, ids_a, ids_b, prior, np.ones(scores.size, dtype=bool))


def _groups(
    evaluation: Evaluation, subset: SubsetScores, by: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """``--by`` groups: the subset's pairs whose two images share the group's values."""
    from face_bench.run.differentials import group_labels

    if not by:
        return {}
    a, b, _label = subset.pairs.explicit()
    group_a = group_labels(evaluation.images, a, by)
    group_b = group_labels(evaluation.images, b, by)
    same = group_a == group_b
    return {str(g): same & (group_a == g) for g in sorted(set(group_a[same].tolist()))}


def _by_group(
    evaluation: Evaluation,
    subset: SubsetScores,
    label: str,
    mapped: _Mapped,
    settings: CalibrationSettings,
) -> dict[str, CalibrationQuality]:
    """The same measures per group; a group without both kinds of pair is left out."""
    out = {}
    for group, within in _groups(evaluation, subset, settings.by).items():
        try:
            out[f"{label} · {group}"] = mapped.quality(settings, within)
        except MetricError:
            continue
    return out


def _fitted_on(evaluation: Evaluation, fit: SubsetScores) -> FittedOn:
    results = evaluation.results
    run = next(s for s in results.subsets if s.name == fit.name)
    table = next(iter(fit.scores.values()))
    _s, labels, ids_a, ids_b = _pairs(table, fit.name)
    return FittedOn(
        dataset=results.dataset.path,
        dataset_digest=results.dataset.digest,
        subset=fit.name,
        pairs_sha256=run.pairs.pairs_sha256,
        n_genuine=int(labels.sum()),
        n_impostor=int((~labels).sum()),
        n_people=int(np.unique(np.concatenate([ids_a, ids_b])).size),
    )


def fit_models(evaluation: Evaluation, settings: CalibrationSettings) -> Calibration:
    """Fit, cross-fit and apply every model's map on an evaluation's subsets (first: fit)."""
    fit, *others = evaluation.subsets
    infos = {m.name: m for m in evaluation.results.models}
    entries: list[ModelMap] = []
    quality: dict[str, dict[str, CalibrationQuality]] = {}
    for name, table in fit.scores.items():
        scores, labels, _a, _b = _pairs(table, fit.name)
        mapped = fit_map(scores, labels, settings.method)
        spec = evaluation.specs[name]
        held_pairs = _held_out(table, fit.name, settings)
        held = held_pairs.quality(settings)
        entry = ModelMap(
            name=name,
            weights_sha256=infos[name].weights_sha256,
            preprocessing=preprocessing(spec),
            faces={
                k: v for k, v in infos[name].preprocessing.items() if k not in preprocessing(spec)
            },
            similarity=spec.similarity,
            units=spec.units,
            method=settings.method,
            prior=mapped.prior,
            parameters=mapped.parameters(),
            held_out=held.to_dict(),
        )
        label = f"{fit.name} (held out)"
        quality[name] = {label: held}
        groups = _by_group(evaluation, fit, label, held_pairs, settings)
        for other in others:
            applied_pairs = _applied(other.scores[name], other.name, entry, settings)
            applied = applied_pairs.quality(settings)
            entry.applied[other.name] = applied.to_dict()
            quality[name][other.name] = applied
            groups.update(_by_group(evaluation, other, other.name, applied_pairs, settings))
        entry.groups.update({g: q.to_dict() for g, q in groups.items()})
        quality[name].update(groups)
        entries.append(entry)
    file = CalibrationFile(
        face_bench_version=__version__,
        fitted_on=_fitted_on(evaluation, fit),
        cross_fitting={"k": settings.k, "seed": settings.seed, "folds": "identity-disjoint"},
        models=entries,
    )
    return Calibration(file, quality, evaluation)


def calibrate(
    request: EvaluationRequest,
    settings: CalibrationSettings,
    progress: Progress | None = None,
    on_message: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
) -> Calibration:
    """Evaluate the request's subsets (the first is fitted on) and fit every model's map."""
    evaluation = evaluate(request, progress=progress, on_message=on_message, on_info=on_info)
    return fit_models(evaluation, settings)


def summary_rows(calibration: Calibration) -> list[dict[str, Any]]:
    """One row per model and set, for tables and --format json."""
    rows = []
    for model, sets in calibration.quality.items():
        for name, q in sets.items():
            rows.append({"model": model, "set": name, **q.to_dict()})
    return rows
