"""ROC and DET figures: one curve per model, AUC or EER in the legend as given."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from face_bench.report.plots.limits import draw_limits, fmr_limits, log_low
from face_bench.report.plots.style import (
    TITLE_WIDTH,
    as_array,
    check_same_length,
    label_colors,
    new_figure,
    note_cjk,
    pct,
    pct_formatter,
    shown,
    subset_styles,
    thin_indices,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


class RocSeries(NamedTuple):
    """One labelled ROC line to draw (the points of ``metrics.RocCurve``); ``auc`` comes
    from the metrics layer, not from here.

    ``model`` picks the colour and ``subset`` the line style (one encoding in every
    figure); both default to the label. ``n_impostor`` (the impostor pairs behind the curve)
    sets the FMR resolution 1/N marked on a log axis; without it the smallest FMR given is
    taken as that limit."""

    label: str
    fpr: ArrayLike
    tpr: ArrayLike
    auc: float | None = None
    model: str | None = None
    subset: str | None = None
    n_impostor: int | None = None


class OperatingMark(NamedTuple):
    """A point on a DET curve: ``kind`` is 'default', 'target' or 'EER' (rates as fractions)."""

    kind: str
    fmr: float
    fnmr: float


class DetBand(NamedTuple):
    """A pointwise identity-bootstrap interval of FNMR at each FMR of ``fmr``."""

    fmr: ArrayLike
    lower: ArrayLike
    upper: ArrayLike


class DetSeries(NamedTuple):
    """One model's DET curve; ``eer`` (a fraction) is marked on the FMR = FNMR line;
    ``n_impostor`` as in ``RocSeries``."""

    label: str
    fmr: ArrayLike
    fnmr: ArrayLike
    eer: float | None = None
    model: str | None = None
    subset: str | None = None
    points: tuple[OperatingMark, ...] = ()
    band: DetBand | None = None
    n_impostor: int | None = None


_MARK_SHAPES = {"default": "o", "target": "s", "EER": "D"}
_MARK_NAMES = {
    "default": "default threshold",
    "target": "target-FMR threshold",
    "EER": "EER",
}


# ---------------------------------------------------------------------- ROC


def _curve_inputs(curves, kind, caller: str, title: str, model_colors):
    """Records (tuples accepted), colours and validated (x, y) arrays for ROC and DET plots."""
    curves = [c if isinstance(c, kind) else kind(*c) for c in curves]
    if not curves:
        raise ValueError(f"{caller} needs at least one curve")
    colors = label_colors([c.model or c.label for c in curves], model_colors)
    styles = subset_styles([c.subset or "" for c in curves])
    colors = {c.label: colors[c.model or c.label] for c in curves}
    colors.update({("style", c.label): styles[c.subset or ""] for c in curves})
    note_cjk([title, *(c.label for c in curves)])
    x_name, y_name = kind._fields[1:3]
    arrays = []
    for c in curves:
        x = as_array(getattr(c, x_name), f"{c.label} {x_name}")
        y = as_array(getattr(c, y_name), f"{c.label} {y_name}")
        check_same_length(c.label, x, y)
        arrays.append((x, y))
    return curves, colors, arrays


def plot_roc(
    curves: Sequence[RocSeries | tuple[str, ArrayLike, ArrayLike, float | None]],
    path: str | Path,
    title: str = "ROC",
    *,
    log_x: bool = True,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """ROC, one curve per model and subset; the log FMR axis (default) spreads out the
    low-FMR end where verification systems are operated.

    ``fpr`` and ``tpr`` are fractions in [0, 1]; the AUC in the legend is taken as
    given.
    """
    from matplotlib.ticker import NullFormatter

    curves, colors, arrays = _curve_inputs(curves, RocSeries, "plot_roc", title, model_colors)

    x_lo, limits = 0.0, []
    if log_x:  # FMR = 0 has no place on a log axis: curves stop at 1/N, which is marked
        limits = fmr_limits(curves, arrays, colors)
        x_lo = 10.0 ** math.floor(math.log10(max(log_low(limits, 1e-4), 1e-7)))
        arrays = [(f[f > 0], t[f > 0]) for f, t in arrays]

    with new_figure(path, 6.6, 5.8, [title, *(c.label for c in curves)]) as fig:
        ax = fig.add_subplot()
        for c, (fpr, tpr) in zip(curves, arrays, strict=True):
            keep = thin_indices([np.log10(fpr) if log_x else fpr, tpr])
            label = shown(c.label) if c.auc is None else f"{shown(c.label)} (AUC {c.auc:.4f})"
            ax.plot(
                fpr[keep],
                tpr[keep],
                color=colors[c.label],
                linestyle=colors[("style", c.label)],
                label=label,
            )
        if log_x:
            chance = np.geomspace(x_lo, 1.0, 200)
            ax.plot(chance, chance, color="grey", linestyle="--", linewidth=1, label="chance")
            ax.set_xscale("log")
            ax.set_xlim(x_lo, 1.0)
            ax.xaxis.set_major_formatter(pct_formatter())
            ax.xaxis.set_minor_formatter(NullFormatter())  # log minor labels are mathtext
            ax.grid(True, which="minor", alpha=0.12)
            draw_limits(ax, limits, float, x_lo)
        else:
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
            ax.set_xlim(-0.01, 1.01)
            ax.xaxis.set_major_formatter(pct_formatter())
        ax.set_ylim(-0.01, 1.01)
        ax.yaxis.set_major_formatter(pct_formatter())
        ax.set_xlabel(
            "False match rate (impostor pairs accepted)" + (", log scale" if log_x else "")
        )
        ax.set_ylabel("True match rate (genuine pairs accepted)")
        ax.set_title(shown(title, TITLE_WIDTH))
        ax.legend(loc="lower right")
    return Path(path)


# ---------------------------------------------------------------------- DET

# Tick candidates in priority order: decades and 50% first, then 5% and 20%, then the rest.
_DET_TICK_TIERS = (
    (1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.5),
    (0.05, 0.2),
    (0.02, 0.4, 0.8, 0.9, 0.95),
    (2e-3, 5e-3, 0.3, 0.6),
)
_DET_CLIP = 1e-9


def _det_ticks(lo: float, hi: float, *, horizontal: bool) -> list[float]:
    """Percent ticks between ``lo`` and ``hi``, the roundest first, no label touching another.

    Side by side (x axis) labels need room for their width, so the spacing depends on
    label length; stacked (y axis) they only need a line height.
    """
    from scipy.special import ndtri  # the normal quantile; scipy.stats is slow to import

    span = float(ndtri(hi) - ndtri(lo))
    per_char = span / 60  # about 60 tick-label characters fit along a 5.5-inch axis

    def fits(t: float, k: float) -> bool:
        gap = abs(ndtri(t) - ndtri(k))
        if not horizontal:
            return gap >= span / 14
        return gap >= per_char * ((len(pct(t)) + len(pct(k))) / 2 + 1.5)

    ticks: list[float] = []
    for tier in _DET_TICK_TIERS:
        for t in tier:
            if lo <= t <= hi and all(fits(t, k) for k in ticks):
                ticks.append(t)
    return sorted(ticks)


def _det_low(arrays: Sequence[np.ndarray]) -> float:
    """Lower axis limit: the decade holding the smallest non-zero rate (1e-6 to 1e-2)."""
    positives = [a[a > 0] for a in arrays]
    smallest = min((p.min() for p in positives if p.size), default=1e-3)
    return 10.0 ** math.floor(math.log10(min(max(smallest, 1e-6), 1e-2)))


def plot_det(
    curves: Sequence[DetSeries | tuple[str, ArrayLike, ArrayLike, float | None]],
    path: str | Path,
    title: str = "DET",
    *,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """DET curves on normal-deviate axes, where good systems become straight lines.

    ``fmr`` and ``fnmr`` are fractions; rates of 0 or 1 are clipped just off the
    axes. Each model's EER (a fraction, as computed elsewhere) is marked.
    """
    from scipy.special import ndtri  # the normal quantile; scipy.stats is slow to import

    curves, colors, arrays = _curve_inputs(curves, DetSeries, "plot_det", title, model_colors)

    limits = fmr_limits(curves, arrays, colors)
    x_lo = _det_low([np.array([log_low(limits, 1e-3)])])
    arrays = [(f[f > 0], r[f > 0]) for f, r in arrays]  # FMR = 0: beyond the axis, see 1/N
    y_lo = _det_low([f for _, f in arrays])
    hi = _det_high(curves)
    bounds = (x_lo, y_lo, hi)

    # The legend sits below the axes: high-EER curves fill every corner of a DET plot.
    legend_rows = math.ceil((len(curves) + 5) / 2)
    texts = [title, *(c.label for c in curves)]
    with new_figure(path, 6.6, 5.9 + 0.3 * legend_rows, texts) as fig:
        ax = fig.add_subplot()
        used_marks: set[str] = set()
        with_band: dict = {}
        diag = ndtri([min(x_lo, y_lo), hi])
        ax.plot(diag, diag, color="grey", linestyle="--", linewidth=0.9, label="FMR = FNMR")
        for c, (fmr, fnmr) in zip(curves, arrays, strict=True):
            used_marks.update(_draw_det_curve(ax, c, fmr, fnmr, colors, with_band, bounds))
        _det_axes(ax, limits, bounds, title)
        _det_legend(fig, ax, used_marks, with_band)
    return Path(path)


def _det_high(curves: Sequence[DetSeries]) -> float:
    """Upper axis limit: 50% unless an EER or a marked point lies beyond it, since most
    curves say nothing above 50% and the space is better spent on the low rates."""
    eers = [c.eer for c in curves if c.eer is not None]
    marked = [v for c in curves for p in c.points for v in (p.fmr, p.fnmr)]
    return 0.5 if all(e <= 0.4 for e in eers) and all(v <= 0.45 for v in marked) else 0.99


def _draw_det_curve(
    ax,
    c: DetSeries,
    fmr: np.ndarray,
    fnmr: np.ndarray,
    colors: dict,
    with_band: dict,
    limits: tuple[float, float, float],
) -> set[str]:
    """One curve, its band (recorded in ``with_band`` for the legend) and its operating
    points; the kinds of point drawn, since the legend shows one entry per kind."""
    from scipy.special import ndtri

    x = ndtri(np.clip(fmr, _DET_CLIP, 1 - _DET_CLIP))
    y = ndtri(np.clip(fnmr, _DET_CLIP, 1 - _DET_CLIP))
    keep = thin_indices([x, y])
    color = colors[c.label]
    label = shown(c.label)
    label += "" if c.eer is None else f" (EER {c.eer * 100:.2f}%)"
    (line,) = ax.plot(
        x[keep], y[keep], color=color, linestyle=colors[("style", c.label)], label=label
    )
    band = _draw_band(ax, c.band, color)
    if band is not None:  # the legend shows the band behind its curve's line
        with_band[line] = (band, line)
    marks = list(c.points)
    if c.eer is not None and 0 < c.eer < 1 and not any(p.kind == "EER" for p in marks):
        marks.append(OperatingMark("EER", c.eer, c.eer))
    for mark in marks:
        _draw_mark(ax, mark, color, limits)
    return {m.kind for m in marks}


def _det_axes(ax, limits, bounds: tuple[float, float, float], title: str) -> None:
    """Percent ticks, the 1/N limits, axis ranges and labels, since normal-deviate axes need
    their ticks placed by hand."""
    from scipy.special import ndtri

    x_lo, y_lo, hi = bounds
    for axis, lo in ((ax.xaxis, x_lo), (ax.yaxis, y_lo)):
        ticks = _det_ticks(lo, hi, horizontal=axis is ax.xaxis)
        axis.set_ticks(ndtri(ticks), [pct(t) for t in ticks])
    draw_limits(ax, limits, ndtri, x_lo)
    ax.set_xlim(ndtri(x_lo), ndtri(hi))
    ax.set_ylim(ndtri(y_lo), ndtri(hi))
    ax.set_xlabel("False match rate (FMR, normal deviate scale)")
    ax.set_ylabel("False non-match rate (FNMR, normal deviate scale)")
    ax.set_title(shown(title, TITLE_WIDTH))


def _det_legend(fig, ax, used_marks: set[str], with_band: dict) -> None:
    """The legend below the axes, with one grey entry per marker shape used and each banded
    curve's band behind its line, since colour already names the model."""
    for kind in ("default", "target", "EER"):
        if kind in used_marks:  # one legend entry per marker shape, in grey
            ax.plot(
                [],
                [],
                marker=_MARK_SHAPES[kind],
                color="#555555",
                linestyle="none",
                label=_MARK_NAMES[kind],
            )
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        [with_band.get(h, h) for h in handles],
        labels,
        loc="outside lower center",
        ncol=2,
        frameon=False,
        title=_BAND_LEGEND if with_band else None,
    )


