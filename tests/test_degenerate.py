"""Embeddings that cannot be compared are failures to enrol; a model that says one thing to
everyone is broken. Neither may turn into an AUC of 0.5 with exit 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ModelError, ModelShapeError
from face_bench.core.records import CacheEntry
from face_bench.embedding.pipeline import (
    Embeddings,
    _finalise,
    _record,
    check_not_constant,
    degenerate,
)

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

runner = CliRunner()


@pytest.mark.parametrize(
    "vector",
    [np.zeros(8), np.full(8, np.nan), np.array([1.0, np.inf]), np.full(4, 1e-30), np.array([])],
    ids=["zero", "nan", "inf", "tiny", "empty"],
)
def test_degenerate_vectors_fail_to_enrol(vector):
    result = Embeddings("m", np.empty((1, 0), np.float32))
    _record(result, 0, CacheEntry(vector.astype(np.float32)))
    assert result.failures[0][0] == "degenerate_embedding"
    assert degenerate(vector) is not None


def test_ordinary_vector_is_kept():
    result = Embeddings("m", np.empty((1, 0), np.float32))
    _record(result, 0, CacheEntry(np.array([0.0, 1e-3, 0.0], np.float32)))
    assert 0 in result.rows and not result.failures


def _with_rows(rows: list[np.ndarray]) -> Embeddings:
    result = Embeddings("broken", np.empty((len(rows), 0), np.float32))
    result.rows = {i: np.asarray(v, np.float32) for i, v in enumerate(rows)}
    return result


def test_constant_model_is_refused_by_name():
    rows = [np.array([1.0, 2.0, 3.0]) + 1e-9 * i for i in range(5)]
    with pytest.raises(ModelError, match=r"'broken'.*same embedding"):
        check_not_constant(_with_rows(rows), [f"h{i}" for i in range(5)])


def test_identical_files_may_share_a_vector():
    rows = [np.array([1.0, 2.0, 3.0])] * 5
    check_not_constant(_with_rows(rows), ["same"] * 4 + ["other"])  # two distinct contents


def test_varied_vectors_pass():
    rows = list(np.random.default_rng(0).standard_normal((5, 8)))
    check_not_constant(_with_rows(rows), [f"h{i}" for i in range(5)])


def test_mixed_widths_are_a_clear_error_not_a_crash():
    with pytest.raises(ModelShapeError, match="different widths"):
        _finalise(_with_rows([np.ones(4), np.ones(4), np.ones(6)]))


# ------------------------------------------------------------ end to end with ONNX models


def _model(path: Path, kind: str) -> Path:
    """[n,3,32,32] -> [n,3]: zeros, or one constant vector for every input."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "shift"], ["y"]),
    ]
    shift = {"zero": [0.0] * 3, "nan": [float("nan")] * 3}.get(kind, [1.0, 2.0, 3.0])
    inits = [
        helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
        helper.make_tensor("shift", TensorProto.FLOAT, [3], shift),
    ]
    graph = helper.make_graph(nodes, kind, [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _config(tmp_path: Path, kind: str) -> Path:
    weights = _model(tmp_path / f"{kind}.onnx", kind)
    path = tmp_path / "face-bench.toml"
    path.write_text(
        f'[models.{kind}]\nbackend = "onnx"\npath = "{weights.as_posix()}"\n'
        'input_size = [32, 32]\nembedding_size = 3\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    return path


@needs_shared
@pytest.mark.parametrize("kind", ["zero", "nan", "constant"])
def test_broken_model_never_reports_a_number(tmp_path, kind):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["roc", "--data", str(JP_FACES), "--model", kind, "--sample", "12", "--seed", "1",
         "--bootstrap", "0", "--workers", "1", "--align", "none",
         "--config", str(_config(tmp_path, kind)), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert not (out / "results.json").exists()
    if kind == "constant":
        assert result.exit_code == ModelError.exit_code
        assert "same embedding" in result.output
    else:
        # The one line names the model and why every image failed, not only "no pair left".
        error = result.stderr.strip().splitlines()[-1]
        vector = "a zero vector" if kind == "zero" else "NaN or inf"
        assert error.startswith("face-bench: error: subset 'all': no pair left after excluding")
        assert f"model {kind!r} failed on 12 of 12 image(s)" in error
        assert f"(degenerate_embedding: the model returned {vector})" in error
