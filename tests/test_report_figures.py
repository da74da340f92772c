"""The one-encoding figures (DET marks and bands, FMR/FNMR vs threshold), vector formats,
the sweep's ROC corners and the headline exports."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from face_bench.metrics import summary as m
from face_bench.metrics.uncertainty import bootstrap_det_band
from face_bench.report import plots
from face_bench.report.headline import latex_escape
from face_bench.report.outputs import sweep_corners

RNG = np.random.default_rng(3)
PEOPLE = RNG.integers(0, 12, 120)
A, B = np.triu_indices(120, 1)
LABELS = PEOPLE[A] == PEOPLE[B]
SCORES = RNG.normal(size=A.size) + 2.5 * LABELS


def _curves():
    roc = m.roc_curve(SCORES, LABELS)
    lower, upper = bootstrap_det_band(
        SCORES, LABELS, PEOPLE[A], PEOPLE[B], np.geomspace(1e-3, 1, 20), 30, 0
    )
    marks = (plots.OperatingMark("default", 0.97, 0.0), plots.OperatingMark("target", 0.01, 0.4))
    return [
        plots.DetSeries(
            "m · s",
            roc.fpr,
            1 - roc.tpr,
            0.1,
            "m",
            "s",
            marks,
            plots.DetBand(np.geomspace(1e-3, 1, 20), lower, upper),
        ),
        plots.DetSeries("m · t", roc.fpr, 1 - roc.tpr**2, 0.2, "m", "t"),
    ]


def test_det_band_brackets_the_curve():
    grid = np.geomspace(0.01, 0.5, 12)
    lower, upper = bootstrap_det_band(SCORES, LABELS, PEOPLE[A], PEOPLE[B], grid, 80, 1)
    assert np.all(lower <= upper)
    roc = m.roc_curve(SCORES, LABELS)
    at = [1 - roc.tpr[np.searchsorted(roc.fpr, g, side="right") - 1] for g in grid]
    inside = np.mean(
        [lo - 1e-9 <= v <= up + 1e-9 for lo, v, up in zip(lower, at, upper, strict=True)]
    )
    assert inside >= 0.8


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_det_with_marks_bands_and_vector_formats(tmp_path: Path, fmt: str):
    out = plots.plot_det(_curves(), tmp_path / f"det.{fmt}", "DET")
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF-"}[fmt]
    assert out.read_bytes().startswith(magic)
    if fmt != "png":  # no date inside: reruns give the same bytes
        again = plots.plot_det(_curves(), tmp_path / f"again.{fmt}", "DET")
        assert again.read_bytes() == out.read_bytes()


def test_svg_keeps_text_as_text(tmp_path: Path):
    """Labels in an SVG are <text> elements a reader can search and edit, not glyph outlines."""
    svg = plots.plot_det(_curves(), tmp_path / "det.svg", "DET").read_text(encoding="utf-8")
    assert "<text" in svg
    assert "False match rate" in svg and "m · s" in svg


def test_colour_is_the_model_and_line_style_the_subset():
    assert plots.model_colors(["a", "b"]) == {"a": "#0072B2", "b": "#D55E00"}  # Okabe-Ito
    styles = plots.subset_styles(["ordinary", "young_women", "ordinary"])
    assert styles == {"ordinary": "-", "young_women": "--"}


def test_error_rates_figure(tmp_path: Path):
    sweep = m.threshold_sweep(SCORES, LABELS)
    curves = [
        plots.RateCurve(
            "dlib",
            subset,
            "Euclidean distance",
            -sweep.thresholds,
            sweep.fmr,
            sweep.fnmr,
            default=0.6,
            lower_is_same=True,
        )
        for subset in ("ordinary", "young_women")
    ]
    out = plots.plot_error_rates(curves, tmp_path / "rates.png", "FMR and FNMR")
    assert out.stat().st_size > 10_000
    with pytest.raises(ValueError, match="png, svg, pdf"):
        plots.plot_error_rates(curves, tmp_path / "rates.gif")


def test_sweep_corners_keep_every_choosable_operating_point():
    frame = pd.DataFrame(vars(m.threshold_sweep(np.round(SCORES, 1), LABELS)))
    corners = sweep_corners(frame)
    assert len(corners) < len(frame) and corners.index[0] == 0
    assert corners.index[-1] == len(frame) - 1
    assert corners["f1"].max() == frame["f1"].max()
    # Every dropped row lies on a straight ROC segment between two kept rows.
    kept = corners.index.to_numpy()
    for i in set(range(len(frame))) - set(kept):
        lo, hi = kept[kept < i].max(), kept[kept > i].min()
        seg = frame.loc[[lo, i, hi], ["tp", "fp"]].to_numpy()
        assert seg[0, 0] == seg[1, 0] == seg[2, 0] or seg[0, 1] == seg[1, 1] == seg[2, 1]


def test_latex_export_escapes_names():
    assert latex_escape("young_women 50% & co") == r"young\_women 50\% \& co"
    assert latex_escape("≤") == r"$\leq$"


def test_headline_exports_from_results(tmp_path: Path):
    from face_bench.report import headline

    results = _fake_results()
    md = headline.to_markdown(results)
    assert "dlib at 0.6 accepts 95.03 % (16,932 / 17,817) of impostor pairs among young women" in md
    assert "vs 31.87 % (13,698 / 42,982) in ordinary" in md
    tex = headline.to_latex(results)
    assert tex.startswith("\\begin{tabular}") and "young\\_women" in tex
    written = headline.write_exports(results, tmp_path)
    assert [p.name for p in written] == ["headline.md", "headline.tex"]


def _fake_results():
    from types import SimpleNamespace

    from face_bench.results.blocks import ModelMetrics, OperatingPoint

    def model(fmr_e, n_imp, fnmr_e, n_gen):
        at = {
            "fmr": fmr_e / n_imp,
            "fmr_errors": fmr_e,
            "n_impostor": n_imp,
            "fnmr": fnmr_e / n_gen,
            "fnmr_errors": fnmr_e,
            "n_genuine": n_gen,
            "threshold": 0.6,
            "accepts_everything": False,
        }
        metrics = ModelMetrics.model_construct(
            at_default=OperatingPoint.model_construct(**at), roc_auc=0.95, eer=0.1
        )
        return SimpleNamespace(name="dlib", metrics=metrics)

    subsets = [
        SimpleNamespace(
            name="ordinary", models=[model(13698, 42982, 0, 1868)], identity_concentration=None
        ),
        SimpleNamespace(
            name="young_women", models=[model(16932, 17817, 0, 7383)], identity_concentration=None
        ),
    ]
    return SimpleNamespace(
        models=[SimpleNamespace(name="dlib", default_threshold=0.6)], subsets=subsets
    )


def test_fake_results_are_json_shaped():
    metrics = _fake_results().subsets[0].models[0].metrics
    assert json.loads(json.dumps(metrics.at_default.model_dump(mode="json")))


@pytest.fixture
def drawn(monkeypatch) -> list:
    """Every figure the plot functions save, kept open for inspection."""
    from face_bench.report.plots import style

    figures: list = []
    save = style._save

    def keep(fig, path):
        figures.append(fig)
        save(fig, path)

    monkeypatch.setattr(style, "_save", keep)
    return figures


def _small_run():
    """A strong model on few impostor pairs: FNMR is still 20% where FMR turns from 0 to 1/N."""
    people = np.repeat(np.arange(8), 5)
    a, b = np.triu_indices(people.size, 1)
    labels = people[a] == people[b]
    scores = np.random.default_rng(5).normal(size=a.size) + 4.0 * labels
    return m.roc_curve(scores, labels), int(np.count_nonzero(~labels))


def _curve_x(ax, label: str) -> np.ndarray:
    return next(np.asarray(ln.get_xdata()) for ln in ax.lines if ln.get_label().startswith(label))


def _limit_marked(ax, x: float, text: str) -> bool:
    """A dotted vertical line at ``x`` and its label on the axes."""
    vertical = [
        ln
        for ln in ax.lines
        if ln.get_linestyle() == ":" and np.allclose(np.asarray(ln.get_xdata(), float), x)
    ]
    return bool(vertical) and any(t.get_text().startswith(text) for t in ax.texts)


def test_det_stops_at_one_over_n_impostors_and_marks_it(tmp_path: Path, drawn):
    from scipy.special import ndtri

    roc, n = _small_run()
    assert roc.fpr[0] == 0 and (1 - roc.tpr[roc.fpr == 0]).min() > 0.05  # FMR 0 at FNMR > 5%
    curve = plots.DetSeries("sface", roc.fpr, 1 - roc.tpr, model="sface", n_impostor=n)
    plots.plot_det([curve], tmp_path / "det.png", "DET")
    ax = drawn[-1].axes[0]
    limit = ndtri(1 / n)
    x = _curve_x(ax, "sface")
    assert x.min() == pytest.approx(limit)  # the curve begins at 1/N, not at the axis edge
    assert ax.get_xlim()[0] < limit - 0.1  # and 1/N is inside the axes, away from the edge
    assert _limit_marked(ax, limit, f"1/N = {100 / n:.2g}% (N = {n:,})")


def test_roc_stops_at_one_over_n_impostors_and_marks_it(tmp_path: Path, drawn):
    roc, n = _small_run()
    curves = [plots.RocSeries("sface", roc.fpr, roc.tpr, None, "sface", n_impostor=n)]
    plots.plot_roc(curves, tmp_path / "roc.png", "ROC")
    ax = drawn[-1].axes[0]
    x = _curve_x(ax, "sface")
    assert x.min() == pytest.approx(1 / n) and ax.get_xlim()[0] < 1 / n / 1.5
    assert _limit_marked(ax, 1 / n, "1/N = ")
    # Without N the smallest FMR given is the limit; a linear axis has room for FMR = 0.
    plots.plot_roc([curves[0]._replace(n_impostor=None)], tmp_path / "roc2.png")
    assert _limit_marked(drawn[-1].axes[0], roc.fpr[roc.fpr > 0].min(), "1/N = ")
    plots.plot_roc(curves, tmp_path / "roc3.png", log_x=False)
    assert _curve_x(drawn[-1].axes[0], "sface").min() == 0 and not drawn[-1].axes[0].texts


def test_det_bands_in_each_models_colour_and_explained(tmp_path: Path, drawn):
    from matplotlib.colors import to_hex
    from matplotlib.patches import Patch

    first = _curves()[0]
    curves = [first, first._replace(label="n · s", model="n", fnmr=np.asarray(first.fnmr) / 2)]
    plots.plot_det(curves, tmp_path / "det.png", "DET")
    legend = drawn[-1].legends[0]
    assert "identity-bootstrap band" in legend.get_title().get_text()
    colors = plots.model_colors(["m", "n"])
    texts = [t.get_text() for t in legend.get_texts()]
    entries = dict(zip(texts, legend.legend_handles, strict=True))
    for label, model in (("m · s", "m"), ("n · s", "n")):
        # The entry shows the band behind the line, both in the model's colour.
        handle = next(h for text, h in entries.items() if text.startswith(label))
        assert isinstance(handle, Patch) and to_hex(handle.get_facecolor()) == colors[model].lower()


def _group_rows():
    from face_bench.results.differentials import Differentials, GroupRow, ModelDifferentials, Rate

    def rate(errors, n, lower, upper):
        method = "rule of three" if errors == 0 else "identity bootstrap"
        return Rate(errors=errors, n=n, rate=errors / n, lower=lower, upper=upper, method=method)

    def row(group, fmr, fnmr):
        return GroupRow(
            group=group, n_people=9, fmr=fmr, fnmr=fnmr, fmr_ratio=None, fnmr_ratio=None,
            status=None,
        )  # fmt: skip

    rows = [
        row("ordinary", rate(516, 42982, 0.004, 0.03), rate(15, 1868, 0.002, 0.02)),
        row("young_women", rate(0, 17817, 0.0, 3 / 17817), rate(3, 738, 0.001, 0.012)),
    ]
    block = ModelDifferentials(threshold=0.6, units="distance", groups=rows)
    return Differentials(
        grouping="subsets", groups=["ordinary", "young_women"], reference="ordinary",
        far_target=1e-3, threshold_rule="given", min_people=5, n_boot=100, seed=0,
        confidence=0.95, models={"dlib": block},
    )  # fmt: skip


def test_subset_rates_are_points_with_counts_and_zero_as_a_bound(tmp_path: Path, drawn):
    """subset-rates: each rate a point with its identity-bootstrap interval and errors/pairs
    beside it; no errors is an open triangle at its rule-of-three bound."""
    from types import SimpleNamespace

    from face_bench.report import figures

    evaluation = SimpleNamespace(results=SimpleNamespace(differentials=_group_rows()))
    out = figures.subset_bars(evaluation, tmp_path)
    assert out == tmp_path / "subset-rates.png" and out.is_file()
    fmr_panel, fnmr_panel = drawn[-1].axes[:2]
    assert not fmr_panel.patches  # no bars
    texts = [t.get_text() for t in fmr_panel.texts]
    assert "516/42,982 = 1.2%" in texts and "0/17,817 ≤ 0.017%" in texts
    assert "3/738 = 0.41%" in [t.get_text() for t in fnmr_panel.texts]
    triangles = [ln for ln in fmr_panel.lines if ln.get_marker() == "v"]
    assert [ln.get_ydata()[0] for ln in triangles] == [pytest.approx(3 / 17817)]
    assert triangles[0].get_markerfacecolor() == "white"  # open: a bound, not a measurement
    whiskers = [c for c in fmr_panel.collections if c.get_segments()]
    # the measured rate's whisker spans its identity-bootstrap interval, not a binomial one
    ends = sorted(y for c in whiskers for seg in c.get_segments() for _x, y in seg)
    assert ends[0] == pytest.approx(0.004) and ends[-1] == pytest.approx(0.03)


def test_score_histograms_show_the_impostor_tail_on_a_log_density_panel(tmp_path: Path, drawn):
    """The few impostors past the threshold are invisible on a linear density axis; the log
    panel below shows them, and each threshold line carries its name and value."""
    rng = np.random.default_rng(2)
    impostor = np.r_[rng.normal(0.1, 0.1, 20_000), [0.55, 0.6, 0.7]]  # 3 false matches
    panel = plots.ScorePanel("m", "cosine", rng.normal(0.7, 0.1, 500), impostor,
                             [plots.Marker("default", 0.5)], lower_is_same=False)  # fmt: skip
    plots.plot_score_histograms([panel], tmp_path / "scores.png", "Scores")
    top, low = drawn[-1].axes
    assert top.get_yscale() == "linear" and low.get_yscale() == "log"
    assert any(t.get_text().strip() == "default 0.50" for t in top.texts)
    # The bins past the threshold holding the false matches rise above the log axis' floor.
    tail = [a for a in low.patches if "impostor" in str(a.get_label())]
    values, edges, _ = tail[0].get_data()
    past = values[edges[:-1] >= 0.5]
    assert (past > low.get_ylim()[0] * 1.5).sum() >= 2
    plots.plot_score_histograms([panel], tmp_path / "flat.png", log_density=False)
    assert [ax.get_yscale() for ax in drawn[-1].axes] == ["linear"]


def test_names_with_dollar_signs_are_drawn_as_typed(tmp_path: Path, drawn):
    """A model or subset name such as '$x$' is text, never matplotlib mathtext."""
    from matplotlib.text import Text

    rates = [plots.SubsetRate("$young$", "m$_1$", 0.01, 0.0, 10, 1000, 0, 50)]
    plots.plot_subset_rates(rates, tmp_path / "s.png", thresholds={"m$_1$": 0.5})

    texts = drawn[-1].findobj(Text)
    assert any(t.get_text() == "m$_1$ @ 0.5" for t in texts)
    assert all(not t.get_parse_math() for t in texts)
