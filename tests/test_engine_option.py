"""``--engine``: the local engine needs nothing more; Ray's absence is one clear line."""

from __future__ import annotations

import sys

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app


@pytest.mark.parametrize("command", ["roc", "threshold-sweep", "umap", "report", "lfw", "compare"])
def test_every_embedding_command_offers_the_engine(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--engine" in result.output and "--ray-address" in result.output


@needs_shared
def test_engine_ray_without_ray_installed_fails_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    cache = tmp_path / "cache"
    args = ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib"]
    args += ["--sample", "4", "--cache-dir", str(cache), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--engine", "ray"])
    assert result.exit_code == 35
    assert "pip install 'face-bench[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (cache / "embeddings").exists()  # nothing was embedded
