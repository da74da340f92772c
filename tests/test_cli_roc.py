"""End-to-end `face-bench roc` / `threshold-sweep` on the real faces in ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEEPFACE, JP_FACES, needs_shared
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.models.registry import BUILTIN_MODELS

pytestmark = [needs_shared, pytest.mark.slow]
runner = CliRunner()


def run_roc(args: list[str], cache: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["roc", *args, "--cache-dir", str(cache)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def young_women_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One two-model run (dlib + the tiny ONNX stand-in) and its warm rerun."""
    root = tmp_path_factory.mktemp("yw")
    config = root / "face-bench.toml"
    from conftest import TINY_ONNX

    config.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        "mean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n'
        'source = "tiny random stand-in"\nlicence = "test data"\n',
        encoding="utf-8",
    )
    cache = root / "cache"
    common = [
        "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib",
        "--model", "standin", "--sample", "40", "--seed", "3", "--bootstrap", "50",
        "--config", str(config),
    ]  # fmt: skip
    cold = run_roc([*common, "--out", str(root / "cold")], cache)
    warm = run_roc([*common, "--out", str(root / "warm")], cache)
    return {"root": root, "cold": cold, "warm": warm, "common": common, "cache": cache}


def test_cold_run_writes_every_output(young_women_run: dict) -> None:
    code, out, err = young_women_run["cold"]
    assert code == 0, err
    run = young_women_run["root"] / "cold"
    for name in ("results.json", "scores.csv", "roc.png", "det.png"):
        assert (run / name).stat().st_size > 0, name
    assert "young_women: 40 images" in out
    assert "dlib" in out and "standin" in out
    assert "DeLong" in out


def test_auc_in_results_equals_sklearn_on_scores_csv(young_women_run: dict) -> None:
    run = young_women_run["root"] / "cold"
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    scores = pd.read_csv(run / "scores.csv")
    subset = results["subsets"][0]
    assert len(scores) == subset["pairs"]["n_genuine"] + subset["pairs"]["n_impostor"]
    for model in subset["models"]:
        expected = roc_auc_score(scores["label"], scores[model["name"]])
        assert abs(model["metrics"]["roc_auc"] - expected) < 1e-9
        ci = model["metrics"]["ci"]["roc_auc"]
        assert ci["lower"] <= model["metrics"]["roc_auc"] <= ci["upper"]


def test_results_record_what_was_run(young_women_run: dict) -> None:
    results = json.loads(
        (young_women_run["root"] / "cold" / "results.json").read_text(encoding="utf-8")
    )
    assert results["schema_version"] == 2
    assert len(results["dataset"]["digest"]) == 64
    subset = results["subsets"][0]
    assert subset["definition"] == {"sex": ["F"], "age_group": ["young"], "japanese": ["yes"]}
    assert subset["sample_size"] == 40 and len(subset["images"]) == 40
    assert results["settings"]["seed"] == 3
    names = [m["name"] for m in results["models"]]
    assert names == ["dlib", "standin"]
    assert all(len(m["weights_sha256"]) == 64 for m in results["models"])
    provenance = [(m["source"], m["licence"]) for m in results["models"]]
    dlib_spec = BUILTIN_MODELS["dlib"]
    assert provenance == [
        (dlib_spec.source, dlib_spec.licence),
        ("tiny random stand-in", "test data"),
    ]
    dlib = subset["models"][0]
    assert dlib["metrics"]["at_default"]["threshold"] == pytest.approx(0.6)
    assert "failures" in dlib and dlib["n_failures"] == len(dlib["failures"])


def test_warm_rerun_embeds_nothing_and_matches(young_women_run: dict) -> None:
    code, _out, err = young_women_run["warm"]
    assert code == 0, err
    root = young_women_run["root"]
    warm = json.loads((root / "warm" / "results.json").read_text(encoding="utf-8"))
    assert warm["volatile"]["embeddings_computed"] == {"dlib": 0, "standin": 0}
    assert warm["volatile"]["embeddings_cached"] == {"dlib": 40, "standin": 40}
    cold = json.loads((root / "cold" / "results.json").read_text(encoding="utf-8"))
    cold.pop("volatile")
    warm.pop("volatile")
    assert cold == warm
    assert (root / "cold" / "scores.csv").read_bytes() == (
        root / "warm" / "scores.csv"
    ).read_bytes()


