"""Turn a run's scores and results into the figures (the drawing itself lives in ``plots``).

Each function takes a run (``report.source.RunData``, read from a run folder, or a live
evaluation of ``roc``/``threshold-sweep``): its ``results`` and each subset's score tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from face_bench.core.text import display, unique_slugs

if TYPE_CHECKING:
    from face_bench.results.blocks import ModelMetrics

NAME_WIDTH = 40  # names in titles and legends are shortened to this; files keep them whole


def subset_slug(evaluation, name: str) -> str:
    """The subset's file-name part: distinct for every subset of the run (``x y`` / ``x_y``)."""
    return unique_slugs([s.name for s in evaluation.subsets])[name]


def _label(model: str, subset: str, several: bool) -> str:
    model = display(model, NAME_WIDTH)
    return f"{model} · {display(subset, NAME_WIDTH)}" if several else model


BAND_REPLICATES = 200
"""Identity-bootstrap replicates behind the DET bands (fewer than the metrics' 1000: a band
is read by eye)."""


def _det_marks(metrics: ModelMetrics) -> tuple:
    """Default threshold, target-FMR threshold and EER as DET points."""
    from face_bench.report import plots

    marks = []
    default = metrics.at_default
    if default.fmr is not None and default.fnmr is not None:
        marks.append(plots.OperatingMark("default", default.fmr, default.fnmr))
    target = metrics.at_target_fmr
    if target is not None and target.fmr is not None and target.fnmr is not None:
        marks.append(plots.OperatingMark("target", target.fmr, target.fnmr))
    if metrics.eer is not None:
        marks.append(plots.OperatingMark("EER", metrics.eer, metrics.eer))
    return tuple(marks)


class BandPairs(NamedTuple):
    """The pairs behind one DET curve's identity-bootstrap band."""

    scores: np.ndarray
    labels: np.ndarray
    ids_a: np.ndarray
    ids_b: np.ndarray


class RocDet(NamedTuple):
    """What roc.<fmt> and det.<fmt> show, as plain arrays and numbers: the figures can be
    drawn from it without the evaluation (in another process, say)."""

    roc: list  # plots.RocSeries
    det: list  # plots.DetSeries, bands not yet counted
    bands: list[BandPairs | None]  # one per DET curve
    title: str
    n_boot: int
    seed: int


def _det_band(pairs: BandPairs | None, fpr, n_boot: int, seed: int):
    """The identity-bootstrap band of one DET curve, or None without a bootstrap."""
    from face_bench.metrics.uncertainty import bootstrap_det_band
    from face_bench.report import plots

    if not n_boot or pairs is None:
        return None
    positive = fpr[fpr > 0]
    low = max(positive.min() if positive.size else 1e-4, 1.0 / max(1, (~pairs.labels).sum()))
    grid = np.geomspace(low, 1.0, 60)
    lower, upper = bootstrap_det_band(
        pairs.scores,
        pairs.labels,
        pairs.ids_a,
        pairs.ids_b,
        grid,
        min(n_boot, BAND_REPLICATES),
        seed,
    )
    return plots.DetBand(grid, lower, upper)


def roc_det_inputs(evaluation) -> RocDet:
    """The curves, legends and marks of roc.<fmt> and det.<fmt>: colour = model, line style =
    subset; the DET marks each curve's default threshold, target-FMR threshold and EER."""
    from face_bench.report import plots
    from face_bench.report.sweeps import curve_points

    several = len(evaluation.subsets) > 1
    settings = evaluation.results.settings
    roc_curves, det_curves, bands = [], [], []
    for subset in evaluation.subsets:
        run = evaluation.results.subset(subset.name)
        metrics = {m.name: m.metrics for m in run.models}
        for name, scores in subset.scores.items():
            fpr, tpr = curve_points(scores)
            label = _label(name, subset.name, several)
            m = metrics[name]
            n_impostor = int(np.count_nonzero(~np.asarray(scores.labels, dtype=bool)))
            roc_curves.append(
                plots.RocSeries(
                    label, fpr, tpr, m.roc_auc, name, subset.name, n_impostor=n_impostor
                )
            )
            det_curves.append(
                plots.DetSeries(
                    label,
                    fpr,
                    1.0 - tpr,
                    m.eer,
                    model=name,
                    subset=subset.name,
                    points=_det_marks(m),
                    n_impostor=n_impostor,
                )
            )
            pairs = BandPairs(scores.scores, scores.labels, scores.ids_a, scores.ids_b)
            bands.append(pairs if scores.per_pair else None)
    title = display(" vs ".join(display(s.name, NAME_WIDTH) for s in evaluation.subsets), 120)
    return RocDet(roc_curves, det_curves, bands, title, settings.bootstrap, settings.seed)


