"""2-D embedding projections (UMAP) coloured by identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from face_bench.report.plots.style import (
    TITLE_WIDTH,
    new_figure,
    note_cjk,
    panel_grid,
    panel_size,
    shown,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_LEGEND_IDENTITIES = 20
"""Above this many identities a legend is unreadable, so the UMAP shows a count."""

_POINT_MARKERS = ("o", "s", "^", "D", "v", "P")


@dataclass(frozen=True)
class EmbeddingPanel:
    """2-D projection (e.g. UMAP) of one model's embeddings, one row per image."""

    model: str
    coords: ArrayLike
    identities: Sequence[str]


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


def _panel_points(panels: Sequence[EmbeddingPanel]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each panel's (n, 2) coordinates and identity names, checked against each other."""
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
    return data


def _scatter_panel(ax, panel, coords, names, style, axis_labels, show_legend: bool) -> None:
    """One model's projection, one colour and marker per identity."""
    size = float(np.clip(4000 / max(len(names), 1), 4, 36))
    for name, (color, marker) in style.items():
        mask = names == name
        if not mask.any():
            continue
        ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=color, marker=marker,
                   alpha=0.85, linewidths=0.3, edgecolors="white")  # fmt: skip
    ax.set_title(shown(panel.model))
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    # Projection units are arbitrary; tick values would only invite reading them.
    ax.tick_params(labelbottom=False, labelleft=False, length=0)
    if not show_legend:
        ax.text(0.98, 0.02, f"{len(set(names))} identities, {len(names):,} images",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=10,
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0.5},
                )  # fmt: skip


def _identity_legend(fig, style) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=color, marker=marker, linestyle="none", markersize=8, label=shown(n))
        for n, (color, marker) in style.items()
    ]
    fig.legend(handles=handles, loc="outside right upper", title="Identity")


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
    data = _panel_points(panels)
    identities = list(dict.fromkeys(n for _, names in data for n in names))
    note_cjk([title, *identities, *(p.model for p in panels)])
    palette = _identity_palette()
    style = {
        name: (palette[i % len(palette)], _POINT_MARKERS[(i // len(palette)) % len(_POINT_MARKERS)])
        for i, name in enumerate(identities)
    }
    show_legend = len(identities) <= MAX_LEGEND_IDENTITIES
    width, height = panel_size(len(panels), 5.4, 5.2)
    if show_legend and identities:
        width += 1.2 + 0.09 * max(len(shown(n)) for n in identities)
    with new_figure(path, width, height) as fig:
        for ax, panel, (coords, names) in zip(
            panel_grid(fig, len(panels)), panels, data, strict=True
        ):
            _scatter_panel(ax, panel, coords, names, style, axis_labels, show_legend)
        if show_legend and identities:
            _identity_legend(fig, style)
        fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)
