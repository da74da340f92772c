"""Tests for face_bench.report.plots: every figure is a readable PNG, cheaply, no side effects."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from face_bench.report import plots
from face_bench.report.plots import curves as plot_curves
from face_bench.report.plots import style, thresholds

PIL_Image = pytest.importorskip("PIL.Image")

REPO = Path(__file__).resolve().parents[1]
JAPANESE = [
    "新垣結衣",
    "石原さとみ",
    "綾瀬はるか",
    "長澤まさみ",
    "北川景子",
    "堀北真希",
    "深田恭子",
    "Yui",
]


def _png_size(path: Path) -> tuple[int, int]:
    with PIL_Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        width, height = image.size
    assert 300 <= width <= 5000, width
    assert 250 <= height <= 4000, height
    return width, height


def _rates(gen: np.ndarray, imp: np.ndarray, n_points: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """FMR and TMR at evenly spaced similarity thresholds (higher = same person)."""
    t = np.linspace(min(gen.min(), imp.min()), max(gen.max(), imp.max()), n_points)[::-1]
    fmr = (imp[None, :] >= t[:, None]).mean(axis=1)
    tmr = (gen[None, :] >= t[:, None]).mean(axis=1)
    return fmr, tmr


@pytest.fixture(scope="module")
def scores() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return {
        # dlib distances: lower = same person.
        "dlib": (rng.normal(0.38, 0.07, 400), rng.normal(0.62, 0.07, 4000)),
        "JAPANESE FACE v1": (rng.normal(0.6, 0.12, 400), rng.normal(0.1, 0.1, 4000)),
    }


@pytest.fixture(scope="module")
def roc_curves(scores) -> list[plots.RocSeries]:
    gen, imp = scores["dlib"]
    fmr_d, tmr_d = _rates(-gen, -imp)
    fmr_c, tmr_c = _rates(*scores["JAPANESE FACE v1"])
    return [
        plots.RocSeries("dlib", fmr_d, tmr_d, 0.9412),
        plots.RocSeries("JAPANESE FACE v1", fmr_c, tmr_c, 0.9987),
    ]


def test_import_does_not_import_matplotlib():
    code = "import sys, face_bench.report.plots; sys.exit('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("log_x", [False, True])
def test_plot_roc(tmp_path, roc_curves, log_x):
    out = plots.plot_roc(roc_curves, tmp_path / "roc.png", "ROC — ordinary", log_x=log_x)
    assert out == tmp_path / "roc.png"
    _png_size(out)
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_plot_roc_accepts_plain_tuples(tmp_path):
    curve = ("dlib", [0.0, 0.1, 1.0], [0.0, 0.8, 1.0], None)
    _png_size(plots.plot_roc([curve], tmp_path / "roc.png"))


def test_plot_det_with_zero_and_one_rates(tmp_path, roc_curves):
    curves = [plots.DetSeries(c.label, c.fpr, 1 - np.asarray(c.tpr), 0.041) for c in roc_curves]
    assert curves[0].fmr[0] == 0.0 and curves[0].fnmr[-1] == 0.0
    _png_size(plots.plot_det(curves, tmp_path / "det.png", "DET — ordinary"))


def test_det_ticks_are_percentages_without_crowding():
    ticks = plot_curves._det_ticks(1e-4, 0.5, horizontal=True)
    assert {1e-4, 1e-3, 0.01, 0.1, 0.5} <= set(ticks)
    assert [style.pct(t) for t in (1e-4, 0.001, 0.05, 0.5)] == ["0.01%", "0.1%", "5%", "50%"]


def _sweep_panel(model, gen, imp, lower_is_same):
    t = np.linspace(min(gen.min(), imp.min()), max(gen.max(), imp.max()), 200)
    if lower_is_same:
        tp, fp = (gen[None] <= t[:, None]).sum(1), (imp[None] <= t[:, None]).sum(1)
    else:
        tp, fp = (gen[None] >= t[:, None]).sum(1), (imp[None] >= t[:, None]).sum(1)
    tn = imp.size - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)  # NaN where nothing is accepted
        recall = tp / gen.size
        f1 = 2 * precision * recall / (precision + recall)
    accuracy = (tp + tn) / (gen.size + imp.size)
    markers = [plots.Marker("default", 0.6, 0.55), ("F1-optimal", 0.48, 0.91), ("EER", 0.5, 0.9)]
    return plots.SweepPanel(
        model, "distance" if lower_is_same else "cosine similarity", t, precision, recall,
        f1, accuracy, markers=markers, lower_is_same=lower_is_same,
    )  # fmt: skip


def test_plot_sweep(tmp_path, scores):
    panels = [
        _sweep_panel("dlib", *scores["dlib"], lower_is_same=True),
        _sweep_panel("JAPANESE FACE v1", *scores["JAPANESE FACE v1"], lower_is_same=False),
    ]
    _png_size(plots.plot_sweep(panels, tmp_path / "sweep.png", "Sweep"))


def test_plot_score_histograms(tmp_path, scores):
    panels = [
        plots.ScorePanel("dlib", "Euclidean distance", *scores["dlib"], [("default", 0.6)], True),
        plots.ScorePanel(
            "JAPANESE FACE v1",
            "cosine similarity",
            *scores["JAPANESE FACE v1"],
            [plots.Marker("default", 0.363), plots.Marker("F1-optimal", 0.35)],
        ),
    ]
    width, _ = _png_size(plots.plot_score_histograms(panels, tmp_path / "hist.png"))
    assert width > 1000  # two panels side by side


def test_plot_subset_rates_without_counts(tmp_path):
    rates = [
        ("ordinary", "dlib", 0.012, 0.08),
        ("ordinary", "JAPANESE FACE v1", 0.0004, 0.02),
        plots.SubsetRate("young_women", "dlib", 0.06, 0.05),
        plots.SubsetRate("young_women", "JAPANESE FACE v1", 0.0, 0.03),
    ]
    out = plots.plot_subset_rates(rates, tmp_path / "bars.png", thresholds={"dlib": 0.6})
    _png_size(out)


def _blobs(n_identities: int, names: list[str] | None = None, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = names or [f"人物{i:02d}" for i in range(n_identities)]
    centres = rng.normal(0, 8, (n_identities, 2))
    coords = np.vstack([c + rng.normal(0, 1, (12, 2)) for c in centres])
    return coords, [n for n in names for _ in range(12)]


def test_plot_umap_japanese_legend_with_cjk_font_state_untouched(tmp_path):
    import matplotlib

    before = (list(matplotlib.rcParams["font.family"]), matplotlib.rcParams["font.size"])
    coords, identities = _blobs(len(JAPANESE), JAPANESE)
    panels = [
        plots.EmbeddingPanel("dlib", coords, identities),
        plots.EmbeddingPanel("JAPANESE FACE v1", coords[::-1], identities[::-1]),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _png_size(plots.plot_umap(panels, tmp_path / "umap.png", "UMAP — 新垣結衣ほか"))
    assert not [w for w in caught if "missing from" in str(w.message)]
    after = (list(matplotlib.rcParams["font.family"]), matplotlib.rcParams["font.size"])
    assert after == before


def test_japanese_without_cjk_font_degrades_quietly(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(style, "cjk_font_available", lambda: None)
    style._warn_no_cjk_once.cache_clear()
    coords, identities = _blobs(3, JAPANESE[:3])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        plots.plot_umap([plots.EmbeddingPanel("dlib", coords, identities)], tmp_path / "u.png")
        plots.plot_roc([("新垣", [0, 1], [0, 1], 0.5)], tmp_path / "r.png", "日本語")
    _png_size(tmp_path / "u.png")
    assert not [w for w in caught if "missing from" in str(w.message)]
    assert sum("No CJK font" in r.getMessage() for r in caplog.records) == 1
    style._warn_no_cjk_once.cache_clear()


def test_cjk_font_available_names_a_known_font_or_none():
    name = plots.cjk_font_available()
    assert name is None or name in style._CJK_FONTS


def test_plot_umap_many_identities(tmp_path):
    coords, identities = _blobs(50, seed=3)
    panels = [plots.EmbeddingPanel("dlib", coords, identities)]
    _png_size(plots.plot_umap(panels, tmp_path / "umap.png"))


# Names are data: a name that reads as mathtext must be drawn as typed, and a huge one
# shortened as the terminal shortens it, in every figure and every place a name is drawn.
MATH = r"$\undefinedmacro{x}$"
HUGE = "x" * 10_000


@pytest.mark.parametrize("name", [MATH, HUGE, "$a$ and $b$", "a$b"])
def test_every_figure_draws_any_name_as_plain_text_of_bounded_width(tmp_path, scores, name):
    gen, imp = scores["dlib"]
    fmr, tmr = _rates(-gen, -imp)
    _png_size(plots.plot_roc([plots.RocSeries(name, fmr, tmr, 0.9)], tmp_path / "roc.png", name))
    _png_size(
        plots.plot_roc([plots.RocSeries(name, fmr, tmr, 0.9)], tmp_path / "r.png", log_x=False)
    )
    det = plots.DetSeries(name, fmr, 1 - tmr, 0.04)
    _png_size(plots.plot_det([det], tmp_path / "det.png", name))
    _png_size(plots.plot_sweep([_sweep_panel(name, gen, imp, True)], tmp_path / "s.png", name))
    marker = plots.Marker(name, 0.6, 0.5)
    panel = plots.ScorePanel(name, name, gen, imp, [marker], True)
    _png_size(plots.plot_score_histograms([panel], tmp_path / "h.png", name))
    rates = [plots.SubsetRate(name, name, 0.01, 0.02), plots.SubsetRate("b", name, 0.0, 0.1)]
    _png_size(plots.plot_subset_rates(rates, tmp_path / "b.png", name, thresholds={name: 0.6}))
    threshold = np.linspace(0, 1, 50)
    curve = plots.RateCurve(name, name, name, threshold, threshold, 1 - threshold, 0.5, True)
    _png_size(plots.plot_error_rates([curve], tmp_path / "rates.png", name))
    coords, identities = _blobs(3, [name, "b", "c"])
    umap = plots.plot_umap(
        [plots.EmbeddingPanel(name, coords, identities)], tmp_path / "u.png", name
    )
    _png_size(umap)


def test_plot_umap_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plots.plot_umap([plots.EmbeddingPanel("dlib", np.zeros((4, 3)), list("abcd"))], tmp_path)
    with pytest.raises(ValueError, match="identity labels"):
        plots.plot_umap([plots.EmbeddingPanel("dlib", np.zeros((4, 2)), list("abc"))], tmp_path)


def test_mismatched_curve_lengths_raise(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        plots.plot_roc([("dlib", [0, 0.5, 1], [0, 1], None)], tmp_path / "roc.png")
    with pytest.raises(ValueError):
        plots.plot_det([], tmp_path / "det.png")


def test_million_point_curves_are_thinned(tmp_path, monkeypatch):
    """A million-point ROC and DET reach matplotlib as at most MAX_PLOT_POINTS points each:
    that, not a wall-clock limit (see benchmarks/), is what keeps big runs' figures fast."""
    from matplotlib.axes import Axes

    drawn: list[int] = []
    plot = Axes.plot

    def counting_plot(self, *args, **kwargs):
        lines = plot(self, *args, **kwargs)
        drawn.extend(len(line.get_xdata()) for line in lines)
        return lines

    monkeypatch.setattr(Axes, "plot", counting_plot)
    n = 1_000_000
    fpr = np.linspace(0.0, 1.0, n) ** 3
    tpr = np.sqrt(np.linspace(0.0, 1.0, n))
    plots.plot_roc([("dlib", fpr, tpr, 0.9)], tmp_path / "roc.png", log_x=True)
    plots.plot_det([("dlib", fpr, 1 - tpr, 0.1)], tmp_path / "det.png")
    assert max(drawn) <= plots.MAX_PLOT_POINTS  # every line, the two curves included
    curves = sorted(drawn)[-2:]  # the ROC and the DET; the rest are short reference lines
    assert min(curves) >= plots.MAX_PLOT_POINTS // 2  # thinned, not cut down to a few points
    _png_size(tmp_path / "roc.png")


