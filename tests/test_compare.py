"""`face-bench compare`: every pair of a few photos, per model, with a verdict or a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ImageError
from face_bench.run.compare import similarity_percent

runner = CliRunner()
SAME_A = JP_FACES / "images/安倍晋三/安倍晋三_1.png"
SAME_B = JP_FACES / "images/安倍晋三/安倍晋三_10.png"
OTHER = JP_FACES / "images/Audrey Hepburn/Audrey Hepburn_1.png"


def _compare(args: list[str], config: Path, cache: Path):
    return runner.invoke(
        app, ["compare", *args, "--config", str(config), "--cache-dir", str(cache)]
    )


def test_percent_is_monotone_and_bounded() -> None:
    assert similarity_percent(1.0, "cosine") == 100.0
    assert similarity_percent(-1.0, "cosine") == 0.0
    assert similarity_percent(0.4, "cosine") == pytest.approx(70.0)
    assert similarity_percent(0.0, "euclidean") == 100.0
    assert similarity_percent(0.6, "euclidean") == pytest.approx(70.0)
    assert similarity_percent(2.5, "euclidean") == 0.0
    cos = [similarity_percent(s, "cosine") for s in (-0.5, 0.0, 0.3, 0.9)]
    dist = [similarity_percent(d, "euclidean") for d in (1.2, 0.8, 0.5, 0.1)]
    assert cos == sorted(cos) and dist == sorted(dist)  # more alike -> higher, both kinds
    with pytest.raises(ValueError):
        similarity_percent(0.5, "manhattan")


@needs_shared
@pytest.mark.slow
def test_three_images_give_three_pairs_per_model(standin_config: Path, session_cache: Path) -> None:
    images = [str(SAME_A), str(SAME_B), str(OTHER)]
    args = [*images, "--model", "dlib", "--model", "standin"]
    result = _compare([*args, "--format", "json"], standin_config, session_cache)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["name"] for m in data["models"]] == ["dlib", "standin"]
    for model in ("dlib", "standin"):
        rows = [p for p in data["pairs"] if p["model"] == model]
        assert len(rows) == 3
        assert {(r["image_a"], r["image_b"]) for r in rows} == {
            (images[0], images[1]),
            (images[0], images[2]),
            (images[1], images[2]),
        }
        for row in rows:
            assert row["verdict"] in ("same person", "different person")
            assert 0.0 <= row["percent"] <= 100.0
            accept = row["score"] <= 0.6 if model == "dlib" else row["score"] >= 0.4
            assert row["same_person"] is accept
    dlib = {(r["image_a"], r["image_b"]): r for r in data["pairs"] if r["model"] == "dlib"}
    # Two photos of one man against a photo of a woman: dlib tells them apart.
    assert dlib[(images[0], images[1])]["verdict"] == "same person"
    assert dlib[(images[0], images[2])]["verdict"] == "different person"
    assert "not a probability" in data["similarity_percent"]

    table = _compare(args, standin_config, session_cache)
    assert table.exit_code == 0, table.output
    assert table.stdout.count("same person") + table.stdout.count("different person") >= 6
    assert "distance" in table.stdout and "cosine" in table.stdout
    assert "not a probability" in table.stdout


@needs_shared
@pytest.mark.slow
def test_missing_image_gets_a_failure_row(
    standin_config: Path, session_cache: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nobody.png"
    odd = tmp_path / "[bold]odd.png"  # Rich markup in a file name must print as is
    shutil.copyfile(SAME_A, odd)
    args = [str(odd), str(SAME_B), str(missing), "--model", "standin"]
    result = _compare([*args, "--format", "json"], standin_config, session_cache)
    assert result.exit_code == ImageError.exit_code
    assert "could not be used" in result.stderr
    data = json.loads(result.stdout)
    rows = {(p["image_a"], p["image_b"]): p for p in data["pairs"]}
    assert rows[(str(odd), str(SAME_B))]["verdict"] in ("same person", "different person")
    for key in ((str(odd), str(missing)), (str(SAME_B), str(missing))):
        assert rows[key]["verdict"] == "cannot compare"
        assert rows[key]["score"] is None
        assert str(missing) in rows[key]["problem"] and "missing" in rows[key]["problem"]
    assert data["failures"][str(missing)]["standin"]["reason"] == "missing"

    table = _compare(args, standin_config, session_cache)
    assert table.exit_code == ImageError.exit_code
    flat = " ".join(table.stdout.split())
    assert "cannot compare" in flat and "missing" in flat
    assert "[bold]odd" in table.stdout


def test_one_image_is_a_usage_error(standin_config: Path, tmp_path: Path) -> None:
    result = _compare([str(SAME_A)], standin_config, tmp_path / "cache")
    assert result.exit_code == 2
    assert "at least two images" in result.stderr