def draw_roc_det(job: RocDet, out: Path, fmt: str = "png") -> list[Path]:
    """roc.<fmt> (log FMR axis) and det.<fmt>, with an identity-bootstrap band on each DET
    curve when the run bootstrapped."""
    from face_bench.report import plots

    det = [
        curve._replace(band=_det_band(pairs, np.asarray(curve.fmr), job.n_boot, job.seed))
        for curve, pairs in zip(job.det, job.bands, strict=True)
    ]
    return [
        plots.plot_roc(job.roc, out / f"roc.{fmt}", f"ROC — {job.title}"),
        plots.plot_det(det, out / f"det.{fmt}", f"DET — {job.title}"),
    ]


def roc_and_det(evaluation, out: Path, fmt: str = "png") -> list[Path]:
    """roc.<fmt> and det.<fmt> of an evaluation, drawn here."""
    return draw_roc_det(roc_det_inputs(evaluation), out, fmt)


def error_rates(evaluation, out: Path, fmt: str = "png") -> Path | None:
    """rates.<fmt>: FMR and FNMR against each model's own threshold, every subset."""
    from face_bench.report import plots
    from face_bench.report.sweeps import sweep_frame

    panels = []
    for subset in evaluation.subsets:
        for name, scores in subset.scores.items():
            frame = sweep_frame(scores)
            panels.append(
                plots.RateCurve(
                    model=display(name, NAME_WIDTH),
                    subset=display(subset.name, NAME_WIDTH),
                    units=scores.spec.units,
                    threshold=frame["threshold"].to_numpy(),
                    fmr=frame["fmr"].to_numpy(),
                    fnmr=frame["fnmr"].to_numpy(),
                    default=scores.spec.threshold,
                    lower_is_same=scores.spec.distance_like,
                )
            )
    if not panels:
        return None
    title = "FMR and FNMR against the threshold — " + display(
        " vs ".join(display(s.name, NAME_WIDTH) for s in evaluation.subsets), 120
    )
    return plots.plot_error_rates(panels, out / f"rates.{fmt}", title)


def sweep_panels(evaluation, subset):
    """One SweepPanel per model of ``subset`` with its marked thresholds."""
    from face_bench.report import plots
    from face_bench.report.sweeps import sweep_frame

    run = evaluation.results.subset(subset.name)
    panels = []
    for model in run.models:
        scores = subset.scores[model.name]
        frame = sweep_frame(scores)
        markers = [
            plots.Marker(m.name, m.threshold, m.f1)
            for m in (model.threshold_sweep.markers if model.threshold_sweep else [])
        ]
        panels.append(
            plots.SweepPanel(
                model=model.name,
                units=scores.spec.units,
                threshold=frame["threshold"].to_numpy(),
                precision=frame["precision"].to_numpy(),
                recall=frame["recall"].to_numpy(),
                f1=frame["f1"].to_numpy(),
                accuracy=frame["accuracy"].to_numpy(),
                markers=markers,
                lower_is_same=scores.spec.distance_like,
            )
        )
    return panels


def sweeps(evaluation, out: Path, fmt: str = "png") -> list[Path]:
    """sweep.<fmt> (one subset) or sweep-<subset>.<fmt> (several): a panel per model."""
    from face_bench.report import plots

    written = []
    several = len(evaluation.subsets) > 1
    for subset in evaluation.subsets:
        if not subset.scores:
            continue  # no per-pair scores in the run folder
        name = f"sweep-{subset_slug(evaluation, subset.name)}.{fmt}" if several else f"sweep.{fmt}"
        written.append(
            plots.plot_sweep(
                sweep_panels(evaluation, subset),
                out / name,
                f"Threshold sweep — {display(subset.name, NAME_WIDTH)}",
            )
        )
    return written


# ----------------------------------------------------------- report figures


