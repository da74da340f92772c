"""Figures read against a threshold: metric sweep, score histograms, per-subset error bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from face_bench.report.plots.style import (
    _as_array,
    _figure,
    _grid,
    _model_colors,
    _note_cjk,
    _panel_size,
    _pct,
    _pct_formatter,
    _same_length,
    thin_indices,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

# Colour is the model's everywhere; within a sweep panel the metrics differ by line style
# and width (F1, prevalence-dependent, the thick one), in a histogram the classes by fill.
_METRIC_STYLES = {
    "precision": {"linestyle": "--", "linewidth": 1.5},
    "recall": {"linestyle": ":", "linewidth": 2.0},
    "F1": {"linestyle": "-", "linewidth": 2.4},
    "accuracy": {"linestyle": "-.", "linewidth": 1.3},
}
_IMPOSTOR_EDGE = "#333333"
_MARKER_STYLES = (("default", "--"), ("f1", ":"), ("eer", "-."))
_EXTRA_MARKER_STYLES = ((0, (5, 2, 1, 2, 1, 2)), (0, (1, 4)), (0, (8, 3)))


class Marker(NamedTuple):
    """A threshold worth pointing at (default, F1-optimal, EER), in the model's units."""

    name: str
    threshold: float
    f1: float | None = None


@dataclass(frozen=True)
class SweepPanel:
    """Metrics of one model over its own threshold range.

    ``lower_is_same`` only adds a hint to the axis label, since a distance and a
    similarity read in opposite directions.
    """

    model: str
    units: str
    threshold: ArrayLike
    precision: ArrayLike
    recall: ArrayLike
    f1: ArrayLike
    accuracy: ArrayLike
    markers: Sequence[Marker | tuple[Any, ...]] = ()
    lower_is_same: bool | None = None


@dataclass(frozen=True)
class ScorePanel:
    """Genuine and impostor scores of one model, in the model's own units."""

    model: str
    units: str
    genuine: ArrayLike
    impostor: ArrayLike
    markers: Sequence[Marker | tuple[Any, ...]] = ()
    lower_is_same: bool | None = None


class SubsetRate(NamedTuple):
    """Error rates (fractions) of one model on one subset at its global threshold."""

    subset: str
    model: str
    fmr: float
    fnmr: float


# -------------------------------------------------------------------- markers


def _markers(raw: Sequence[Marker | tuple[Any, ...]]) -> list[Marker]:
    return [m if isinstance(m, Marker) else Marker(*m) for m in raw]


def _marker_style(name: str, extra: int) -> Any:
    key = name.lower()
    for fragment, style in _MARKER_STYLES:
        if fragment in key:
            return style
    return _EXTRA_MARKER_STYLES[extra % len(_EXTRA_MARKER_STYLES)]


def _threshold_decimals(markers: Sequence[Marker]) -> int:
    """Two decimals for round values like 0.60, more when needed to show the value or
    to keep distinct markers from looking equal."""
    values = [float(m.threshold) for m in markers]
    for decimals in (2, 3):
        exact = all(abs(v - round(v, decimals)) < 1e-9 for v in values)
        distinct = len({f"{v:.{decimals}f}" for v in values}) == len(set(values))
        if exact and distinct:
            return decimals
    return 3 if len({f"{v:.3f}" for v in values}) == len(set(values)) else 4


def _draw_markers(ax: Axes, markers: Sequence[Marker]) -> None:
    decimals = _threshold_decimals(markers)
    f1s = [float(m.f1) for m in markers if m.f1 is not None and np.isfinite(m.f1)]
    # A third decimal only when two different F1 values would otherwise read the same.
    f1_decimals = 2 if len({f"{f:.2f}" for f in f1s}) == len(set(f1s)) else 3
    extra = 0
    for m in markers:
        style = _marker_style(m.name, extra)
        if style in _EXTRA_MARKER_STYLES:
            extra += 1
        label = f"{m.name} {m.threshold:.{decimals}f}"
        if m.f1 is not None and np.isfinite(m.f1):
            label += f" (F1 {m.f1:.{f1_decimals}f})"
        ax.axvline(m.threshold, color="#222222", linestyle=style, linewidth=1.5, label=label)


def _axis_units(units: str, lower_is_same: bool | None) -> str:
    if lower_is_same is None:
        return units
    return f"{units} ({'lower' if lower_is_same else 'higher'} = same person)"


def _legend_below(ax: Axes, ncol: int = 2) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)


# -------------------------------------------------------------------- sweep


def _label_panel(ax, panel, colors: Mapping[str, str], ylabel: str) -> None:
    """Axis labels in the model's units, the model as a coloured title, legend below."""
    ax.set_xlabel(_axis_units(panel.units, panel.lower_is_same))
    ax.set_ylabel(ylabel)
    ax.set_title(panel.model, color=colors[panel.model], fontweight="bold")
    _legend_below(ax)


