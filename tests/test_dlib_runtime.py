"""Choosing where dlib's descriptor runs: onnxruntime by default, dlib's own code on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.config import Config, load_config
from face_bench.core.errors import ConfigError
from face_bench.embedding.cache import model_key
from face_bench.models.backends import make_spec, preprocessing
from face_bench.models.dlib_backend import on_own_runtime
from face_bench.models.registry import BUILTIN_MODELS, build_registry, runtime_notes

runner = CliRunner()
SAME_A = JP_FACES / "images/安倍晋三/安倍晋三_1.png"
SAME_B = JP_FACES / "images/安倍晋三/安倍晋三_10.png"
OTHER = JP_FACES / "images/Audrey Hepburn/Audrey Hepburn_1.png"


def test_dlib_runs_on_onnxruntime_by_default() -> None:
    dlib = BUILTIN_MODELS["dlib"]
    assert dlib.runtime == "onnx" and not on_own_runtime(dlib)
    assert BUILTIN_MODELS["japanese-face-v1"].runtime == "onnx"


def test_runtime_is_part_of_the_cache_key() -> None:
    onnx = BUILTIN_MODELS["dlib"]
    own = onnx.model_copy(update={"runtime": "dlib"})
    assert preprocessing(onnx)["runtime"].startswith("onnx")
    assert preprocessing(own)["runtime"] == "dlib"
    assert model_key(preprocessing(onnx)) != model_key(preprocessing(own))
    assert "runtime" not in preprocessing(BUILTIN_MODELS["japanese-face-v1"])


def test_jitter_stays_on_dlib_with_a_note() -> None:
    jitter = BUILTIN_MODELS["dlib"].model_copy(update={"name": "dlib-jitter", "num_jitters": 10})
    assert on_own_runtime(jitter)
    assert preprocessing(jitter)["runtime"] == "dlib"
    (note,) = runtime_notes([jitter, BUILTIN_MODELS["dlib"]])
    assert note.startswith("dlib-jitter: num_jitters = 10 runs on dlib's own runtime")
    # num_jitters = 1 is no jitter in dlib, so it stays on onnxruntime.
    assert not on_own_runtime(BUILTIN_MODELS["dlib"].model_copy(update={"num_jitters": 1}))


def test_onnx_models_have_no_dlib_runtime() -> None:
    with pytest.raises(ValueError, match="only applies to backend = 'dlib'"):
        make_spec("x", {"backend": "onnx", "threshold": 0.4, "runtime": "dlib"})


def test_toml_table_without_backend_adjusts_the_builtin(tmp_path: Path) -> None:
    config = tmp_path / "face-bench.toml"
    config.write_text('[models.dlib]\nruntime = "dlib"\n', encoding="utf-8")
    spec = build_registry(load_config(config), {}, tmp_path).get("dlib")
    assert on_own_runtime(spec)
    assert spec.model_dump(exclude={"runtime"}) == BUILTIN_MODELS["dlib"].model_dump(
        exclude={"runtime"}
    )
    config.write_text('[models.dlib]\nruntime = "tensorflow"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[models.dlib\] runtime"):
        build_registry(load_config(config), {}, tmp_path)


def test_flag_overrides_every_dlib_model(tmp_path: Path) -> None:
    registry = build_registry(Config(), {}, tmp_path, dlib_runtime="dlib")
    assert on_own_runtime(registry.get("dlib"))
    assert registry.get("japanese-face-v1").runtime == "onnx"
    with pytest.raises(ConfigError, match="'onnx' or 'dlib'"):
        build_registry(Config(), {}, tmp_path, dlib_runtime="cuda")
    result = runner.invoke(app, ["models", "--dlib-runtime", "cuda"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["models", "--dlib-runtime", "dlib", "--format", "json"])
    assert result.exit_code == 0, result.output
    (dlib,) = [row for row in json.loads(result.stdout) if row["name"] == "dlib"]
    assert dlib["spec"]["runtime"] == "dlib" and dlib["status"] == "ready"


def _compare(runtime: str, cache: Path) -> dict:
    images = [str(SAME_A), str(SAME_B), str(OTHER)]
    args = ["compare", *images, "--model", "dlib", "--dlib-runtime", runtime]
    result = runner.invoke(app, [*args, "--format", "json", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@needs_shared
@pytest.mark.slow
def test_both_runtimes_give_the_same_scores_from_separate_caches(tmp_path: Path) -> None:
    onnx = _compare("onnx", tmp_path)
    own = _compare("dlib", tmp_path)
    assert [p["verdict"] for p in onnx["pairs"]] == [p["verdict"] for p in own["pairs"]]
    scores = np.asarray([[p["score"] for p in run["pairs"]] for run in (onnx, own)])
    assert np.abs(scores[0] - scores[1]).max() <= 1e-5
    folders = sorted((tmp_path / "embeddings").iterdir())
    runtimes = set()
    for folder in folders:
        identity = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        runtimes.add(identity.get("preprocessing", {}).get("runtime"))
    assert {"dlib", "onnx-c1"} <= runtimes  # one cache folder per runtime, never mixed
    assert len(list((tmp_path / "models").glob("dlib_face_recognition_resnet_model_v1-*.onnx")))