_BAND_LEGEND = "Shaded, in each model's colour: 95% identity-bootstrap band of FNMR"


def _draw_band(ax, band: DetBand | None, color: str):
    """A faint fill with edges in the model's colour, so overlapping bands stay apart; the
    fill, for the legend, or None without a band."""
    from scipy.special import ndtri

    if band is None:
        return None
    x = np.asarray(band.fmr, dtype=float)
    lo, up = np.asarray(band.lower, dtype=float), np.asarray(band.upper, dtype=float)
    ok = np.isfinite(lo) & np.isfinite(up) & (x > 0)
    if not ok.any():
        return None
    clip = (_DET_CLIP, 1 - _DET_CLIP)
    x, lo, up = (ndtri(np.clip(v[ok], *clip)) for v in (x, lo, up))
    for edge in (lo, up):
        ax.plot(x, edge, color=color, linewidth=0.7, alpha=0.75)
    return ax.fill_between(x, lo, up, color=color, alpha=0.12, linewidth=0)


def _draw_mark(ax, mark: OperatingMark, color: str, limits: tuple[float, float, float]) -> None:
    """An operating point; one beyond the axes (e.g. FNMR 0 at an accept-everything
    threshold) sits on the axis edge, hollow, so it is seen but not misread."""
    from scipy.special import ndtri

    x_lo, y_lo, hi = limits
    fmr, fnmr = min(max(mark.fmr, x_lo), hi), min(max(mark.fnmr, y_lo), hi)
    outside = (fmr, fnmr) != (mark.fmr, mark.fnmr)
    ax.plot(
        ndtri(fmr),
        ndtri(fnmr),
        marker=_MARK_SHAPES.get(mark.kind, "o"),
        markersize=8,
        color=color,
        markerfacecolor="white" if outside else color,
        markeredgecolor=color if outside else "white",
        markeredgewidth=1.6 if outside else 1.2,
        linestyle="none",
        zorder=5,
        clip_on=False,
    )