def test_threshold_sweep_reuses_cache_and_marks_thresholds(young_women_run: dict) -> None:
    root = young_women_run["root"]
    result = runner.invoke(
        app,
        ["threshold-sweep", *young_women_run["common"], "--out", str(root / "sweep"),
         "--cache-dir", str(young_women_run["cache"])],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    results = json.loads((root / "sweep" / "results.json").read_text(encoding="utf-8"))
    assert results["volatile"]["embeddings_computed"] == {"dlib": 0, "standin": 0}
    dlib = results["subsets"][0]["models"][0]
    markers = {m["name"]: m for m in dlib["threshold_sweep"]["markers"]}
    assert markers["default"]["threshold"] == pytest.approx(0.6)
    assert markers["best F1"]["f1"] >= markers["default"]["f1"]
    sweep = pd.read_csv(root / "sweep" / "sweep.csv")
    rows = sweep[sweep["model"] == "dlib"]
    assert rows["f1"].max() == pytest.approx(markers["best F1"]["f1"])
    assert (root / "sweep" / "sweep.png").is_file()
    assert "best F1" in result.stdout


def test_several_subsets_report_differentials(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["roc", "--subset", "young_women", "--subset", "ordinary", "--data", str(JP_FACES),
         "--model", "dlib", "--sample", "25", "--bootstrap", "0", "--out", str(tmp_path / "o"),
         "--threshold", "default"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    results = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    diff = results["differentials"]
    assert diff["reference"] == "ordinary" and diff["grouping"] == "subsets"
    block = diff["models"]["dlib"]
    assert block["threshold"] == pytest.approx(0.6)
    scores = pd.read_csv(tmp_path / "o" / "scores.csv")
    assert set(scores["subset"]) == {"young_women", "ordinary"}
    # Every group's counts are those of its rows in scores.csv at the reported threshold.
    for row in block["groups"]:
        rows = scores[scores["subset"] == row["group"]]
        accepted = -rows["dlib"] <= block["threshold"]  # scores are negated distances
        assert row["fmr"]["n"] == int((rows["label"] == 0).sum())
        assert row["fmr"]["errors"] == int((accepted & (rows["label"] == 0)).sum())
        assert row["fnmr"]["n"] == int((rows["label"] == 1).sum())
        assert row["fnmr"]["errors"] == int((~accepted & (rows["label"] == 1)).sum())
    assert "inf" not in (tmp_path / "o" / "results.json").read_text(encoding="utf-8").lower()
    assert "∞" not in result.stdout
    assert "differentials at the model's default threshold" in " ".join(result.stdout.split())


def test_deepface_full_photos_with_detection(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["roc", "--subset", "all", "--data", str(DEEPFACE), "--align", "detect",
         "--model", "dlib", "--bootstrap", "0", "--out", str(tmp_path / "d"),
         "--multi-face", "fail"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    results = json.loads((tmp_path / "d" / "results.json").read_text(encoding="utf-8"))
    dlib = results["subsets"][0]["models"][0]
    # One photo shows a second, small face: under --multi-face fail it is a recorded failure.
    reasons = {f["reason"] for f in dlib["failures"]}
    assert dlib["n_failures"] == len(dlib["failures"]) >= 1
    assert reasons <= {"multiple_faces", "no_face"}
    assert "failures to enrol" in result.stdout
    assert results["subsets"][0]["pairs"]["excluded_images"] == dlib["n_failures"]


def test_missing_japanese_face_weights_skip_quietly(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--sample", "12",
         "--bootstrap", "0", "--out", str(tmp_path / "m")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # Nobody asked for japanese-face-v1: not a word on the terminal, the details in results.json.
    assert "japanese-face-v1" not in result.output
    saved = json.loads((tmp_path / "m" / "results.json").read_text(encoding="utf-8"))
    message = " ".join(saved["skipped_models"])
    assert "japanese-face-v1" in message and "FACE_BENCH_JAPANESE_FACE_V1" in message
    assert "JAPANESE_FACE_v1.onnx" in message and "FACE01_trained_models" in message
    assert "--weights japanese-face-v1=PATH" in message


def test_random_pairs_are_seeded(tmp_path: Path) -> None:
    args = ["roc", "--subset", "ordinary", "--data", str(JP_FACES), "--model", "dlib",
            "--sample", "30", "--sample-pairs", "100", "--bootstrap", "0"]  # fmt: skip
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert first.exit_code == second.exit_code == 0
    a = pd.read_csv(tmp_path / "a" / "scores.csv")
    assert len(a) == 100
    assert a.equals(pd.read_csv(tmp_path / "b" / "scores.csv"))
    assert np.all(a["image_a"] < a["image_b"])


def test_cached_run_imports_neither_dlib_nor_onnxruntime(young_women_run: dict) -> None:
    """With every embedding cached, the run needs no model runtime (only matplotlib, to draw)."""
    import subprocess
    import sys

    root = young_women_run["root"]
    args = [*young_women_run["common"], "--out", str(root / "imports"),
            "--cache-dir", str(young_women_run["cache"])]  # fmt: skip
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from face_bench.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['roc', *{args!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('dlib', 'onnxruntime', 'umap') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
