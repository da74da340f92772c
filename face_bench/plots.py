"""PNG figures for face-bench reports.

Every function here takes plain arrays and small typed records, draws one figure
and writes it to a PNG path. Nothing is computed for reporting: the numbers in
legends (AUC, EER, F1 at a threshold) arrive from the metrics layer, so a figure
can never disagree with the tables. Curves are only thinned for drawing.

matplotlib is imported lazily so that ``import face_bench.plots`` stays cheap for
commands that write no figures. Figures are built with ``Figure`` and the Agg
canvas, never pyplot, and styling is applied through ``rc_context`` so that no
global matplotlib state changes between calls or leaks into a host program.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

__all__ = [
    "MAX_PLOT_POINTS",
    "DetCurve",
    "EmbeddingPanel",
    "Marker",
    "RocCurve",
    "ScorePanel",
    "SubsetRate",
    "SweepPanel",
    "cjk_font_available",
    "model_colors",
    "plot_det",
    "plot_roc",
    "plot_score_histograms",
    "plot_subset_bars",
    "plot_sweep",
    "plot_umap",
]

_log = logging.getLogger(__name__)

DPI = 120
MAX_PLOT_POINTS = 2000
"""Most points drawn per curve; more only slows rendering and bloats the PNG."""

MAX_LEGEND_IDENTITIES = 20
"""Above this many identities a legend is unreadable, so the UMAP shows a count."""

_MAX_COLS = 3

# Preferred first: Japanese glyph shapes for identity names such as 新垣結衣.
_CJK_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "TakaoGothic",
    "TakaoPGothic",
    "VL Gothic",
    "VL PGothic",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Droid Sans Fallback",
    "Noto Serif CJK JP",
)
# File-name fragments of the same fonts, for a font cache built before they were installed.
_CJK_FILE_HINTS = (
    "notosanscjk",
    "notosansjp",
    "sourcehansans",
    "ipaexg",
    "ipag",
    "ipapg",
    "takao",
    "vlgothic",
    "vl-gothic",
    "droidsansfallback",
)

# tab10: well known, distinct, and stable when assigned by model order.
_MODEL_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# Okabe-Ito colours: readable for colour-blind viewers, distinct from each other.
_METRIC_COLORS = {
    "precision": "#0072B2",
    "recall": "#D55E00",
    "F1": "#009E73",
    "accuracy": "#CC79A7",
}
_GENUINE_COLOR = "#0072B2"
_IMPOSTOR_COLOR = "#D55E00"
_MARKER_STYLES = (("default", "--"), ("f1", ":"), ("eer", "-."))
_EXTRA_MARKER_STYLES = ((0, (5, 2, 1, 2, 1, 2)), (0, (1, 4)), (0, (8, 3)))
_POINT_MARKERS = ("o", "s", "^", "D", "v", "P")


# --------------------------------------------------------------------- inputs


class RocCurve(NamedTuple):
    """One model's ROC curve; ``auc`` comes from the metrics layer, not from here."""

    label: str
    fpr: ArrayLike
    tpr: ArrayLike
    auc: float | None = None


class DetCurve(NamedTuple):
    """One model's DET curve; ``eer`` (a fraction) is marked on the FMR = FNMR line."""

    label: str
    fmr: ArrayLike
    fnmr: ArrayLike
    eer: float | None = None


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


@dataclass(frozen=True)
class EmbeddingPanel:
    """2-D projection (e.g. UMAP) of one model's embeddings, one row per image."""

    model: str
    coords: ArrayLike
    identities: Sequence[str]


class SubsetRate(NamedTuple):
    """Error rates (fractions) of one model on one subset at its global threshold."""

    subset: str
    model: str
    fmr: float
    fnmr: float


# ------------------------------------------------------------- matplotlib setup


