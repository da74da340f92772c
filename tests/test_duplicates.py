"""Byte-identical images: reported, and never scored as impostors by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import DatasetError
from face_bench.core.modes import Duplicates
from face_bench.data.datasets import make_pairs
from face_bench.run.duplicates import apply_policy

runner = CliRunner()
PATHS = ["a/1.png", "a/2.png", "b/1.png", "b/2.png", "c/1.png"]
IDS = ["a", "a", "b", "b", "c"]
HASHES = ["h1", "h1", "h1", "h3", "h4"]  # a/1 = a/2 (same person) = b/1 (another person)


def test_cross_identity_duplicates_leave_the_impostors():
    pairs = make_pairs(np.array(IDS))
    kept, report = apply_policy("s", PATHS, IDS, HASHES, pairs, "exclude")
    assert report.groups == [["a/1.png", "a/2.png", "b/1.png"]]
    assert report.cross_identity == 1 and report.excluded_pairs == 2  # a/1-b/1, a/2-b/1
    assert len(kept) == len(pairs) - 2 and kept.n_genuine == pairs.n_genuine
    assert "byte-identical" in report.note


def test_keep_scores_them_and_error_refuses():
    pairs = make_pairs(np.array(IDS))
    kept, report = apply_policy("s", PATHS, IDS, HASHES, pairs, "keep")
    assert len(kept) == len(pairs) and "--duplicates keep" in report.note
    with pytest.raises(DatasetError, match="identical images under different identities"):
        apply_policy("s", PATHS, IDS, HASHES, pairs, "error")


def test_same_identity_duplicates_are_reported_and_kept():
    hashes = ["h1", "h1", "h2", "h3", "h4"]
    pairs = make_pairs(np.array(IDS))
    kept, report = apply_policy("s", PATHS, IDS, hashes, pairs, "error")
    assert len(kept) == len(pairs) and report.groups == [["a/1.png", "a/2.png"]]


@pytest.fixture
def copied_set(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    sources = {"p1": "尾野真千子", "p2": "麻生久美子", "p3": "Audrey Hepburn"}
    for person, source in sources.items():
        (root / person).mkdir(parents=True)
        for image in sorted((JP_FACES / "images" / source).glob("*.png"))[:3]:
            shutil.copy(image, root / person / image.name)
    first = sorted((root / "p1").iterdir())[0]
    shutil.copy(first, root / "p2" / "copy.png")  # the same photo under another person
    (root / "p3" / "link.png").symlink_to(first)  # and again through a symlink
    return root


def _roc(data: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(
        app,
        ["roc", "--data", str(data), "--model", "standin", "--align", "none", "--bootstrap",
         "0", "--workers", "1", "--config", str(config), "--out", str(out), *extra],
    )  # fmt: skip


@needs_shared
def test_duplicates_through_a_run(copied_set, standin_config, tmp_path):
    excluded = _roc(copied_set, tmp_path / "ex", standin_config)
    assert excluded.exit_code == 0, excluded.output
    assert "byte-identical" in excluded.output
    subset = json.loads((tmp_path / "ex" / "results.json").read_text())["subsets"][0]
    assert len(subset["duplicates"]) == 1 and len(subset["duplicates"][0]) == 3
    assert any("byte-identical" in n for n in subset["notes"])
    kept = _roc(copied_set, tmp_path / "keep", standin_config, "--duplicates", Duplicates.KEEP)
    kept_subset = json.loads((tmp_path / "keep" / "results.json").read_text())["subsets"][0]
    # three copies under three people: three impostor pairs at distance 0, left out by default
    assert kept_subset["pairs"]["n_impostor"] - subset["pairs"]["n_impostor"] == 3
    assert kept.exit_code == 0
    refused = _roc(copied_set, tmp_path / "err", standin_config, "--duplicates", "error")
    assert refused.exit_code == DatasetError.exit_code
    assert "Traceback" not in refused.output
