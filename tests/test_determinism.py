"""Same inputs and seed, same bytes: across runs, processes, hash seeds, worker counts and caches.

Only the ``volatile`` block of results.json may differ. Runs read real crops in place
from ../shared with dlib and the tiny ONNX stand-in, sampling two subsets with
bootstrap intervals on, so sampling, pairing, scoring and resampling are all covered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import JP_FACES, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app

pytestmark = [needs_shared, pytest.mark.slow]


def args(tmp: Path, cache: Path, out: Path, workers: int) -> list[str]:
    config = tmp / "face-bench.toml"
    if not config.exists():
        config.write_text(
            f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
            'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
            encoding="utf-8",
        )
    return ["roc", "--data", str(JP_FACES), "-d", "young_women", "-d", "ordinary",
            "--sample", "7", "--seed", "4", "--bootstrap", "40", "--model", "dlib",
            "--model", "standin", "--config", str(config), "--cache-dir", str(cache),
            "--out", str(out), "--workers", str(workers), "--threshold", "far:0.05"]  # fmt: skip


def stable(out: Path) -> tuple[bytes, bytes]:
    """results.json without its final ``volatile`` block, and scores.csv, as bytes."""
    text = (out / "results.json").read_text(encoding="utf-8")
    assert list(json.loads(text))[-1] == "volatile"
    return text[: text.index('\n  "volatile": {')].encode(), (out / "scores.csv").read_bytes()


def volatile(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["volatile"]


def test_runs_are_byte_identical_across_workers_processes_and_caches(tmp_path):
    # 2 workers in another process with its own hash seed, 1 worker here; fresh caches.
    command = args(tmp_path, tmp_path / "cache2", tmp_path / "w2", 2)
    other = subprocess.Popen(
        [sys.executable, "-m", "face_bench", *command],
        cwd=tmp_path,
        env={**os.environ, "PYTHONHASHSEED": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    runner = CliRunner()
    here = runner.invoke(app, args(tmp_path, tmp_path / "cache1", tmp_path / "w1", 1))
    _, err = other.communicate(timeout=300)
    assert here.exit_code == 0, here.stderr
    assert other.returncode == 0, err
    # A third run with everything served from the 2-worker run's cache.
    warm = runner.invoke(app, args(tmp_path, tmp_path / "cache2", tmp_path / "warm", 2))
    assert warm.exit_code == 0, warm.stderr

    one, two, cached = (tmp_path / name for name in ("w1", "w2", "warm"))
    n = volatile(one)["embeddings_computed"]["dlib"]
    assert n >= 8 and volatile(two)["embeddings_computed"] == {"dlib": n, "standin": n}
    assert volatile(cached)["embeddings_computed"] == {"dlib": 0, "standin": 0}
    assert stable(one) == stable(two) == stable(cached)
    results = json.loads((one / "results.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in results["subsets"]] == ["young_women", "ordinary"]
    assert results["differentials"]["models"]
    ci = results["subsets"][0]["models"][0]["metrics"]["ci"]["roc_auc"]
    assert ci["n_boot"] == 40 and ci["lower"] is not None
