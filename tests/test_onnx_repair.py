"""Tests for face_bench.models.onnx_repair: exports as they ship, mended in memory.

Small graphs built with the ``onnx`` package show each defect alone (an unused graph
input, weights listed as inputs, block_size on per-tensor scales); the shipped SFace and
YuNet files from ../shared are checked end to end, and left byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.faces.locate import FaceSettings
from face_bench.models import onnx_repair
from face_bench.models.onnx_backend import OnnxModel, make_session, to_tensor
from face_bench.models.onnx_repair import dequantize, graph_changes, repair_graph
from face_bench.models.registry import ModelSpec
from face_bench.run.embed import _model_identity

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

runner = CliRunner()
MODELS = SHARED / "models"
SFACE = MODELS / "sface_128.onnx"
SFACE_SHIPPED = MODELS / "sface_2021dec_int8bq_as_shipped.onnx"
YUNET_INT8 = MODELS / "yunet_2023mar_int8bq.onnx"
YUNET_FP32 = MODELS / "yunet_2023mar_fp32.onnx"
needs_sface = pytest.mark.skipif(
    not (SFACE.is_file() and SFACE_SHIPPED.is_file()), reason="../shared SFace files not present"
)
needs_yunet = pytest.mark.skipif(
    not (YUNET_INT8.is_file() and YUNET_FP32.is_file()), reason="../shared YuNet not present"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_leftover_inputs(src: Path, dst: Path) -> Path:
    """The tiny model with an input no node reads and a weight listed as a graph input."""
    model = onnx.load(str(src))
    graph = model.graph
    graph.input.append(helper.make_tensor_value_info("stale_weight", TensorProto.FLOAT, [4, 4]))
    weight = graph.initializer[0]
    graph.input.append(
        helper.make_tensor_value_info(weight.name, weight.data_type, list(weight.dims))
    )
    onnx.save(model, str(dst))
    return dst


def blocked_per_tensor(dst: Path) -> tuple[Path, np.ndarray]:
    """x + dequantized weight, where the weight's DequantizeLinear has block_size on a scalar
    scale (as the shipped YuNet has): onnxruntime refuses it when it runs."""
    quantized = np.arange(-8, 8, dtype=np.int8).reshape(4, 4)
    scale, zero = np.float32(0.25), np.int8(3)
    graph = helper.make_graph(
        [
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], axis=1, block_size=4),
            helper.make_node("Add", ["x", "w"], ["y"]),
        ],
        "blocked",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])],
        [
            numpy_helper.from_array(quantized, "q"),
            numpy_helper.from_array(np.array(scale), "s"),
            numpy_helper.from_array(np.array(zero), "z"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, str(dst))
    return dst, (quantized.astype(np.float32) - 3) * np.float32(0.25)


@needs_shared
def test_leftover_inputs_are_dropped_in_memory_and_the_file_is_untouched(tmp_path):
    path = with_leftover_inputs(TINY_ONNX, tmp_path / "leftovers.onnx")
    before = sha256(path)
    repair = repair_graph(path)
    assert len(repair.changes) == 2 and "no node reads: 'stale_weight'" in repair.changes[0]
    assert "initializers" in repair.changes[1]
    session = make_session(path, threads=1)
    assert [i.name for i in session.get_inputs()] == ["input"]
    spec = ModelSpec(name="m", backend="onnx", threshold=0.4, embedding_size=512)
    images = [np.full((224, 224, 3), v, dtype=np.uint8) for v in (10, 200)]
    tensor = to_tensor(images, spec)
    mended = OnnxModel(spec, path, threads=1).infer(tensor)
    clean = OnnxModel(spec, TINY_ONNX, threads=1).infer(tensor)
    np.testing.assert_array_equal(mended, clean)
    assert sha256(path) == before


@needs_shared
def test_a_clean_export_is_loaded_as_it_is():
    assert repair_graph(TINY_ONNX).data is None and repair_graph(TINY_ONNX).changes == ()


def test_block_size_on_a_per_tensor_scale_is_dequantized_to_float_weights(tmp_path):
    path, weight = blocked_per_tensor(tmp_path / "blocked.onnx")
    ort = pytest.importorskip("onnxruntime")
    raw = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.ones((4, 4), dtype=np.float32)
    with pytest.raises(Exception, match="block_size"):
        raw.run(None, {"x": x})
    repair = repair_graph(path)
    assert repair.changes and "dequantized 1 DequantizeLinear" in repair.changes[0]
    out = make_session(path, threads=1).run(None, {"x": x})[0]
    np.testing.assert_allclose(out, x + weight, rtol=0, atol=1e-7)


def test_dequantize_follows_per_axis_and_blocked_scales():
    quantized = np.arange(12, dtype=np.int8).reshape(2, 6)
    per_axis = dequantize(quantized, np.array([1.0, 2.0], np.float32), None, 0, 0)
    np.testing.assert_array_equal(per_axis, quantized * np.array([[1.0], [2.0]], np.float32))
    scale = np.array([[1.0, 10.0], [2.0, 20.0]], np.float32)  # blocks of 4 along axis 1
    zero = np.array([[1, 2], [3, 4]], np.int8)
    blocked = dequantize(quantized, scale, zero, 1, 4)
    expected_scale = np.array([[1, 1, 1, 1, 10, 10], [2, 2, 2, 2, 20, 20]], np.float32)
    expected_zero = np.array([[1, 1, 1, 1, 2, 2], [3, 3, 3, 3, 4, 4]], np.float32)
    np.testing.assert_array_equal(blocked, (quantized - expected_zero) * expected_scale)
    assert blocked.dtype == np.float32


@needs_sface
def test_sface_as_shipped_runs_with_only_its_image_input_like_the_cleaned_file():
    before = sha256(SFACE_SHIPPED)
    shipped_spec = ModelSpec(
        name="sface-shipped", backend="onnx", threshold=0.32, input_size=(112, 112),
        scale=1.0, embedding_size=128, alignment="arcface", chip_size=112,
    )  # fmt: skip
    shipped = OnnxModel(shipped_spec, SFACE_SHIPPED, threads=1)
    assert shipped.io.input_name == "data" and shipped.io.batch == 1
    clean = OnnxModel(shipped_spec.model_copy(update={"name": "sface"}), SFACE, threads=1)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(3)]
    tensor = to_tensor(images, shipped_spec)
    np.testing.assert_allclose(shipped.infer(tensor), clean.infer(tensor), rtol=0, atol=1e-5)
    assert sha256(SFACE_SHIPPED) == before


@needs_sface
def test_the_cache_key_names_the_shipped_file_and_what_was_changed(tmp_path):
    spec = ModelSpec(name="sface", backend="onnx", threshold=0.32, input_size=(112, 112))
    shipped = _model_identity(spec, SFACE_SHIPPED, FaceSettings(), tmp_path)
    clean = _model_identity(spec, SFACE, FaceSettings(), tmp_path)
    assert shipped["weights_sha256"] == sha256(SFACE_SHIPPED)
    assert any("no node reads" in change for change in shipped["graph_changes"])
    assert "graph_changes" not in clean


@needs_yunet
def test_shipped_yunet_runs_after_dequantizing_and_matches_the_float_export():
    before = sha256(YUNET_INT8)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)
    mended = make_session(YUNET_INT8, threads=1).run(None, {"input": x})
    reference = make_session(YUNET_FP32, threads=1).run(None, {"input": x})
    for got, want in zip(mended, reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert sha256(YUNET_INT8) == before


@needs_sface
def test_models_inspect_says_what_it_changed_in_memory():
    result = runner.invoke(app, ["models", "--inspect", str(SFACE_SHIPPED), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [i["name"] for i in data["inputs"]] == ["data"]
    assert any("dropped 29 graph input(s)" in c for c in data["changed_in_memory"])
    table = runner.invoke(app, ["models", "--inspect", str(SFACE_SHIPPED)])
    assert "Changed in memory before running (the file is left as it is)" in table.stdout


@needs_yunet
def test_models_inspect_of_the_shipped_yunet_says_it_dequantized():
    result = runner.invoke(app, ["models", "--inspect", str(YUNET_INT8), "--format", "json"])
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changed_in_memory"]
    assert len(changes) == 1 and "per-tensor or per-axis scales" in changes[0]


@needs_sface
def test_the_changes_are_remembered_by_digest_so_a_rerun_parses_nothing(tmp_path, monkeypatch):
    digest = sha256(SFACE_SHIPPED)
    first = graph_changes(SFACE_SHIPPED, digest, tmp_path)
    assert first == repair_graph(SFACE_SHIPPED).changes

    def no_parse(path):
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(onnx_repair, "repair_graph", no_parse)
    assert graph_changes(SFACE_SHIPPED, digest, tmp_path) == first
    with pytest.raises(AssertionError, match="parsed"):
        graph_changes(SFACE_SHIPPED, "another digest", tmp_path)


@needs_shared
def test_the_quick_read_answers_as_the_full_parse_or_defers_to_it(tmp_path):
    """``runs_as_is`` (no ``onnx`` import) is True only where the parse changes nothing."""
    leftovers = with_leftover_inputs(TINY_ONNX, tmp_path / "leftovers.onnx")
    blocked, _weight = blocked_per_tensor(tmp_path / "blocked.onnx")
    assert onnx_repair.runs_as_is(TINY_ONNX.read_bytes())
    for path in (leftovers, blocked):
        assert not onnx_repair.runs_as_is(path.read_bytes())
        assert onnx_repair._repair_bytes(path.read_bytes()).changes
    for raw in (b"", b"not a graph", TINY_ONNX.read_bytes()[:-7]):
        assert not onnx_repair.runs_as_is(raw)
    for path in sorted(MODELS.glob("*.onnx")):
        if onnx_repair.runs_as_is(path.read_bytes()):
            assert onnx_repair._repair_bytes(path.read_bytes()) == onnx_repair.GraphRepair(None, ())


@needs_shared
def test_a_clean_export_is_loaded_without_parsing_it(monkeypatch, tmp_path):
    copy = tmp_path / "clean.onnx"
    copy.write_bytes(TINY_ONNX.read_bytes())

    def parsed(_raw):
        raise AssertionError("a graph that needs no mending was parsed with onnx")

    monkeypatch.setattr(onnx_repair, "_repair_bytes", parsed)
    assert repair_graph(copy) == onnx_repair.GraphRepair(None, ())