def plot_sweep(
    panels: Sequence[SweepPanel],
    path: str | Path,
    title: str = "Threshold sweep",
    *,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """Precision, recall, F1 and accuracy against each model's own threshold.

    One panel per model because thresholds are not comparable across models (a
    Euclidean distance vs a cosine similarity). Metric arrays are fractions aligned
    with ``threshold``; NaN (e.g. precision with nothing accepted) leaves a gap.
    """
    if not panels:
        raise ValueError("plot_sweep needs at least one panel")
    colors = _model_colors([p.model for p in panels], model_colors)
    _note_cjk([title, *(p.model for p in panels), *(p.units for p in panels)])
    with _figure(path, *_panel_size(len(panels), 5.8, 5.6)) as fig:
        for ax, panel in zip(_grid(fig, len(panels)), panels, strict=True):
            threshold = _as_array(panel.threshold, f"{panel.model} threshold")
            series = {
                "precision": _as_array(panel.precision, f"{panel.model} precision"),
                "recall": _as_array(panel.recall, f"{panel.model} recall"),
                "F1": _as_array(panel.f1, f"{panel.model} f1"),
                "accuracy": _as_array(panel.accuracy, f"{panel.model} accuracy"),
            }
            _same_length(panel.model, threshold, *series.values())
            order = np.argsort(threshold, kind="stable")
            threshold = threshold[order]
            keep = thin_indices([threshold, *(v[order] for v in series.values())])
            for name, values in series.items():
                ax.plot(
                    threshold[keep],
                    values[order][keep],
                    color=colors[panel.model],
                    label=name,
                    **_METRIC_STYLES[name],
                )
            _draw_markers(ax, _markers(panel.markers))
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlim(threshold[0], threshold[-1])
            _label_panel(ax, panel, colors, "Metric value")
        fig.suptitle(title)
    return Path(path)


# ---------------------------------------------------------------- histograms


def plot_score_histograms(
    panels: Sequence[ScorePanel],
    path: str | Path,
    title: str = "Genuine vs impostor scores",
    *,
    bins: int = 80,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """Genuine and impostor score densities per model, with its thresholds marked.

    The overlap of the two shapes is where errors happen; bins are shared within a
    panel so the two densities are comparable.
    """
    if not panels:
        raise ValueError("plot_score_histograms needs at least one panel")
    colors = _model_colors([p.model for p in panels], model_colors)
    _note_cjk([title, *(p.model for p in panels), *(p.units for p in panels)])
    with _figure(path, *_panel_size(len(panels), 5.8, 4.9)) as fig:
        for ax, panel in zip(_grid(fig, len(panels)), panels, strict=True):
            genuine = np.asarray(panel.genuine, dtype=float).ravel()
            impostor = np.asarray(panel.impostor, dtype=float).ravel()
            genuine, impostor = genuine[np.isfinite(genuine)], impostor[np.isfinite(impostor)]
            if genuine.size + impostor.size == 0:
                raise ValueError(f"{panel.model}: no finite scores")
            markers = _markers(panel.markers)
            both = np.concatenate([genuine, impostor])
            lo, hi = float(both.min()), float(both.max())
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            color = colors[panel.model]
            if genuine.size:
                density, _ = np.histogram(genuine, bins=edges, density=True)
                label = f"genuine pairs (n={genuine.size:,})"
                ax.stairs(density, edges, fill=True, alpha=0.45, color=color, label=label)
                ax.stairs(density, edges, color=color, linewidth=1.2)
            if impostor.size:
                density, _ = np.histogram(impostor, bins=edges, density=True)
                label = f"impostor pairs (n={impostor.size:,})"
                ax.stairs(
                    density,
                    edges,
                    fill=False,
                    hatch="///",
                    color=_IMPOSTOR_EDGE,
                    linewidth=1.2,
                    label=label,
                )
            _draw_markers(ax, markers)
            _label_panel(ax, panel, colors, "Density")
        fig.suptitle(title)
    return Path(path)


# --------------------------------------------------------------- subset bars


@dataclass(frozen=True)
class _BarLayout:
    """What every panel of the subset-bar figure shares: order, colours and the log axis."""

    subsets: list[str]
    models: list[str]
    colors: dict[str, str]
    table: dict[tuple[str, str], SubsetRate]
    floor: float  # bottom of the log axis; zero rates are stubs just above it
    upper: float
    annotate: bool
    thresholds: Mapping[str, float] | None


def _log_range(rates: list[SubsetRate]) -> tuple[float, float]:
    """(floor, upper) of the log axis: two decades at least, ending at 100% at most."""
    values = [v for r in rates for v in (r.fmr, r.fnmr) if v is not None and np.isfinite(v)]
    positives = [v for v in values if v > 0]
    floor = 10.0 ** math.floor(math.log10(min(positives) / 3)) if positives else 1e-4
    top = max(positives, default=floor * 10)
    # Rates end at 100%; two decades at least, so the axis never needs minor-tick labels.
    upper = min(top * 8, 1.0)
    return min(floor, 10.0 ** math.floor(math.log10(upper / 100))), upper


def _bar_layout(rates, thresholds, model_colors, title: str) -> _BarLayout:
    rates = [r if isinstance(r, SubsetRate) else SubsetRate(*r) for r in rates]
    if not rates:
        raise ValueError("plot_subset_bars needs at least one rate")
    subsets = list(dict.fromkeys(r.subset for r in rates))
    models = list(dict.fromkeys(r.model for r in rates))
    _note_cjk([title, *subsets, *models])
    floor, upper = _log_range(rates)
    return _BarLayout(
        subsets=subsets,
        models=models,
        colors=_model_colors(models, model_colors),
        table={(r.subset, r.model): r for r in rates},
        floor=floor,
        upper=upper,
        annotate=len(subsets) * len(models) <= 24,
        thresholds=thresholds,
    )


def _model_bars(ax: Axes, layout: _BarLayout, metric: str, j: int, legend: bool) -> None:
    """One model's bars of ``metric`` across the subsets; zero rates as hatched stubs."""
    model = layout.models[j]
    width = 0.8 / len(layout.models)
    offset = np.arange(len(layout.subsets)) - 0.4 + width * (j + 0.5)
    heights = np.array(
        [
            getattr(layout.table[(s, model)], metric) if (s, model) in layout.table else np.nan
            for s in layout.subsets
        ],
        dtype=float,
    )
    zero = heights == 0
    label = model
    if layout.thresholds and model in layout.thresholds:
        label = f"{model} @ {layout.thresholds[model]:.3g}"
    color = layout.colors[model]
    stub = layout.floor * 1.5
    ax.bar(offset, np.where(zero, stub, heights), width * 0.92, color=color,
           label=label if legend else None)  # fmt: skip
    if zero.any():
        ax.bar(offset[zero], stub, width * 0.92, color="white", edgecolor=color, hatch="//")
    if layout.annotate:
        for xi, h in zip(offset, heights, strict=True):
            if np.isfinite(h):
                _bar_label(ax, xi, h, layout.floor, layout.upper, rotated=len(layout.models) > 2)


def _bar_panel(ax: Axes, layout: _BarLayout, metric: str, label: str, legend: bool) -> None:
    """One panel (FMR or FNMR): every model's bars on the shared log axis."""
    from matplotlib.ticker import NullFormatter

    for j in range(len(layout.models)):
        _model_bars(ax, layout, metric, j, legend)
    ax.set_yscale("log")
    ax.set_ylim(layout.floor, layout.upper)
    ax.yaxis.set_major_formatter(_pct_formatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(np.arange(len(layout.subsets)), layout.subsets)
    ax.set_title(label)
    ax.set_xlabel("Subset")
    ax.grid(True, axis="y", which="major")
    ax.grid(False, axis="x")


def plot_subset_bars(
    rates: Sequence[SubsetRate | tuple[str, str, float, float]],
    path: str | Path,
    title: str = "Error rates per subset at the global threshold",
    *,
    thresholds: Mapping[str, float] | None = None,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """FMR and FNMR per subset, grouped by model, on a log scale.

    Shows whether one global threshold treats subsets (e.g. ``ordinary`` vs
    ``young_women``) alike. Zero rates cannot sit on a log axis, so they are drawn
    as hatched stubs labelled 0. ``thresholds`` (model -> value) goes into the legend.
    """
    layout = _bar_layout(rates, thresholds, model_colors, title)
    with _figure(path, max(9.0, 2.4 + 1.3 * len(layout.subsets) * 2), 5.0) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        _bar_panel(axes[0], layout, "fmr", "False match rate (FMR)", legend=True)
        _bar_panel(axes[1], layout, "fnmr", "False non-match rate (FNMR)", legend=False)
        axes[0].set_ylabel("Rate (log scale)")
        fig.legend(
            loc="outside lower center",
            ncol=len(layout.models),
            title="Model at its global threshold" if thresholds else "Model",
        )
        fig.suptitle(title)
    return Path(path)


def _bar_label(
    ax: Axes, x: float, rate: float, floor: float, upper: float, *, rotated: bool
) -> None:
    """Label a bar above its top, or inside it when a bar near 100% leaves no room above."""
    text = _pct(rate) if rate > 0 else "0"
    y = max(rate, floor * 1.5)
    # Room above the bar and the label's height, both as fractions of the log axis.
    room = math.log10(upper / (y * 1.15)) / math.log10(upper / floor)
    needed = 0.02 * len(text) + 0.01 if rotated else 0.05
    inside = room < needed
    ax.text(
        x,
        y / 1.15 if inside else y * 1.15,
        text,
        ha="center",
        va="top" if inside else "bottom",
        fontsize=8.5,
        rotation=90 if rotated else 0,
        color="white" if inside else "black",
    )
