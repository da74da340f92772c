"""Tests for ``face-bench export-scores``: a real ``roc`` run's scores in other tools' formats.

The run uses the tiny random ONNX stand-in, so the scores mean nothing; what is checked
is that every exported score is the run's score, and that pyeer reads the files and
computes its EER from them as its own definition says.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import JP_FACES, TINY_ONNX, needs_shared
from score_formats import read_bob, read_pyeer
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.results.contract import PairInfo, RunResults
from face_bench.results.export import export_scores
from face_bench.results.scorefile import read_score_file

pytestmark = needs_shared
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``roc`` run with the ONNX stand-in: a few seconds."""
    root = tmp_path_factory.mktemp("export")
    config = root / "face-bench.toml"
    config.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    out = root / "run"
    args = [
        "roc", "--data", str(JP_FACES), "--subset", "all",
        "--model", "standin", "--sample", "30", "--seed", "1", "--align", "none",
        "--bootstrap", "0", "--config", str(config), "--cache-dir", str(root / "cache"),
        "--workers", "1", "--out", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return out


def pyeer_eer(gen: np.ndarray, imp: np.ndarray) -> float:
    """pyeer's EER rule computed independently, by counting at every pooled distinct score.

    Accept when score >= t. Find the first threshold where FMR <= FNMR; compare it with
    the threshold just before (unless the rates are equal there or it is the first);
    the one with the smaller FMR + FNMR (the earlier on a tie) gives (FMR + FNMR) / 2.
    """
    t = np.unique(np.concatenate([gen, imp]))
    fmr = (imp[None, :] >= t[:, None]).mean(axis=1)
    fnmr = (gen[None, :] < t[:, None]).mean(axis=1)
    second = int(np.argmax(fmr <= fnmr))
    first = second if second == 0 or fmr[second] == fnmr[second] else second - 1
    pick = first if fmr[first] + fnmr[first] <= fmr[second] + fnmr[second] else second
    return float((fmr[pick] + fnmr[pick]) / 2)


def run_scores(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "scores.csv", dtype={"subset": str}, keep_default_na=False)


def test_pyeer_files_hold_the_run_scores_and_pyeer_agrees(run_dir, tmp_path):
    from pyeer import eer_info
    from pyeer.eer_info import get_eer_stats

    out, written = export_scores(run_dir, "pyeer", tmp_path / "pyeer")
    frame = run_scores(run_dir)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert [(w.subset, w.model) for w in written] == [("all", "standin")]
    load = getattr(eer_info, "__get_score")  # pyeer's own line parser
    for item in written:
        gen_path, imp_path = item.paths
        assert gen_path == out / item.subset / "standin_genuine.txt"
        assert imp_path == out / item.subset / "standin_impostor.txt"
        with gen_path.open() as fh:
            gen = np.array([load(line) for line in fh])
        with imp_path.open() as fh:
            imp = np.array([load(line) for line in fh])
        part = frame[frame["subset"] == item.subset]
        labels = part["label"].to_numpy() == 1
        assert np.array_equal(gen, part["standin"].to_numpy()[labels])  # bit for bit
        assert np.array_equal(imp, part["standin"].to_numpy()[~labels])
        assert np.array_equal(read_pyeer(gen_path), gen)
        subset = next(s for s in results["subsets"] if s["name"] == item.subset)
        assert item.n_genuine == subset["pairs"]["n_genuine"] == len(gen)
        assert item.n_impostor == subset["pairs"]["n_impostor"] == len(imp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyeer warns when the AUC is below 0.5
            stats = get_eer_stats(gen.tolist(), imp.tolist())
        assert stats.eer == pytest.approx(pyeer_eer(gen, imp), abs=1e-6)


def test_bob_files_parse_and_keep_labels_and_scores(run_dir, tmp_path):
    _out, written = export_scores(run_dir, "bob", tmp_path / "bob")
    frame = run_scores(run_dir)
    for item in written:
        (path,) = item.paths
        assert path.name == "standin_bob.txt"
        back = read_bob(path)
        part = frame[frame["subset"] == item.subset]
        assert len(back) == len(part)
        assert [b.genuine for b in back] == (part["label"] == 1).tolist()
        assert [b.score for b in back] == part["standin"].tolist()
        assert [b.probe_key for b in back] == [p.replace(" ", "_") for p in part["image_b"]]


def test_csv_export_round_trips(run_dir, tmp_path):
    _out, written = export_scores(run_dir, "csv", tmp_path / "csv")
    frame = run_scores(run_dir)
    for item in written:
        back, models = read_score_file(item.paths[0])
        part = frame[frame["subset"] == item.subset]
        assert models == ["standin"] and list(back["subset"].unique()) == [item.subset]
        assert back["image_a"].tolist() == part["image_a"].tolist()
        assert back["standin"].tolist() == part["standin"].tolist()
        assert "fold" not in back.columns


def test_cli_writes_next_to_the_run_by_default(run_dir):
    result = runner.invoke(app, ["export-scores", str(run_dir), "--to", "pyeer"])
    assert result.exit_code == 0, result.stderr
    assert (run_dir / "export-pyeer" / "all" / "standin_genuine.txt").is_file()
    assert "all / standin:" in result.stdout and "higher = same person" in result.stdout
    assert "geteerinf" in result.stderr


def test_cli_help_names_every_format():
    result = runner.invoke(app, ["export-scores", "--help"])
    assert result.exit_code == 0
    for word in ("pyeer", "bob", "csv", "--out", "RUN_DIR".lower()):
        assert word in result.stdout.lower()


def write_run(tmp_path: Path, scores_csv: str, meta: str = "results.json", models=("m 1",)) -> Path:
    """A run folder: scores.csv as given and the results.json (or lfw.json) that matches it."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "scores.csv").write_text(scores_csv, encoding="utf-8")
    frame = pd.read_csv(io.StringIO(scores_csv), dtype=str, keep_default_na=False)
    if meta == "lfw.json":
        genuine = int((frame["label"] == "1").sum())
        scored = [{"name": n, "n_pairs_scored": int((frame[n] != "").sum())} for n in models]
        lfw = {"n_genuine": genuine, "n_impostor": len(frame) - genuine, "models": scored}
        (tmp_path / meta).write_text(json.dumps(lfw), encoding="utf-8")
        return tmp_path
    (tmp_path / meta).write_text(_results_for(frame, models).to_json(), encoding="utf-8")
    return tmp_path


def _results_for(frame: pd.DataFrame, models) -> RunResults:
    """make_results' run, cut to the subsets, images, pair counts and models of ``frame``."""
    from test_gate import make_results

    results = make_results(subsets=("template",), models=tuple(models))
    template = results.subsets[0]
    subsets = []
    for name in dict.fromkeys(frame["subset"]):
        part = frame[frame["subset"] == name]
        genuine = int((part["label"] == "1").sum())
        subset = template.model_copy(deep=True, update={"name": name})
        subset.images = sorted({*part["image_a"], *part["image_b"]})
        subset.sample_size = len(subset.images)
        subset.pairs = PairInfo(mode="random", n_genuine=genuine, n_impostor=len(part) - genuine)
        subset.pool_size = len(subset.images)
        for run in subset.models:
            run.metrics.n_genuine, run.metrics.n_impostor = genuine, len(part) - genuine
            run.n_images_attempted, run.n_failures, run.failures = len(subset.images), 0, []
        subsets.append(subset)
    return results.model_copy(update={"subsets": subsets})


def test_lfw_run_folder_exports_with_folds_and_drops_unscored_pairs(tmp_path):
    run = write_run(
        tmp_path / "lfw",
        "fold,image_a,image_b,identity_a,identity_b,label,m 1\n"
        "1,A/A_0001.jpg,A/A_0002.jpg,A,A,1,-0.25\n"
        "1,A/A_0001.jpg,B/B_0001.jpg,A,B,0,-0.75\n"
        "2,C/C_0001.jpg,C/C_0002.jpg,C,C,1,\n"
        "2,C/C_0001.jpg,D/D_0001.jpg,C,D,0,-0.5\n",
        meta="lfw.json",
    )
    out, written = export_scores(run, "csv")
    assert out == run / "export-csv"
    (item,) = written
    assert item.subset == "lfw" and item.n_dropped == 1
    assert item.paths[0] == out / "lfw" / "m_1.csv"
    back, models = read_score_file(item.paths[0])
    assert models == ["m 1"]
    assert back["fold"].tolist() == ["1", "1", "2"]
    assert back["m 1"].tolist() == [-0.25, -0.75, -0.5]


def test_each_subset_and_model_gets_its_own_files(tmp_path):
    run = write_run(
        tmp_path / "two",
        "subset,image_a,image_b,identity_a,identity_b,label,m 1,m/2\n"
        "all,a/1,a/2,a,a,1,0.75,-0.25\n"
        "all,a/1,b/1,a,b,0,0.5,-0.5\n"
        "young women,a/1,a/2,a,a,1,0.75,-0.25\n"
        "young women,a/2,c/1,a,c,0,0.25,-1.5\n",
        models=["m 1", "m/2"],
    )
    out, written = export_scores(run, "pyeer", tmp_path / "out")
    assert [(w.subset, w.model) for w in written] == [
        ("all", "m 1"),
        ("all", "m/2"),
        ("young women", "m 1"),
        ("young women", "m/2"),
    ]
    assert read_pyeer(out / "young_women" / "m_2_impostor.txt").tolist() == [-1.5]
    assert read_pyeer(out / "all" / "m_1_genuine.txt").tolist() == [0.75]


def test_bob_refuses_labels_its_format_cannot_hold(tmp_path):
    run = write_run(
        tmp_path,
        "subset,image_a,image_b,identity_a,identity_b,label,m 1\n"
        "all,a/1.png,a/2.png,a,a,0,0.9\n"
        "all,a/1.png,b/1.png,a,b,1,0.1\n",
    )
    result = runner.invoke(app, ["export-scores", str(run), "--to", "bob"])
    assert result.exit_code == 50
    assert "disagrees with its identities" in result.stderr and "pyeer or csv" in result.stderr


def test_missing_or_broken_run_folders_fail_clearly(tmp_path):
    result = runner.invoke(app, ["export-scores", str(tmp_path), "--to", "csv"])
    assert result.exit_code == 50 and "no results.json or lfw.json" in result.stderr
    run = write_run(tmp_path / "r", "subset,image_a,image_b,identity_a,identity_b,label\n")
    result = runner.invoke(app, ["export-scores", str(run), "--to", "csv"])
    assert result.exit_code == 50 and "missing column(s) m 1" in result.stderr
    one_class = write_run(
        tmp_path / "one",
        "subset,image_a,image_b,identity_a,identity_b,label,m 1\nall,a/1,b/1,a,b,0,0.5\n",
    )
    result = runner.invoke(app, ["export-scores", str(one_class), "--to", "pyeer"])
    assert result.exit_code == 50 and "no genuine pairs" in result.stderr


# --- a scores.csv that is not the run's is refused, never exported -----------------------------


def _damaged(run_dir: Path, tmp_path: Path, edit) -> Path:
    """A copy of the run folder whose scores.csv lines went through ``edit``."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("export-*"))
    lines = (run_dir / "scores.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (copy / "scores.csv").write_text("".join(edit(lines)), encoding="utf-8")
    return copy


def _set_score(lines: list[str], row: int, value: str) -> list[str]:
    cells = lines[row].rstrip("\n").split(",")
    cells[-1] = value
    return [*lines[:row], ",".join(cells) + "\n", *lines[row + 1 :]]


def _pair_twice(lines: list[str]) -> list[str]:
    """The first pair replaced by a copy of a later pair with the same label: counts kept."""
    header = lines[0].rstrip("\n").split(",")
    label = header.index("label")
    first = lines[1].split(",")[label]
    twin = next(line for line in lines[2:] if line.split(",")[label] == first)
    return [lines[0], twin, *lines[2:]]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda lines: lines[:50], "impostor pair(s) in scores.csv, "),
        (lambda lines: [*lines, lines[1].replace("all", "other", 1)], "rows for subset 'other'"),
        (lambda lines: _set_score(lines, 3, ""), "model 'standin': 434 pair(s) with a score"),
        (lambda lines: _set_score(lines, 3, "nan"), "line 4: column 'standin' holds 'nan'"),
        (lambda lines: _set_score(lines, 5, "inf"), "line 6: column 'standin' holds 'inf'"),
        (_pair_twice, "not the pair set the run drew (pairs_sha256 differs)"),
    ],
    ids=["truncated", "foreign-subset", "empty-score", "nan", "inf", "pair-twice"],
)
def test_export_refuses_a_score_file_that_is_not_the_runs(run_dir, tmp_path, edit, words):
    damaged = _damaged(run_dir, tmp_path, edit)
    out = tmp_path / "out"
    result = runner.invoke(app, ["export-scores", str(damaged), "--to", "pyeer", "--out", str(out)])
    assert result.exit_code == 50, result.output
    assert words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_lfw_counts_are_checked_too(tmp_path):
    run = write_run(
        tmp_path / "lfw",
        "fold,image_a,image_b,identity_a,identity_b,label,m 1\n"
        "1,A/A_0001.jpg,A/A_0002.jpg,A,A,1,-0.25\n"
        "1,A/A_0001.jpg,B/B_0001.jpg,A,B,0,-0.75\n",
        meta="lfw.json",
    )
    lfw = json.loads((run / "lfw.json").read_text(encoding="utf-8"))
    lfw["n_impostor"] = 300
    (run / "lfw.json").write_text(json.dumps(lfw), encoding="utf-8")
    result = runner.invoke(app, ["export-scores", str(run), "--to", "csv"])
    assert result.exit_code == 50
    assert "subset 'lfw': 1 genuine / 1 impostor pair(s) in scores.csv, 1 / 300 scored" in (
        result.stderr
    )


def test_a_model_column_given_twice_is_refused(tmp_path):
    """pandas would rename the second copy and readers take the first: ambiguous, so refused."""
    run = write_run(
        tmp_path / "twice",
        "subset,image_a,image_b,identity_a,identity_b,label,m 1,m 1\n"
        "all,a/1,a/2,a,a,1,0.75,0.1\n"
        "all,a/1,b/1,a,b,0,0.5,0.9\n",
    )
    result = runner.invoke(
        app, ["export-scores", str(run), "--to", "csv", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 50
    assert "column 'm 1' appears twice in the header" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_deeply_nested_results_file_is_one_line_exit_50(tmp_path):
    run = tmp_path / "deep"
    run.mkdir()
    (run / "results.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = runner.invoke(app, ["export-scores", str(run), "--to", "csv"])
    assert result.exit_code == 50
    assert len(result.stderr.strip().splitlines()) == 1 and "not a JSON file" in result.stderr
    assert "Traceback" not in result.output