def test_thinning_keeps_endpoints_shape_and_bound_of_a_real_roc():
    """The one curve thinner (plots only): ends kept, bounded, within a hair of the full ROC."""
    from face_bench.metrics.confusion import roc_curve

    rng = np.random.default_rng(1)
    s = rng.normal(size=200_000)
    y = rng.random(200_000) < 0.3
    s[y] += 1.0
    roc = roc_curve(s, y)
    for log_x in (False, True):
        x = np.log10(np.clip(roc.fpr, 1e-6, None)) if log_x else roc.fpr
        keep = style.thin_indices([x, roc.tpr], max_points=2000)
        assert keep.size <= 2000
        assert keep[0] == 0 and keep[-1] == roc.fpr.size - 1
        assert np.all(np.diff(keep) > 0)
        interp = np.interp(roc.fpr, roc.fpr[keep], roc.tpr[keep])
        assert np.max(np.abs(interp - roc.tpr)) < 2e-3


def test_thinning_keeps_ends_and_shape():
    x = np.linspace(0, 1, 200_000)
    y = np.where(x < 0.5, 0.0, 1.0)  # a step: the corner must survive
    keep = style.thin_indices([x, y])
    assert len(keep) <= plots.MAX_PLOT_POINTS
    assert keep[0] == 0 and keep[-1] == x.size - 1
    assert np.all(np.diff(keep) > 0)
    jump = int(np.argmax(np.diff(y)))
    assert {jump, jump + 1} <= set(keep.tolist())
    assert np.array_equal(style.thin_indices([x[:50], y[:50]]), np.arange(50))