def _metrics_by_model(evaluation, subset_name: str) -> dict[str, ModelMetrics]:
    run = evaluation.results.subset(subset_name)
    return {m.name: m.metrics for m in run.models}


def score_histograms(evaluation, out: Path, colors=None, fmt: str = "png") -> dict[str, Path]:
    """scores-<subset>.png: genuine vs impostor scores per model in its own units.

    The default and F1-optimal thresholds are drawn so the overlap they cut is visible.
    """
    from face_bench.report import plots

    written = {}
    for subset in evaluation.subsets:
        if not subset.scores:
            continue
        metrics = _metrics_by_model(evaluation, subset.name)
        panels = []
        for name, ms in subset.scores.items():
            spec = ms.spec
            units = np.asarray(ms.scores, dtype=float) * (-1.0 if spec.distance_like else 1.0)
            labels = np.asarray(ms.labels, dtype=bool)
            m = metrics[name]
            markers = [plots.Marker("default", spec.threshold, m.at_default.f1)]
            if m.best_f1.threshold is not None:
                markers.append(plots.Marker("best F1", m.best_f1.threshold, m.best_f1.f1))
            panels.append(
                plots.ScorePanel(
                    model=name,
                    units=spec.units,
                    genuine=units[labels],
                    impostor=units[~labels],
                    markers=markers,
                    lower_is_same=spec.distance_like,
                )
            )
        written[subset.name] = plots.plot_score_histograms(
            panels,
            out / f"scores-{subset_slug(evaluation, subset.name)}.{fmt}",
            f"Genuine vs impostor scores — {display(subset.name, NAME_WIDTH)}",
            model_colors=colors,
        )
    return written


def subset_bars(evaluation, out: Path, colors=None, fmt: str = "png") -> Path | None:
    """subset-rates.png: each group's FMR and FNMR at the one threshold per model, with the
    counts behind each rate and its identity-bootstrap 95% interval."""
    from face_bench.report import plots

    differentials = evaluation.results.differentials
    if not differentials or not differentials.models:
        return None
    rates, thresholds = [], {}
    for model, data in differentials.models.items():
        if data.threshold is not None:
            thresholds[model] = data.threshold
        for row in data.groups:
            if row.fmr.rate is None or row.fnmr.rate is None:
                continue
            rates.append(
                plots.SubsetRate(
                    row.group,
                    model,
                    row.fmr.rate,
                    row.fnmr.rate,
                    row.fmr.errors,
                    row.fmr.n,
                    row.fnmr.errors,
                    row.fnmr.n,
                    (row.fmr.lower, row.fmr.upper),
                    (row.fnmr.lower, row.fnmr.upper),
                )
            )
    if not rates:
        return None
    return plots.plot_subset_rates(
        rates, out / f"subset-rates.{fmt}", thresholds=thresholds, model_colors=colors
    )


def differential_matrix(evaluation, out: Path, fmt: str = "png") -> Path | None:
    """fmr-matrix.png: the cross-group impostor FMR of every model at its one threshold."""
    from face_bench.report.plots.matrix import MatrixPanel, plot_fmr_matrix

    differentials = evaluation.results.differentials
    if not differentials or not differentials.models:
        return None
    panels = []
    groups = differentials.groups
    for model, data in differentials.models.items():
        if data.threshold is None or not data.matrix:
            continue
        cells = {(c.group_a, c.group_b): c.fmr for c in data.matrix}
        cells |= {(c.group_b, c.group_a): c.fmr for c in data.matrix}
        errors = [
            [cells[(a, b)].errors if (a, b) in cells else None for b in groups] for a in groups
        ]
        pairs = [[cells[(a, b)].n if (a, b) in cells else None for b in groups] for a in groups]
        panels.append(
            MatrixPanel(model, groups, errors, pairs, f"{data.threshold:.4g} {data.units}")
        )
    if not panels:
        return None
    return plot_fmr_matrix(
        panels, out / f"fmr-matrix.{fmt}", "FMR between groups at one threshold per model"
    )


def umap_figure(projections, out: Path, fmt: str = "png") -> Path:
    """umap.png: one panel per model, points coloured by identity."""
    from face_bench.report import plots

    panels = [plots.EmbeddingPanel(p.model, p.coords, list(p.identities)) for p in projections]
    return plots.plot_umap(panels, out / f"umap.{fmt}")
