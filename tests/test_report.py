"""`face-bench report` and `face-bench umap` end to end on real faces, plus the page in Chromium.

The run uses dlib and the tiny random ONNX stand-in on 30 images per subset, so every
section is exercised in seconds once embeddings are cached for the session.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from conftest import JP_FACES, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.models.registry import BUILTIN_MODELS
from face_bench.models.weights_files import weights_sha256

runner = CliRunner()
CHROMIUM = Path("/usr/bin/chromium")
XSS_NAME = "<script>alert(1)</script>"
XSS_FILE = "<img src=x onerror=alert(2)>.png"
JAPANESE_NAME = "新垣 結衣"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium not found: run `make browser-deps` (apt-get install chromium "
    "fonts-noto-cjk) to enable the browser tests",
)


def _config(folder: Path) -> Path:
    # The standin_config fixture is per test; module-scoped runs need their own copy.
    path = folder / "face-bench.toml"
    path.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        "input_size = [224, 224]\n"
        "mean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n'
        'source = "tiny random stand-in, ../shared/models"\nlicence = "test data only"\n',
        encoding="utf-8",
    )
    return path


def _report(args: list[str], cache: Path):
    argv = ["report", *args, "--cache-dir", str(cache)]
    # The report records the command line from sys.argv, which is pytest's here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["face-bench", *argv])
        return runner.invoke(app, argv)


@pytest.fixture(scope="module")
def report_runs(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> dict:
    """The two-subset, two-model report, self-contained and linked."""
    root = tmp_path_factory.mktemp("report")
    common = [
        "--subset", "ordinary", "--subset", "young_women", "--data", str(JP_FACES),
        "--model", "dlib", "--model", "standin", "--sample", "30", "--bootstrap", "50",
        # 30 images per subset give too few impostors for the default FMR 1e-3 rule.
        "--threshold", "far:1e-2", "--config", str(_config(root)),
    ]  # fmt: skip
    runs = {}
    for name, flag in (("self", "--self-contained"), ("linked", "--no-self-contained")):
        result = _report([*common, flag, "--out", str(root / name)], session_cache)
        runs[name] = (result, root / name)
    return runs


def _ok(runs: dict, name: str) -> tuple[Path, str]:
    result, folder = runs[name]
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return folder, (folder / "report.html").read_text(encoding="utf-8")


def _srcs(page: str) -> list[str]:
    return [html.unescape(s) for s in re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)]


@needs_shared
@pytest.mark.slow
def test_model_table_gives_each_models_source_licence_and_sha256(report_runs: dict) -> None:
    _folder, page = _ok(report_runs, "self")
    table = page[page.index('id="models"') :]
    table = table[: table.index("</table>")]
    assert "<th>Source</th><th>Licence</th>" in table
    assert "tiny random stand-in, ../shared/models</td><td>test data only</td>" in table
    dlib = BUILTIN_MODELS["dlib"]
    assert f"<td>{html.escape(dlib.licence or '')}</td>" in table
    assert f'title="{weights_sha256(TINY_ONNX)}"' in table


@needs_shared
@pytest.mark.slow
def test_report_has_every_section(report_runs: dict) -> None:
    folder, page = _ok(report_runs, "self")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    expected = {"headline", "run", "subsets", "models", "det", "differentials", "umap", "files"}
    for slug in ("ordinary", "young_women"):
        expected |= {
            f"subset-{slug}",
            f"headline-{slug}",
            f"headline-table-{slug}",
            f"delong-{slug}",
            f"cv-{slug}",
            f"sweep-{slug}",
            f"scores-{slug}",
            f"gallery-{slug}",
        }
    assert expected <= ids, expected - ids
    for heading in (
        "What was run",
        "Headline figures",
        "Are the AUCs different?",
        "Threshold sweep",
        "Score distributions",
        "Hardest pairs",
        "DET, ROC and error rates",
        "Demographic differentials",
        "UMAP of the embeddings",
    ):
        assert heading in page, heading
    # What was run: dataset, definitions, sample, seed, weights hash and path, version, command.
    assert str(JP_FACES) in page
    assert "sex ∈ {F}; age_group ∈ {young}; japanese ∈ {yes}" in page
    assert "30 per subset, seed 0" in page
    assert "71d8d9215f35" in page and TINY_ONNX.as_posix() in page
    assert "dlib_face_recognition_resnet_model_v1.dat" in page
    assert "face-bench 0." in page and "--subset ordinary" in page
    # Every metric row of the headline table, for both models.
    for metric in (
        "roc_auc",
        "eer",
        "tar_at_far_1e-2",
        "tar_at_far_1e-3",
        "f1_at_default",
        "best_f1",
        "failure_rate",
    ):
        assert f'data-metric="{metric}"' in page, metric
    assert "95% CI" in page and "DeLong z = " in page
    for name in ("results.json", "scores.csv", "sweep.csv", "umap.csv", "umap.png", "det.png"):
        assert (folder / name).stat().st_size > 0, name
    for name in ("sweep", "scores"):
        for slug in ("ordinary", "young_women"):
            assert (folder / f"{name}-{slug}.png").is_file()
    # One ROC of every curve (log FMR axis), no per-subset copies of the same curves.
    assert (folder / "roc.png").is_file() and not list(folder.glob("roc-*.png"))
    for name in ("rates.png", "headline.md", "headline.tex"):
        assert (folder / name).stat().st_size > 0, name
    # A self-contained page embeds its thumbnails: no gallery folder.
    assert not (folder / "gallery").exists()


@needs_shared
@pytest.mark.slow
def test_headline_comes_first_with_error_counts(report_runs: dict) -> None:
    folder, page = _ok(report_runs, "self")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    young = results["subsets"][1]
    point = young["models"][0]["metrics"]["at_default"]
    expected = f"({point['fmr_errors']:,} / {point['n_impostor']:,})"
    assert point["n_impostor"] == young["pairs"]["n_impostor"]
    headline = page.index('id="headline"')
    assert headline < page.index(expected) < page.index('id="run"')
    assert page.index(expected) < page.index('id="subset-ordinary"')
    assert "dlib at 0.6 accepts " in page[headline : page.index('id="run"')]
    # F1 is marked prevalence-dependent and never gets the ▲.
    for key in ("f1_at_default", "best_f1"):
        row = re.search(rf'<tr data-metric="{key}"[^>]*>(.*?)</tr>', page, re.S).group(0)
        assert 'class="prevalence"' in row and "▲" not in row
    assert (folder / "headline.md").read_text(encoding="utf-8").count("| dlib |") == 2


@needs_shared
@pytest.mark.slow
def test_headline_marks_the_better_model(report_runs: dict) -> None:
    _folder, page = _ok(report_runs, "self")
    table = page.split('id="headline-table-young_women"', 1)[1].split("</table>", 1)[0]
    row = re.search(r'<tr data-metric="roc_auc">(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r'<td class="num( best)?"[^>]*>([\d.]+)', row)
    assert len(cells) == 2
    values = [float(v) for _b, v in cells]
    best = [bool(b) for b, _v in cells]
    # dlib against random weights: the higher AUC, and only it, is marked.
    assert values[0] != values[1]
    assert best == [values[0] > values[1], values[1] > values[0]]


@needs_shared
@pytest.mark.slow
def test_self_contained_report_embeds_everything(report_runs: dict) -> None:
    _folder, page = _ok(report_runs, "self")
    srcs = _srcs(page)
    assert len(srcs) > 20
    assert all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in srcs)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)
    assert "@import" not in page and "url(" not in page


@needs_shared
@pytest.mark.slow
def test_linked_report_points_at_files_beside_it(report_runs: dict) -> None:
    folder, page = _ok(report_runs, "linked")
    srcs = _srcs(page)
    assert len(srcs) > 20
    for src in srcs:
        assert not src.startswith(("data:", "/", "http")), src
        assert (folder / unquote(src)).is_file(), src


@needs_shared
@pytest.mark.slow
def test_gallery_shows_names_thumbnails_and_both_scores(report_runs: dict) -> None:
    folder, page = _ok(report_runs, "linked")
    identities = set(pd.read_csv(JP_FACES / "manifest.csv")["identity"])
    gallery = page.split('id="gallery-ordinary"', 1)[1].split('id="det"', 1)[0]
    shown = set(re.findall(r'<span class="who">([^<]+)</span>', gallery))
    assert shown and shown <= identities
    assert any(re.search(r"[\u3040-\u9fff]", name) for name in shown)  # Japanese names as text
    # Each card: its model's score in model units and the other model's for the same pair.
    assert re.search(r'<span class="mine">dlib: 0\.\d{3}</span>', gallery)
    assert re.search(
        r'<span class="other">standin: -?\d\.\d{3} (accepted|rejected)</span>', gallery
    )
    assert "Most similar impostor pairs" in gallery or "No false accepts" in gallery
    assert "Least similar genuine pairs" in gallery
    thumbs = list((folder / "gallery").glob("*.jpg"))
    assert thumbs
    from PIL import Image

    with Image.open(thumbs[0]) as image:
        assert image.format == "JPEG" and max(image.size) <= 96


@needs_shared
@pytest.mark.slow
def test_umap_command_writes_png_and_csv(tmp_path: Path, session_cache: Path) -> None:
    out = tmp_path / "umap"
    args = [
        "umap", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib",
        "--model", "standin", "--sample", "20", "--config", str(_config(tmp_path)),
        "--cache-dir", str(session_cache), "--out", str(out),
    ]  # fmt: skip
    shutil.rmtree(session_cache / "projections", ignore_errors=True)  # layouts of other tests
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "projecting with UMAP" in result.stderr
    assert (out / "umap.png").stat().st_size > 10_000
    first = (out / "umap.csv").read_bytes()
    shutil.rmtree(out)
    again = runner.invoke(app, args)  # the layouts now come from the cache: same bytes
    assert again.exit_code == 0, again.output
    assert "projecting with UMAP" not in again.stderr
    assert (out / "umap.csv").read_bytes() == first
    table = pd.read_csv(out / "umap.csv")
    assert list(table.columns) == ["model", "image", "identity", "x", "y"]
    assert table.groupby("model").size().to_dict() == {"dlib": 20, "standin": 20}
    assert np.isfinite(table[["x", "y"]].to_numpy()).all()
    manifest = pd.read_csv(JP_FACES / "manifest.csv").set_index("path")["identity"]
    assert (table["identity"] == manifest.loc[table["image"]].to_numpy()).all()


@pytest.mark.slow  # UMAP's first call compiles with numba (tens of seconds)
def test_projection_leaves_out_failed_rows_and_counts_them() -> None:
    from face_bench.report.projection import TooFewPointsError, project_umap

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(12, 8)).astype(np.float32)
    vectors[[2, 7]] = np.nan
    identities = [f"p{i % 3}" for i in range(12)]
    projection = project_umap(vectors, identities, model="m", seed=1)
    assert projection.excluded == 2
    assert projection.coords.shape == (10, 2)
    assert 2 not in projection.rows and 7 not in projection.rows
    assert list(projection.identities) == [identities[i] for i in projection.rows]
    with pytest.raises(TooFewPointsError, match="at least 4"):
        project_umap(vectors[:4], identities[:4])  # three finite rows


# ------------------------------------------------------------- hostile names


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> Path:
    """A four-image dataset whose identity is a script tag and whose file name is an img tag."""
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    manifest = pd.read_csv(JP_FACES / "manifest.csv")
    two_people = manifest[manifest["identity"].isin(["新垣結衣", "夏帆"])]
    rows = []
    for k, (_identity, group) in enumerate(two_people.groupby("identity")):
        name = XSS_NAME if k == 0 else JAPANESE_NAME
        for j, source in enumerate(group["path"].iloc[:2]):
            target = data / "images" / f"p{k}" / (XSS_FILE if j == 0 else f"{j}.png")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(JP_FACES / source, target)
            rows.append({"path": target.relative_to(data).as_posix(), "identity": name})
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    out = root / "report"
    args = [
        "--data", str(data), "--model", "dlib", "--model", "standin", "--bootstrap", "0",
        "--config", str(_config(root)), "--out", str(out),
    ]  # fmt: skip
    result = _report(args, session_cache)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return out


@needs_shared
@pytest.mark.slow
def test_hostile_names_are_escaped_text(hostile_report: Path) -> None:
    page = (hostile_report / "report.html").read_text(encoding="utf-8")
    assert XSS_NAME not in page
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;.png" in page
    assert JAPANESE_NAME in page


# --------------------------------------------------------------- Chromium

_PROBE = """<script id="fb-probe">
(function () {
  var errors = [], alerts = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || (e.target && e.target.src || "").slice(0, 60) || "error"));
  }, true);
  var original = console.error;
  console.error = function () { errors.push([].slice.call(arguments).join(" ")); };
  window.alert = function (m) { alerts.push(String(m)); };
  window.addEventListener("load", function () {
    // Headless Chromium lays out at least 500 px wide: narrow the page itself to emulate a
    // phone, then see whether anything (outside the tables' scroll boxes) sticks out.
    var phone = Number(new URLSearchParams(location.search).get("width")) || 0;
    if (phone) { document.documentElement.style.width = phone + "px"; }
    var images = [].slice.call(document.images);
    var result = {
      errors: errors,
      alerts: alerts,
      images: images.length,
      broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
        .map(function (i) { return i.getAttribute("src").slice(0, 80); }),
      scripts: document.scripts.length,
      headline: document.querySelectorAll("table.headline tbody tr").length,
      // The right edge of everything not inside a box that scrolls on its own.
      pageWidth: Math.ceil([].slice.call(document.querySelectorAll("body *")).reduce(
        function (reach, e) {
          var box = e.parentElement && e.parentElement.closest(".scroll");
          if (box && getComputedStyle(box).overflowX !== "visible") { return reach; }
          return Math.max(reach, e.getBoundingClientRect().right);
        }, 0)),
      viewport: phone || window.innerWidth,
      sections: [].slice.call(document.querySelectorAll("section[id]")).map(function (s) {
        return s.id;
      }),
      text: document.body.innerText
    };
    var pre = document.createElement("pre");
    pre.id = "fb-result";
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  });
})();
</script>"""

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _open_in_chromium(report: Path, tmp_path: Path, width: int = 1400) -> tuple[dict, str]:
    """Load a probed copy of ``report`` (same folder, so relative links resolve)."""
    page = report.read_text(encoding="utf-8")
    probed = report.with_name("report-probe.html")
    probed.write_text(page.replace("<head>", "<head>\n" + _PROBE, 1), encoding="utf-8")
    done = _chromium(
        [
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            f"--window-size={width},2000",
            "--dump-dom",
            probed.as_uri() + (f"?width={width}" if width < 500 else ""),
        ],
        tmp_path / "profile-dom",
    )
    found = re.search(r'<pre id="fb-result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1))), done.stderr


def _page_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line]


@needs_shared
@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("variant", ["self", "linked"])
def test_report_renders_in_chromium(report_runs: dict, variant: str, tmp_path: Path) -> None:
    folder, _page = _ok(report_runs, variant)
    result, stderr = _open_in_chromium(folder / "report.html", tmp_path)
    assert result["errors"] == [] and _page_errors(stderr) == []
    assert result["images"] > 20 and result["broken"] == []
    assert result["headline"] >= 2 * 9
    assert {"run", "subset-ordinary", "subset-young_women", "det", "umap"} <= set(
        result["sections"]
    )
    assert re.search(r"[\u3040-\u9fff]", result["text"])
    shot = tmp_path / f"report-{variant}.png"
    _chromium(
        ["--screenshot=" + str(shot), "--window-size=1280,4000", (folder / "report.html").as_uri()],
        tmp_path / "profile-shot",
    )
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        # Not a blank page: the screenshot holds text and figures.
        assert len(np.unique(np.asarray(image.convert("L")))) > 50


@needs_shared
@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_report_fits_a_phone(report_runs: dict, tmp_path: Path) -> None:
    folder, _page = _ok(report_runs, "self")
    result, _stderr = _open_in_chromium(folder / "report.html", tmp_path, width=390)
    assert result["errors"] == [] and result["broken"] == []
    # Wide tables scroll inside their own box: the page never scrolls sideways.
    assert result["viewport"] == 390 and result["pageWidth"] <= 390, result["pageWidth"]


@needs_shared
@needs_chromium
@pytest.mark.slow
@pytest.mark.browser
def test_hostile_names_stay_text_in_chromium(hostile_report: Path, tmp_path: Path) -> None:
    result, stderr = _open_in_chromium(hostile_report / "report.html", tmp_path)
    assert result["alerts"] == []
    assert result["scripts"] == 1  # the probe itself; nothing from the data became a script
    assert XSS_NAME in result["text"] and XSS_FILE in result["text"]
    assert JAPANESE_NAME in result["text"]
    assert result["broken"] == [] and _page_errors(stderr) == []
