"""Blocked all-pairs scoring gives the same scores as explicit pairs, without pair arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.core.errors import ModelError
from face_bench.data.datasets import make_pairs
from face_bench.data.pairset import from_local
from face_bench.embedding.pipeline import Embeddings
from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
from face_bench.run import subset_scores

COSINE = ModelSpec(name="c", backend="onnx", similarity="cosine", threshold=0.4)


def _embeddings(n: int, dim: int, failed: set[int]) -> Embeddings:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors[list(failed)] = np.nan
    return Embeddings("m", vectors, {i: ("no_face", "") for i in failed})


@pytest.mark.parametrize("spec", [COSINE, BUILTIN_MODELS["dlib"]], ids=["cosine", "euclidean"])
@pytest.mark.parametrize("on_fail", ["exclude", "reject"])
def test_blocked_equals_explicit(spec: ModelSpec, on_fail: str) -> None:
    n = 40
    images = pd.DataFrame(
        {"path": [f"{i}.png" for i in range(n)], "identity": [i % 7 for i in range(n)]}
    )
    emb = _embeddings(n, 16, failed={3, 17})
    rows = np.arange(n)
    specs = {"m": spec}
    listed = from_local(make_pairs(images["identity"].to_numpy()), rows, "all")
    every = from_local(None, rows, "all")
    explicit = subset_scores.score_pairset("s", images, listed, {"m": emb}, specs, on_fail)
    blocked = subset_scores.score_pairset("s", images, every, {"m": emb}, specs, on_fail)
    a, b = explicit.scores["m"], blocked.scores["m"]
    assert not b.per_pair and blocked.pairs.implicit
    assert np.array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-5)


def test_use_blocks_only_for_large_all_pairs() -> None:
    big = 4000  # 7,998,000 pairs
    assert subset_scores.use_blocks(big, None, from_file=False)
    assert not subset_scores.use_blocks(big, 10_000, from_file=False)
    assert not subset_scores.use_blocks(big, None, from_file=True)
    assert not subset_scores.use_blocks(300, None, from_file=False)


@pytest.mark.slow
@needs_shared
def test_blocked_run_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A run above the per-pair limit writes results and figures but no per-pair files."""
    from face_bench.cli.app import app

    monkeypatch.setattr(subset_scores, "BLOCKED_ABOVE", 100)
    monkeypatch.setattr("face_bench.run.evaluation.BLOCKED_ABOVE", 100)
    result = CliRunner().invoke(
        app,
        ["threshold-sweep", "--subset", "young_women", "--data", str(JP_FACES), "--model",
         "dlib", "--sample", "20", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "o"
    assert not (out / "scores.csv").exists()
    assert (out / "roc.png").is_file() and (out / "sweep.png").is_file()
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    subset = results["subsets"][0]
    assert subset["pairs"]["n_genuine"] + subset["pairs"]["n_impostor"] == 190
    assert any("scored in blocks" in note for note in subset["notes"])
    assert "ci" not in subset["models"][0]["metrics"]


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "all-pairs"])
def test_a_subset_that_lost_its_images_says_why(listed: bool) -> None:
    """Every image lost (e.g. every worker crashed): the error counts the reasons."""
    n = 6
    images = pd.DataFrame({"path": [f"{i}.png" for i in range(n)], "identity": [0, 0, 1, 1, 2, 2]})
    vectors = np.full((n, 4), np.nan, dtype=np.float32)
    emb = Embeddings("m", vectors, {i: ("worker_crashed", "") for i in range(n)})
    rows = np.arange(n)
    planned = from_local(make_pairs(images["identity"].to_numpy()) if listed else None, rows, "all")
    with pytest.raises(ModelError, match=r"model .m. failed on 6 of 6 image\(s\) \(worker_crashed"):
        subset_scores.score_pairset("s", images, planned, {"m": emb}, {"m": COSINE}, "exclude")