@functools.cache
def cjk_font_available() -> str | None:
    """Name of the CJK font used for Japanese text, or None when none is installed.

    Without one, Japanese identity names render as empty boxes; callers can say so
    in a report instead of shipping unreadable figures silently. Imports matplotlib.
    """
    from matplotlib import font_manager

    name = _pick_cjk(font_manager.fontManager)
    if name is None:
        # matplotlib's font cache may predate the font package; look on disk once.
        for file in font_manager.findSystemFonts():
            squashed = Path(file).name.lower().replace("_", "")
            if any(hint in squashed for hint in _CJK_FILE_HINTS):
                with contextlib.suppress(Exception):
                    font_manager.fontManager.addfont(file)
        name = _pick_cjk(font_manager.fontManager)
    return name


def _pick_cjk(manager: Any) -> str | None:
    installed = {entry.name for entry in manager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def _rc() -> dict[str, Any]:
    """Style for every face-bench figure, with a CJK font as fallback after DejaVu."""
    cjk = cjk_font_available()
    fallback = [cjk] if cjk else []
    return {
        "font.family": ["DejaVu Sans", *fallback],
        "font.sans-serif": ["DejaVu Sans", *fallback, "Arial", "Helvetica"],
        "font.size": 11,
        "axes.titlesize": 12.5,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 9.5,
        "legend.title_fontsize": 10,
        "legend.framealpha": 0.9,
        "figure.titlesize": 14,
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "axes.grid": True,
        "grid.alpha": 0.35,
        "grid.linewidth": 0.6,
        "lines.linewidth": 1.8,
        "savefig.dpi": DPI,
        "savefig.facecolor": "white",
    }


@contextlib.contextmanager
def _figure(path: str | Path, width: float, height: float) -> Iterator[Figure]:
    """Yield a fresh Agg figure and write it to ``path`` when the block ends."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_rc()), warnings.catch_warnings():
        # Without a CJK font every Japanese glyph would warn; cjk_font_available() tells.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig
        _save(fig, Path(path))


def _save(fig: Figure, path: Path) -> None:
    """Write through a temporary file so an interrupted run leaves no half PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.12)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _note_cjk(texts: Sequence[str]) -> None:
    if cjk_font_available() is None and any(_has_cjk(t) for t in texts):
        _warn_no_cjk_once()


@functools.cache
def _warn_no_cjk_once() -> None:
    _log.warning(
        "No CJK font found: Japanese names in figures will show as boxes "
        "(on Debian/Ubuntu: apt-get install fonts-noto-cjk)."
    )


def _has_cjk(text: str) -> bool:
    return any(
        "\u3040" <= ch <= "\u30ff"
        or "\u3400" <= ch <= "\u9fff"
        or "\uf900" <= ch <= "\ufaff"
        or "\uff00" <= ch <= "\uffef"
        for ch in text
    )


# ------------------------------------------------------------------- helpers


