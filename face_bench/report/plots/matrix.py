"""The cross-group impostor matrix: FMR between every two groups at one threshold per model.

A cell is the FMR of impostor pairs with one image in the row's group and one in the
column's (the diagonal: within the group), on a log colour scale so that 1e-4 and 1e-2
are told apart, with its counts written in it. A cell with no error is drawn at its
rule-of-three bound, hatched, and labelled "≤ bound", never as a value it does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.report.plots.style import new_figure, note_cjk


@dataclass(frozen=True)
class MatrixPanel:
    """One model: groups, and per (row, column) errors and pairs (None: no such pair)."""

    model: str
    groups: Sequence[str]
    errors: Sequence[Sequence[int | None]]
    pairs: Sequence[Sequence[int | None]]
    threshold: str


def _cell_values(panel: MatrixPanel) -> tuple[np.ndarray, np.ndarray]:
    n = len(panel.groups)
    rate = np.full((n, n), np.nan)
    zero = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            e, p = panel.errors[i][j], panel.pairs[i][j]
            if e is None or not p:
                continue
            zero[i, j] = e == 0
            rate[i, j] = (3.0 / p) if e == 0 else e / p
    return rate, zero


def plot_fmr_matrix(panels: Sequence[MatrixPanel], path: str | Path, title: str = "") -> Path:
    """One heatmap per model side by side, sharing one log colour scale."""
    if not panels:
        raise ValueError("plot_fmr_matrix needs at least one model")
    note_cjk([title, *(p.model for p in panels), *(g for p in panels for g in p.groups)])
    values = [_cell_values(p) for p in panels]
    norm = _shared_norm(values)
    n = max(len(p.groups) for p in panels)
    side = 1.1 * n + 1.6
    with new_figure(path, side * len(panels) + 1.2, side + 0.6) as fig:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        image = None
        for ax, panel, (rate, zero) in zip(axes, panels, values, strict=True):
            image = _draw_panel(ax, panel, rate, zero, norm)
        if image is not None:
            bar = fig.colorbar(image, ax=list(axes), shrink=0.8)
            bar.set_label("FMR (log scale; hatched: no error, drawn at its 3/n bound)")
        if title:
            fig.suptitle(title)
    return Path(path)


def _shared_norm(values: list[tuple[np.ndarray, np.ndarray]]):
    """One log colour scale over every model's cells, so a colour means the same FMR in
    every panel."""
    from matplotlib.colors import LogNorm

    finite = np.concatenate([v[0][np.isfinite(v[0])] for v in values] or [np.array([1.0])])
    low = float(finite.min()) if finite.size else 1e-4
    high = float(finite.max()) if finite.size else 1.0
    return LogNorm(vmin=max(low, 1e-7), vmax=max(high, low * 10, 1e-6))


def _draw_panel(ax, panel: MatrixPanel, rate: np.ndarray, zero: np.ndarray, norm):
    """One model's heatmap with its groups, threshold and labelled cells; the image, for the
    shared colour bar."""
    image = ax.imshow(np.ma.masked_invalid(rate), cmap="viridis", norm=norm)
    ax.grid(False)
    k = len(panel.groups)
    ax.set_xticks(range(k), labels=list(panel.groups), rotation=35, ha="right")
    ax.set_yticks(range(k), labels=list(panel.groups))
    ax.set_title(f"{panel.model}\nthreshold {panel.threshold}", fontsize=10)
    for i in range(k):
        for j in range(k):
            _label_cell(ax, panel, rate, zero, i, j)
    return image


def _label_cell(ax, panel: MatrixPanel, rate: np.ndarray, zero: np.ndarray, i: int, j: int) -> None:
    e, p = panel.errors[i][j], panel.pairs[i][j]
    if e is None or not p:
        ax.text(j, i, "no pairs", ha="center", va="center", fontsize=7, color="#666666")
        return
    if zero[i, j]:
        ax.add_patch(_hatch(ax, i, j))
        text = f"≤ {rate[i, j]:.1e}\n0/{p:,}"
    else:
        text = f"{rate[i, j]:.1e}\n{e:,}/{p:,}"
    shade = ax.images[0].norm(rate[i, j]) if np.isfinite(rate[i, j]) else 0.0
    color = "black" if shade > 0.6 else "white"
    ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)


def _hatch(ax, i: int, j: int):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#dddddd", linewidth=0
    )
