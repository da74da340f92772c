"""Tests for face_bench.models.onnx_backend and ``face-bench models --inspect``: real exports.

Exported face models differ from the NCHW single-output graph face-bench started with:
NHWC layouts, several outputs, a fixed batch of 1, symbolic spatial sizes. The variants
here are built from the tiny stand-in with the ``onnx`` package, so each test names the
exact graph it covers; the real NHWC export of HSE FaceRec is checked end to end too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, SHARED, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ModelShapeError
from face_bench.models.backends import preprocessing
from face_bench.models.onnx_backend import OnnxModel, check_io, make_session, to_tensor
from face_bench.models.onnx_inspect import describe_onnx, suggest_toml
from face_bench.models.registry import ModelSpec

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

runner = CliRunner()
HSE = SHARED / "models" / "hse_faceres_1024.onnx"
HSE_RAW = SHARED / "models" / "hse_faceres_raw_nhwc.onnx"


def spec(**fields) -> ModelSpec:
    base = {"name": "m", "backend": "onnx", "threshold": 0.4, "embedding_size": 512}
    return ModelSpec(**{**base, **fields})


def fixed_batch(src: Path, dst: Path, batch: int) -> Path:
    """The same graph with its batch dimension fixed, as many exporters write it."""
    model = onnx.load(str(src))
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.save(model, str(dst))
    return dst


def nhwc_three_outputs(src: Path, dst: Path, spatial: int | str = 224) -> Path:
    """A TF-style export: NHWC input named 'image:0' and two side outputs around the embedding.

    ``spatial`` a string makes height and width symbolic (a dynamic-size export).
    """
    model = onnx.load(str(src))
    graph = model.graph
    old_input = graph.input[0].name
    embedding = graph.output[0].name
    graph.input.pop()
    graph.input.append(
        helper.make_tensor_value_info("image:0", TensorProto.FLOAT, ["n", spatial, spatial, 3])
    )
    graph.node.insert(0, helper.make_node("Transpose", ["image:0"], [old_input], perm=[0, 3, 1, 2]))
    graph.node.append(helper.make_node("ReduceMean", [embedding], ["score"], axes=[1]))
    graph.node.append(helper.make_node("Relu", [embedding], ["relu"]))
    graph.output.insert(0, helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n", 1]))
    graph.output.append(helper.make_tensor_value_info("relu", TensorProto.FLOAT, ["n", 512]))
    onnx.save(model, str(dst))
    return dst


def faces(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(count)]


@needs_shared
def test_nhwc_export_with_named_output_gives_the_nchw_embeddings(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    images = faces(3)
    reference = OnnxModel(spec(), TINY_ONNX, threads=1)
    expected = reference.infer(to_tensor(images, reference.spec))
    nhwc = spec(layout="NHWC", output="embedding")
    model = OnnxModel(nhwc, path, threads=1)
    assert (model.io.input_name, model.io.output_name) == ("image:0", "embedding")
    batch = to_tensor(images, nhwc)
    assert batch.shape == (3, 224, 224, 3)
    np.testing.assert_allclose(model.infer(batch), expected, rtol=1e-5, atol=1e-6)


@needs_shared
def test_several_outputs_without_a_name_is_an_error_listing_them(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    session = make_session(path, threads=1)
    with pytest.raises(ModelShapeError) as error:
        check_io(session, spec(layout="NHWC"), path)
    message = str(error.value)
    assert "the graph has 3 outputs" in message
    assert "'score' [N, 1], 'embedding' [N, 512], 'relu' [N, 512]" in message
    assert 'output = "NAME" in [models.m]' in message
    with pytest.raises(ModelShapeError, match=r"names output 'emb'.*its outputs: 'score'"):
        check_io(session, spec(layout="NHWC", output="emb"), path)
    with pytest.raises(ModelShapeError, match=r"names input 'input'.*its inputs: 'image:0'"):
        check_io(session, spec(layout="NHWC", input="input", output="embedding"), path)


@needs_shared
def test_wrong_layout_is_refused_with_the_expected_shape(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    with pytest.raises(ModelShapeError) as error:
        check_io(make_session(path, threads=1), spec(output="embedding"), path)
    assert "has shape [N, 224, 224, 3]" in str(error.value)
    assert "(layout NCHW) expects [N, 3, 224, 224]" in str(error.value)
    with pytest.raises(ModelShapeError, match=r"\(layout NHWC\) expects \[N, 224, 224, 3\]"):
        check_io(make_session(TINY_ONNX, threads=1), spec(layout="NHWC"), TINY_ONNX)


@needs_shared
def test_side_output_of_width_one_reads_as_a_one_value_embedding(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    session = make_session(path, threads=1)
    with pytest.raises(ModelShapeError, match=r"output 'score' has 1 values; .* expects 512"):
        check_io(session, spec(layout="NHWC", output="score"), path)


@needs_shared
def test_dynamic_spatial_size_runs_at_the_spec_input_size(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "dyn.onnx", spatial="side")
    small = spec(layout="NHWC", output="embedding", input_size=(160, 160))
    model = OnnxModel(small, path, threads=1)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (160, 160, 3), dtype=np.uint8) for _ in range(2)]
    out = model.infer(to_tensor(images, small))
    assert out.shape == (2, 512) and np.all(np.isfinite(out))


@needs_shared
@pytest.mark.parametrize("count", [1, 3, 5])
def test_batch_one_export_runs_one_image_at_a_time(tmp_path, count):
    path = fixed_batch(TINY_ONNX, tmp_path / "b1.onnx", 1)
    model = OnnxModel(spec(), path, threads=1)
    assert model.io.batch == 1
    images = faces(count, seed=count)
    expected = OnnxModel(spec(), TINY_ONNX, threads=1).infer(to_tensor(images, spec()))
    np.testing.assert_allclose(
        model.infer(to_tensor(images, spec())), expected, rtol=1e-5, atol=1e-6
    )


@needs_shared
def test_fixed_batch_above_one_pads_the_last_chunk(tmp_path):
    path = fixed_batch(TINY_ONNX, tmp_path / "b4.onnx", 4)
    model = OnnxModel(spec(), path, threads=1)
    images = faces(6, seed=2)
    expected = OnnxModel(spec(), TINY_ONNX, threads=1).infer(to_tensor(images, spec()))
    out = model.infer(to_tensor(images, spec()))
    assert out.shape == (6, 512)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@needs_shared
def test_normalize_makes_unit_vectors_and_joins_the_cache_key():
    images = faces(2, seed=4)
    plain = OnnxModel(spec(), TINY_ONNX, threads=1).infer(to_tensor(images, spec()))
    unit = OnnxModel(spec(normalize=True), TINY_ONNX, threads=1)
    out = unit.infer(to_tensor(images, unit.spec))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, plain / np.linalg.norm(plain, axis=1, keepdims=True), 1e-6)
    keys = preprocessing(spec())
    assert (keys["normalize"], keys["output"], keys["alignment"]) == (False, None, "dlib_chip")
    for changed in ({"normalize": True}, {"output": "x"}, {"alignment": "arcface"}):
        assert preprocessing(spec(**changed)) != keys


@needs_shared
def test_inspect_suggests_a_block_that_runs_the_file(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    description = describe_onnx(path)
    assert [(t.name, t.shape) for t in description.outputs] == [
        ("score", (None, 1)), ("embedding", (None, 512)), ("relu", (None, 512))
    ]  # fmt: skip
    block = suggest_toml(description, "mine")
    import tomllib

    table = tomllib.loads(block)["models"]["mine"]
    assert table["layout"] == "NHWC" and table["input_size"] == [224, 224]
    assert table["output"] == "embedding" and table["embedding_size"] == 512
    table["path"] = str(path)
    model = OnnxModel(ModelSpec(name="mine", **table), path, threads=1)
    assert model.infer(to_tensor(faces(1), model.spec)).shape == (1, 512)


@needs_shared
def test_inspect_marks_a_fixed_batch_and_a_112_input_as_arcface(tmp_path):
    model = onnx.load(str(TINY_ONNX))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    for axis in (2, 3):
        model.graph.input[0].type.tensor_type.shape.dim[axis].dim_value = 112
    path = tmp_path / "arc.onnx"
    onnx.save(model, str(path))
    block = suggest_toml(describe_onnx(path), "arc")
    assert 'alignment = "arcface"' in block and "batch_size = 1 " in block
    assert "input_size = [112, 112]" in block


@needs_shared
def test_models_inspect_cli_prints_io_and_block(tmp_path):
    path = nhwc_three_outputs(TINY_ONNX, tmp_path / "nhwc.onnx")
    result = runner.invoke(app, ["models", "--inspect", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "image:0" in result.stdout and "[N, 224, 224, 3]" in result.stdout
    assert 'output = "embedding"' in result.stdout and 'layout = "NHWC"' in result.stdout
    result = runner.invoke(app, ["models", "--inspect", str(path), "--format", "json"])
    data = json.loads(result.stdout)
    assert [o["name"] for o in data["outputs"]] == ["score", "embedding", "relu"]
    assert data["inputs"][0]["shape"] == [None, 224, 224, 3]
    missing = runner.invoke(app, ["models", "--inspect", str(tmp_path / "nope.onnx")])
    assert missing.exit_code != 0 and "no such file" in missing.stderr


@needs_shared
@pytest.mark.slow
def test_batch_one_stand_in_export_runs_end_to_end(tmp_path):
    """A batch-1 export runs through ``face-bench roc`` and scores like the dynamic one."""
    b1 = fixed_batch(TINY_ONNX, tmp_path / "standin_b1.onnx", 1)
    config = tmp_path / "face-bench.toml"
    common = (
        'backend = "onnx"\nmean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n'
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n'
    )
    config.write_text(
        f'[models.b1]\npath = "{b1.as_posix()}"\nbatch_size = 8\n{common}'
        f'[models.dynamic]\npath = "{TINY_ONNX.as_posix()}"\n{common}',
        encoding="utf-8",
    )
    args = [
        "roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "b1",
        "--model", "dynamic", "--sample", "12", "--seed", "1", "--config", str(config),
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    import pandas as pd

    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert len(scores) == 66
    np.testing.assert_allclose(scores["b1"], scores["dynamic"], atol=1e-5)


@needs_shared
@pytest.mark.slow
@pytest.mark.skipif(not HSE_RAW.is_file(), reason="../shared/models/hse_faceres_* not present")
def test_raw_nhwc_hse_export_scores_like_the_wrapped_one(tmp_path):
    """The TF export as it came (NHWC, three outputs) equals the wrapped NCHW model."""
    config = tmp_path / "face-bench.toml"
    common = (
        'backend = "onnx"\nscale = 1.0\nembedding_size = 1024\nsimilarity = "cosine"\n'
        "threshold = 0.5\nchip_size = 224\nchip_padding = 0.25\n"
    )
    config.write_text(
        f'[models.wrapped]\npath = "{HSE.as_posix()}"\n{common}'
        f'[models.raw]\npath = "{HSE_RAW.as_posix()}"\nlayout = "NHWC"\n'
        f'output = "global_pooling/Mean"\n{common}',
        encoding="utf-8",
    )
    args = [
        "roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "wrapped",
        "--model", "raw", "--sample", "0", "--config", str(config),
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    import pandas as pd

    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert len(scores) > 20_000
    assert np.max(np.abs(scores["wrapped"] - scores["raw"])) < 1e-5


@needs_shared
def test_a_deeply_nested_check_memo_is_ignored(tmp_path):
    from face_bench.models.onnx_backend import inspect_onnx

    (tmp_path / "onnx-checked.json").write_text("[" * 100_000 + "]" * 100_000)
    io = inspect_onnx(TINY_ONNX, spec(embedding_size=512), tmp_path)
    assert io.embedding_size == 512
    assert json.loads((tmp_path / "onnx-checked.json").read_text())  # rewritten