def model_colors(models: Sequence[str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """Colour per model: ``given`` first, then the palette in model order.

    Passing the same model order (or the same mapping) to every plot function
    keeps a model's colour the same across all figures of a report.
    """
    colors = {m: given[m] for m in models if given and m in given}
    free = [c for c in _MODEL_PALETTE if c not in colors.values()] or list(_MODEL_PALETTE)
    for i, model in enumerate(m for m in dict.fromkeys(models) if m not in colors):
        colors[model] = free[i % len(free)]
    return colors


def _model_colors(labels: Sequence[str], given: Mapping[str, str] | None) -> dict[str, str]:
    """Alias for the plot functions, whose ``model_colors`` argument hides the public name."""
    return model_colors(labels, given)


def _thin_indices(columns: Sequence[np.ndarray], max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points keeping both ends and the curve's shape.

    Points are spaced evenly along the curve's length in the plotted (already
    transformed, range-normalised) coordinates, with a little even spacing by index
    so flat stretches are not left empty.
    """
    n = len(columns[0])
    if n <= max_points:
        return np.arange(n)
    step = np.zeros(n - 1)
    for col in columns:
        col = np.asarray(col, dtype=float)
        finite = col[np.isfinite(col)]
        if finite.size == 0:
            continue
        span = float(finite.max() - finite.min()) or 1.0
        d = np.diff(col) / span
        step += np.nan_to_num(d, nan=0.0, posinf=0.0, neginf=0.0) ** 2
    step = np.sqrt(step)
    total = float(step.sum())
    step += (total if total > 0 else 1.0) * 0.25 / (n - 1)
    cum = np.concatenate([[0.0], np.cumsum(step)])
    # Both ends of the segment each target lands in, so a jump keeps its corners.
    targets = np.linspace(0.0, cum[-1], max_points // 2 - 1)
    after = np.clip(np.searchsorted(cum, targets), 1, n - 1)
    return np.unique(np.concatenate([[0], after - 1, after, [n - 1]]))


def _as_array(values: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    return arr


def _same_length(what: str, *arrays: np.ndarray) -> None:
    if len({a.size for a in arrays}) != 1:
        sizes = ", ".join(str(a.size) for a in arrays)
        raise ValueError(f"{what}: arrays differ in length ({sizes})")


def _pct(p: float) -> str:
    """0.0001 -> '0.01%', 0.5 -> '50%'."""
    return f"{p * 100:.4g}%"


def _pct_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: _pct(v))


def _grid(fig: Figure, n: int) -> list[Axes]:
    """``n`` axes in rows of at most three; unused cells are hidden."""
    ncols = min(n, _MAX_COLS)
    nrows = math.ceil(n / ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def _panel_size(n: int, width: float, height: float) -> tuple[float, float]:
    ncols = min(n, _MAX_COLS)
    return width * ncols, height * math.ceil(n / ncols)


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


# ---------------------------------------------------------------------- ROC


def plot_roc(
    curves: Sequence[RocCurve | tuple[str, ArrayLike, ArrayLike, float | None]],
    path: str | Path,
    title: str = "ROC",
    *,
    log_x: bool = False,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """ROC, one curve per model; ``log_x`` spreads out the low-FMR end that matters.

    ``fpr`` and ``tpr`` are fractions in [0, 1]; the AUC in the legend is taken as
    given.
    """
    curves = [c if isinstance(c, RocCurve) else RocCurve(*c) for c in curves]
    if not curves:
        raise ValueError("plot_roc needs at least one curve")
    colors = _model_colors([c.label for c in curves], model_colors)
    _note_cjk([title, *(c.label for c in curves)])
    arrays = []
    for c in curves:
        fpr, tpr = _as_array(c.fpr, f"{c.label} fpr"), _as_array(c.tpr, f"{c.label} tpr")
        _same_length(c.label, fpr, tpr)
        arrays.append((fpr, tpr))

    x_lo = 0.0
    if log_x:
        positives = [f[f > 0] for f, _ in arrays]
        smallest = min((p.min() for p in positives if p.size), default=1e-4)
        x_lo = 10.0 ** math.floor(math.log10(max(smallest, 1e-7)))

    with _figure(path, 6.6, 5.8) as fig:
        ax = fig.add_subplot()
        for c, (fpr, tpr) in zip(curves, arrays, strict=True):
            x = np.clip(fpr, x_lo, 1.0) if log_x else fpr
            keep = _thin_indices([np.log10(x) if log_x else x, tpr])
            label = c.label if c.auc is None else f"{c.label} (AUC {c.auc:.4f})"
            ax.plot(x[keep], tpr[keep], color=colors[c.label], label=label)
        if log_x:
            chance = np.geomspace(x_lo, 1.0, 200)
            ax.plot(chance, chance, color="grey", linestyle="--", linewidth=1, label="chance")
            ax.set_xscale("log")
            ax.set_xlim(x_lo, 1.0)
            ax.xaxis.set_major_formatter(_pct_formatter())
            ax.grid(True, which="minor", alpha=0.12)
        else:
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
            ax.set_xlim(-0.01, 1.01)
            ax.xaxis.set_major_formatter(_pct_formatter())
        ax.set_ylim(-0.01, 1.01)
        ax.yaxis.set_major_formatter(_pct_formatter())
        ax.set_xlabel(
            "False match rate (impostor pairs accepted)" + (", log scale" if log_x else "")
        )
        ax.set_ylabel("True match rate (genuine pairs accepted)")
        ax.set_title(title)
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
    from scipy.stats import norm

    span = float(norm.ppf(hi) - norm.ppf(lo))
    per_char = span / 60  # about 60 tick-label characters fit along a 5.5-inch axis

    def fits(t: float, k: float) -> bool:
        gap = abs(norm.ppf(t) - norm.ppf(k))
        if not horizontal:
            return gap >= span / 14
        return gap >= per_char * ((len(_pct(t)) + len(_pct(k))) / 2 + 1.5)

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
    curves: Sequence[DetCurve | tuple[str, ArrayLike, ArrayLike, float | None]],
    path: str | Path,
    title: str = "DET",
    *,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """DET curves on normal-deviate axes, where good systems become straight lines.

    ``fmr`` and ``fnmr`` are fractions; rates of 0 or 1 are clipped just off the
    axes. Each model's EER (a fraction, as computed elsewhere) is marked.
    """
    from scipy.stats import norm

    curves = [c if isinstance(c, DetCurve) else DetCurve(*c) for c in curves]
    if not curves:
        raise ValueError("plot_det needs at least one curve")
    colors = _model_colors([c.label for c in curves], model_colors)
    _note_cjk([title, *(c.label for c in curves)])
    arrays = []
    for c in curves:
        fmr, fnmr = _as_array(c.fmr, f"{c.label} fmr"), _as_array(c.fnmr, f"{c.label} fnmr")
        _same_length(c.label, fmr, fnmr)
        arrays.append((fmr, fnmr))

    x_lo = _det_low([f for f, _ in arrays])
    y_lo = _det_low([f for _, f in arrays])
    eers = [c.eer for c in curves if c.eer is not None]
    hi = 0.5 if all(e <= 0.4 for e in eers) else 0.95

    with _figure(path, 6.6, 6.2) as fig:
        ax = fig.add_subplot()
        diag = norm.ppf([min(x_lo, y_lo), hi])
        ax.plot(diag, diag, color="grey", linestyle=":", linewidth=1, label="FMR = FNMR")
        for c, (fmr, fnmr) in zip(curves, arrays, strict=True):
            x = norm.ppf(np.clip(fmr, _DET_CLIP, 1 - _DET_CLIP))
            y = norm.ppf(np.clip(fnmr, _DET_CLIP, 1 - _DET_CLIP))
            keep = _thin_indices([x, y])
            color = colors[c.label]
            label = c.label if c.eer is None else f"{c.label} (EER {c.eer * 100:.2f}%)"
            ax.plot(x[keep], y[keep], color=color, label=label)
            if c.eer is not None and 0 < c.eer < 1:
                point = norm.ppf(c.eer)
                ax.plot(
                    point,
                    point,
                    marker="o",
                    markersize=8,
                    color=color,
                    markeredgecolor="white",
                    markeredgewidth=1.2,
                    linestyle="none",
                    zorder=5,
                )
        for axis, lo in ((ax.xaxis, x_lo), (ax.yaxis, y_lo)):
            ticks = _det_ticks(lo, hi, horizontal=axis is ax.xaxis)
            axis.set_ticks(norm.ppf(ticks), [_pct(t) for t in ticks])
        ax.set_xlim(norm.ppf(x_lo), norm.ppf(hi))
        ax.set_ylim(norm.ppf(y_lo), norm.ppf(hi))
        ax.set_xlabel("False match rate (FMR, normal deviate scale)")
        ax.set_ylabel("False non-match rate (FNMR, normal deviate scale)")
        ax.set_title(title)
        ax.legend(loc="upper right", title="● = EER" if eers else None)
    return Path(path)


# -------------------------------------------------------------------- sweep


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
            keep = _thin_indices([threshold, *(v[order] for v in series.values())])
            for name, values in series.items():
                ax.plot(
                    threshold[keep], values[order][keep], color=_METRIC_COLORS[name], label=name
                )
            _draw_markers(ax, _markers(panel.markers))
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlim(threshold[0], threshold[-1])
            ax.set_xlabel(_axis_units(panel.units, panel.lower_is_same))
            ax.set_ylabel("Metric value")
            ax.set_title(panel.model, color=colors[panel.model], fontweight="bold")
            _legend_below(ax)
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
            for name, values, color in (
                ("genuine", genuine, _GENUINE_COLOR),
                ("impostor", impostor, _IMPOSTOR_COLOR),
            ):
                if values.size == 0:
                    continue
                density, _ = np.histogram(values, bins=edges, density=True)
                label = f"{name} pairs (n={values.size:,})"
                ax.stairs(density, edges, fill=True, alpha=0.4, color=color, label=label)
                ax.stairs(density, edges, color=color, linewidth=1.2)
            _draw_markers(ax, markers)
            ax.set_xlabel(_axis_units(panel.units, panel.lower_is_same))
            ax.set_ylabel("Density")
            ax.set_title(panel.model, color=colors[panel.model], fontweight="bold")
            _legend_below(ax)
        fig.suptitle(title)
    return Path(path)


# --------------------------------------------------------------------- UMAP


def _identity_palette() -> list[Any]:
    """60 qualitative colours, strongest first, so few identities get the clearest."""
    from matplotlib import colormaps

    tab20 = colormaps["tab20"].colors
    tab20b = colormaps["tab20b"].colors
    tab20c = colormaps["tab20c"].colors
    dark_then_light = [tab20[i] for i in range(0, 20, 2)] + [tab20[i] for i in range(1, 20, 2)]
    by_shade = [
        cmap[i + shade]
        for cmap in (tab20b, tab20c)
        for shade in (0, 2, 1, 3)
        for i in range(0, 20, 4)
    ]
    return dark_then_light + by_shade


def plot_umap(
    panels: Sequence[EmbeddingPanel],
    path: str | Path,
    title: str = "Embeddings by identity (2-D projection)",
    *,
    axis_labels: tuple[str, str] = ("UMAP 1", "UMAP 2"),
) -> Path:
    """Scatter of each model's 2-D embedding projection, coloured by identity.

    An identity keeps its colour in every panel so clusters can be compared across
    models. With more than 20 identities a legend is unreadable, so each panel
    states the count instead.
    """
    from matplotlib.lines import Line2D

    if not panels:
        raise ValueError("plot_umap needs at least one panel")
    data = []
    for panel in panels:
        coords = np.asarray(panel.coords, dtype=float)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"{panel.model}: coords must have shape (n, 2), got {coords.shape}")
        names = np.asarray([str(i) for i in panel.identities], dtype=object)
        if names.size != coords.shape[0]:
            raise ValueError(
                f"{panel.model}: {coords.shape[0]} points but {names.size} identity labels"
            )
        data.append((coords, names))
    identities = list(dict.fromkeys(n for _, names in data for n in names))
    _note_cjk([title, *identities, *(p.model for p in panels)])

    palette = _identity_palette()
    style = {
        name: (palette[i % len(palette)], _POINT_MARKERS[(i // len(palette)) % len(_POINT_MARKERS)])
        for i, name in enumerate(identities)
    }
    show_legend = len(identities) <= MAX_LEGEND_IDENTITIES
    width, height = _panel_size(len(panels), 5.4, 5.2)
    if show_legend and identities:
        width += 1.2 + 0.09 * max(len(n) for n in identities)
    with _figure(path, width, height) as fig:
        for ax, panel, (coords, names) in zip(_grid(fig, len(panels)), panels, data, strict=True):
            size = float(np.clip(4000 / max(len(names), 1), 4, 36))
            for name in identities:
                mask = names == name
                if not mask.any():
                    continue
                color, marker = style[name]
                ax.scatter(
                    coords[mask, 0],
                    coords[mask, 1],
                    s=size,
                    color=color,
                    marker=marker,
                    alpha=0.85,
                    linewidths=0.3,
                    edgecolors="white",
                )
            ax.set_title(panel.model)
            ax.set_xlabel(axis_labels[0])
            ax.set_ylabel(axis_labels[1])
            # Projection units are arbitrary; tick values would only invite reading them.
            ax.tick_params(labelbottom=False, labelleft=False, length=0)
            if not show_legend:
                count = len(set(names))
                ax.text(
                    0.98,
                    0.02,
                    f"{count} identities, {len(names):,} images",
                    transform=ax.transAxes,
                    ha="right",
                    va="bottom",
                    fontsize=10,
                    bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0.5},
                )
        if show_legend and identities:
            handles = [
                Line2D(
                    [],
                    [],
                    color=style[n][0],
                    marker=style[n][1],
                    linestyle="none",
                    markersize=8,
                    label=n,
                )
                for n in identities
            ]
            fig.legend(handles=handles, loc="outside right upper", title="Identity")
        fig.suptitle(title)
    return Path(path)


# --------------------------------------------------------------- subset bars


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
    rates = [r if isinstance(r, SubsetRate) else SubsetRate(*r) for r in rates]
    if not rates:
        raise ValueError("plot_subset_bars needs at least one rate")
    subsets = list(dict.fromkeys(r.subset for r in rates))
    models = list(dict.fromkeys(r.model for r in rates))
    colors = _model_colors(models, model_colors)
    _note_cjk([title, *subsets, *models])
    table = {(r.subset, r.model): r for r in rates}
    values = [v for r in rates for v in (r.fmr, r.fnmr) if v is not None and np.isfinite(v)]
    positives = [v for v in values if v > 0]
    floor = 10.0 ** math.floor(math.log10(min(positives) / 3)) if positives else 1e-4
    top = max(positives, default=floor * 10)
    annotate = len(subsets) * len(models) <= 24

    x = np.arange(len(subsets))
    width = 0.8 / len(models)
    with _figure(path, max(9.0, 2.4 + 1.3 * len(subsets) * 2), 5.0) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, metric, label in (
            (axes[0], "fmr", "False match rate (FMR)"),
            (axes[1], "fnmr", "False non-match rate (FNMR)"),
        ):
            for j, model in enumerate(models):
                offset = x - 0.4 + width * (j + 0.5)
                heights = np.array(
                    [
                        getattr(table[(s, model)], metric) if (s, model) in table else np.nan
                        for s in subsets
                    ],
                    dtype=float,
                )
                zero = heights == 0
                legend = model
                if thresholds and model in thresholds:
                    legend = f"{model} @ {thresholds[model]:.3g}"
                ax.bar(
                    offset,
                    np.where(zero, floor * 1.5, heights),
                    width * 0.92,
                    color=colors[model],
                    label=legend if ax is axes[0] else None,
                )
                if zero.any():
                    ax.bar(
                        offset[zero],
                        floor * 1.5,
                        width * 0.92,
                        color="white",
                        edgecolor=colors[model],
                        hatch="//",
                    )
                if annotate:
                    for xi, h in zip(offset, heights, strict=True):
                        if np.isfinite(h):
                            y = max(h, floor * 1.5)
                            ax.text(
                                xi,
                                y * 1.15,
                                _pct(h) if h > 0 else "0",
                                ha="center",
                                va="bottom",
                                fontsize=8.5,
                                rotation=90 if len(models) > 2 else 0,
                            )
            ax.set_yscale("log")
            ax.set_ylim(floor, top * 8)
            ax.yaxis.set_major_formatter(_pct_formatter())
            ax.set_xticks(x, subsets)
            ax.set_title(label)
            ax.set_xlabel("Subset")
            ax.grid(True, axis="y", which="major")
            ax.grid(False, axis="x")
        axes[0].set_ylabel("Rate (log scale)")
        fig.legend(
            loc="outside lower center",
            ncol=len(models),
            title="Model at its global threshold" if thresholds else "Model",
        )
        fig.suptitle(title)
    return Path(path)