def test_model_colors_stable_and_overridable():
    first = plots.model_colors(["dlib", "JAPANESE FACE v1"])
    assert first == plots.model_colors(["dlib", "JAPANESE FACE v1"])
    assert first["dlib"] != first["JAPANESE FACE v1"]
    mixed = plots.model_colors(["dlib", "JAPANESE FACE v1"], {"dlib": "#000000"})
    assert mixed["dlib"] == "#000000" and mixed["JAPANESE FACE v1"] != "#000000"


def test_marker_labels_show_enough_decimals():
    assert thresholds._threshold_decimals([plots.Marker("default", 0.6)]) == 2
    assert thresholds._threshold_decimals([plots.Marker("default", 0.363)]) == 3


def test_cjk_fallback_only_where_a_name_needs_it(tmp_path, monkeypatch):
    """Latin names draw the same pixels without the CJK fallback font; Japanese names keep it
    (and draw without missing-glyph warnings)."""
    curves = [("dlib · young_women", [0, 0.2, 1], [0, 0.7, 1], 0.81), ("m-ü", [0, 1], [0, 1], 0.5)]
    assert not style._needs_fallback(["ROC — young_women", "dlib · ü", "≤ 0.6"])
    assert style._needs_fallback(["新垣結衣"]) and style._needs_fallback(None)
    lean = plots.plot_roc(curves, tmp_path / "lean.png", "ROC — a")
    monkeypatch.setattr(style, "_needs_fallback", lambda texts: True)
    full = plots.plot_roc(curves, tmp_path / "full.png", "ROC — a")
    assert lean.read_bytes() == full.read_bytes()
    monkeypatch.undo()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.plot_det([("新垣結衣", [0, 0.1, 1], [1, 0.3, 0], 0.2)], tmp_path / "d.png", "DET")
    if plots.cjk_font_available():
        assert not [w for w in caught if "missing from" in str(w.message)]
