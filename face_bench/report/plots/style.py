"""Shared look of every face-bench figure: rc style, CJK fonts, colours, saving, thinning.

matplotlib is imported inside functions only, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

_log = logging.getLogger("face_bench.report.plots")

DPI = 120
MAX_PLOT_POINTS = 2000
"""Most points drawn per curve; more only slows rendering and bloats the PNG."""

_MAX_COLS = 3

NAME_WIDTH = 40
"""Names (models, subsets, identities, markers) are shortened to this in figures, as in the
terminal: a 10 kB identity must not make a figure 100,000 px wide."""
TITLE_WIDTH = 160


def shown(name: object, width: int = NAME_WIDTH) -> str:
    """A name as a figure draws it: invisible characters escaped, shortened in the middle."""
    from face_bench.core.text import display

    return display(name, width)


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

# One encoding in every figure: colour = model, line style = subset. Okabe-Ito, a palette
# readable with every common colour-vision deficiency, in its most distinct order.
_MODEL_PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: faint on white)
)
_SUBSET_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)))
FIGURE_FORMATS = ("png", "svg", "pdf")


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


@functools.cache
def _dejavu_characters() -> frozenset[int]:
    """The code points DejaVu Sans, every figure's first font, draws itself."""
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    return frozenset(font_manager.get_font(path).get_charmap())


def _needs_fallback(texts: Sequence[str] | None) -> bool:
    """Whether a figure whose names are ``texts`` may need a glyph DejaVu Sans lacks.

    Without one the CJK fallback is never drawn from, and leaving it out of the font list
    saves the lookups matplotlib makes in it for every label: the same pixels, faster.
    ``None`` (texts unknown) keeps it.
    """
    if texts is None:
        return True
    known = _dejavu_characters()
    return any(ord(ch) not in known for text in texts for ch in text)


def _rc(texts: Sequence[str] | None = None) -> dict[str, Any]:
    """Style for every face-bench figure, with a CJK font as fallback after DejaVu when
    ``texts`` (the figure's names; None: unknown) may need it."""
    cjk = cjk_font_available()
    fallback = [cjk] if cjk and _needs_fallback(texts) else []
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
        "svg.hashsalt": "face-bench",  # stable SVG ids: reruns are byte-identical
        # SVG text stays <text> (searchable, editable, a tenth of the size), not glyph paths.
        "svg.fonttype": "none",
        # Every label is plain text: a name holding "$...$" must never be read as mathtext
        # (an unknown macro would crash the figure). face-bench's own tick labels are
        # plain too (percentages), so nothing here needs mathtext.
        "text.parse_math": False,
    }


@contextlib.contextmanager
def new_figure(
    path: str | Path, width: float, height: float, texts: Sequence[str] | None = None
) -> Iterator[Figure]:
    """Yield a fresh Agg figure and write it to ``path`` when the block ends; ``texts``: every
    name the figure shows besides face-bench's own words and numbers (None: unknown)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_rc(texts)), warnings.catch_warnings():
        # Without a CJK font every Japanese glyph would warn; cjk_font_available() tells.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig
        _save(fig, Path(path))


def _save(fig: Figure, path: Path) -> None:
    """Render in memory and write atomically: no half figure, no temporary name shared by runs.

    The file's suffix picks the format: png, or svg / pdf (vector, for papers); vector files
    carry no date so reruns are byte-identical."""
    import io

    from face_bench.core.io import atomic_write_bytes

    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"figure format must be one of {', '.join(FIGURE_FORMATS)}, got {fmt!r}")
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format=fmt, dpi=DPI, bbox_inches="tight", pad_inches=0.12, metadata=metadata
    )
    atomic_write_bytes(path, buffer.getvalue())


def note_cjk(texts: Sequence[str]) -> None:
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


def subset_styles(subsets: Sequence[str]) -> dict[str, Any]:
    """Line style per subset, in subset order: the second half of the one encoding."""
    names = list(dict.fromkeys(subsets))
    return {name: _SUBSET_STYLES[i % len(_SUBSET_STYLES)] for i, name in enumerate(names)}


def label_colors(labels: Sequence[str], given: Mapping[str, str] | None) -> dict[str, str]:
    """Alias for the plot functions, whose ``model_colors`` argument hides the public name."""
    return model_colors(labels, given)


def thin_indices(columns: Sequence[np.ndarray], max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
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


def as_array(values: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    return arr


def check_same_length(what: str, *arrays: np.ndarray) -> None:
    if len({a.size for a in arrays}) != 1:
        sizes = ", ".join(str(a.size) for a in arrays)
        raise ValueError(f"{what}: arrays differ in length ({sizes})")


def pct(p: float) -> str:
    """0.0001 -> '0.01%', 0.5 -> '50%'."""
    return f"{p * 100:.4g}%"


def pct_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: pct(v))


def panel_grid(fig: Figure, n: int) -> list[Axes]:
    """``n`` axes in rows of at most three; unused cells are hidden."""
    ncols = min(n, _MAX_COLS)
    nrows = math.ceil(n / ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def panel_size(n: int, width: float, height: float) -> tuple[float, float]:
    ncols = min(n, _MAX_COLS)
    return width * ncols, height * math.ceil(n / ncols)
