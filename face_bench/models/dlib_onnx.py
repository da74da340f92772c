"""dlib's face descriptor network as an ONNX graph, converted from its own ``.dat`` file.

The graph reproduces dlib's forward pass operation by operation: its input layer
(``(pixel - channel mean) / 256`` on raw 0..255 RGB values, so the graph takes
unnormalised pixels), ``con`` as Conv, ``affine`` as a per-channel Mul and Add,
``add_prev`` as an Add of both operands zero-padded at the end of every axis to
the larger shape (dlib's ``tt::add`` on tensors of different sizes), pools with
dlib's sizes and paddings, and ``fc`` as a MatMul. The layout in the file is
checked against ``dnn_face_recognition_ex.cpp``'s type before anything is built,
as dlib itself would, so an unknown or damaged file fails with a clear message.
The conversion runs once per ``.dat`` (keyed by its SHA-256) into the cache, with the
graph's own SHA-256 recorded beside it; a graph that no longer matches is rebuilt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face_bench.core.io import matches_recorded_digest, sha256_file, write_with_digest
from face_bench.models.dlib_dat import DatFormatError, DatNetwork, Layer, parse_dat

if TYPE_CHECKING:
    from face_bench.models.spec import ModelSpec

CONVERTER_VERSION = 1  # bump when the graph built from the same .dat changes
OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptor"


@dataclass(frozen=True)
class _Op:
    """One step of the expected network: a layer with its settings, or a tag/skip."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc, tag, skip
    settings: tuple = ()


def _block(filters: int, stride: int) -> list[_Op]:
    pad = 0 if stride != 1 else 1  # dlib's default: no padding on strided convolutions
    return [
        _Op("con", (filters, 3, 3, stride, stride, pad, pad)),
        _Op("affine"),
        _Op("relu"),
        _Op("con", (filters, 3, 3, 1, 1, 1, 1)),
        _Op("affine"),
    ]


def _residual(filters: int) -> list[_Op]:
    """relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>."""
    return [_Op("tag", (1,)), *_block(filters, 1), _Op("add_prev", (1,)), _Op("relu")]


def _residual_down(filters: int) -> list[_Op]:
    """relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>."""
    return [
        _Op("tag", (1,)),
        *_block(filters, 2),
        _Op("tag", (2,)),
        _Op("skip", (1,)),
        _Op("avg_pool", (2, 2, 2, 2, 0, 0)),
        _Op("add_prev", (2,)),
        _Op("relu"),
    ]


def face_recognition_v1_layout() -> list[_Op]:
    """``anet_type`` of dlib's dnn_face_recognition_ex.cpp, innermost layer first."""
    ops = [
        _Op("con", (32, 7, 7, 2, 2, 0, 0)),
        _Op("affine"),
        _Op("relu"),
        _Op("max_pool", (3, 3, 2, 2, 0, 0)),
    ]
    ops += _residual(32) * 3
    ops += _residual_down(64) + _residual(64) * 3
    ops += _residual_down(128) + _residual(128) * 2
    ops += _residual_down(256) + _residual(256) * 2
    ops += _residual_down(256)
    ops += [_Op("avg_pool", (0, 0, 1, 1, 0, 0)), _Op("fc", (128, 1))]
    return ops


def _settings_of(layer: Layer) -> tuple:
    p = layer.params
    if layer.kind == "con":
        keys = ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
        return tuple(p[k] for k in keys)
    if layer.kind in ("max_pool", "avg_pool"):
        return tuple(p[k] for k in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"))
    if layer.kind == "fc":
        return (p["num_outputs"], p["bias_mode"])
    return ()


_CHECKED = ("con", "max_pool", "avg_pool", "fc")  # kinds whose settings are in the file


def _matches(layer: Layer | None, op: _Op) -> bool:
    if op.kind in ("tag", "skip"):
        return layer is None
    if layer is None:
        return False
    kind = "affine" if layer.kind == "bn" else layer.kind  # dlib's affine_ loads a bn_
    return kind == op.kind and (op.kind not in _CHECKED or _settings_of(layer) == op.settings)


def check_layout(net: DatNetwork, expected: list[_Op]) -> None:
    """Refuse a file whose layers differ from the network type face-bench converts."""
    if len(net.layers) != len(expected):
        raise DatFormatError(
            f"unknown dlib network: {len(net.layers)} layers, "
            f"dlib_face_recognition_resnet_model_v1 has {len(expected)}"
        )
    for index, (layer, op) in enumerate(zip(net.layers, expected, strict=True)):
        if not _matches(layer, op):
            found = "tag/skip" if layer is None else f"{layer.kind}{_settings_of(layer)}"
            raise DatFormatError(
                f"unknown dlib network: layer {index} is {found}, expected {op.kind}{op.settings}"
            )
    if net.input.params["nr"] != 150 or net.input.params["nc"] != 150:
        raise DatFormatError("unknown dlib network: input is not 150x150")


def affine_from_layer(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gamma and beta, including dlib's on-load conversion of a batch norm."""
    p = layer.params
    params = p["params"].reshape(-1)
    size = int(np.prod(p["gamma"]))
    gamma, beta = params[:size], params[size : 2 * size]
    if layer.kind == "bn":  # affine_(const bn_&), in float as dlib computes it
        eps = np.float32(p["eps"])
        variances = p["running_variances"].reshape(-1)
        gamma = (gamma / np.sqrt(variances + eps)).astype(np.float32)
        beta = (beta - gamma * p["running_means"].reshape(-1)).astype(np.float32)
    return gamma.reshape(p["gamma"]), beta.reshape(p["gamma"])


class _Graph:
    """Accumulates ONNX nodes and initialisers with static NCHW shapes (N symbolic)."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs) -> str:
        from onnx import helper

        out = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


Shape = tuple[int, int, int]  # channels, rows, columns


def _pooled(shape: Shape, s: tuple) -> Shape:
    nr, nc, sy, sx, py, px = s
    if nr == 0:
        return (shape[0], 1, 1)
    return (shape[0], 1 + (shape[1] + 2 * py - nr) // sy, 1 + (shape[2] + 2 * px - nc) // sx)


def _con(g: _Graph, x: str, shape: Shape, layer: Layer) -> tuple[str, Shape]:
    p = layer.params
    params = p["params"].reshape(-1)
    count = int(np.prod(p["filters"]))
    weights = params[:count].reshape(p["filters"])
    if weights.shape[1] != shape[0]:
        raise DatFormatError(f"con expects {weights.shape[1]} channels, gets {shape[0]}")
    inputs = [x, g.const("w", weights)]
    if p["use_bias"]:
        inputs.append(g.const("b", params[count : count + p["num_filters"]]))
    sy, sx, py, px = p["stride_y"], p["stride_x"], p["padding_y"], p["padding_x"]
    out = g.node("Conv", inputs, "con", strides=[sy, sx], pads=[py, px, py, px],
                 kernel_shape=[p["nr"], p["nc"]])  # fmt: skip
    if p["use_relu"]:
        out = g.node("Relu", [out], "relu")
    rows = 1 + (shape[1] + 2 * py - p["nr"]) // sy
    cols = 1 + (shape[2] + 2 * px - p["nc"]) // sx
    return out, (p["num_filters"], rows, cols)


def _affine(g: _Graph, x: str, layer: Layer) -> str:
    if layer.params.get("disabled"):
        return x
    gamma, beta = affine_from_layer(layer)
    if layer.params["mode"] == 0:  # CONV_MODE: one value per channel
        gamma, beta = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    scaled = g.node("Mul", [x, g.const("gamma", gamma)], "affine_mul")
    return g.node("Add", [scaled, g.const("beta", beta)], "affine_add")


def _pad_to(g: _Graph, x: str, shape: Shape, target: Shape) -> str:
    if shape == target:
        return x
    ends = [0] + [t - s for s, t in zip(shape, target, strict=True)]
    pads = np.asarray([0, 0, 0, 0, *ends], dtype=np.int64)
    return g.node("Pad", [x, g.const("pads", pads)], "pad", mode="constant")


def _add_prev(g: _Graph, a: tuple[str, Shape], b: tuple[str, Shape]) -> tuple[str, Shape]:
    """dlib's add_prev: the larger size on every axis, each operand zero-padded at the end."""
    target = tuple(max(x, y) for x, y in zip(a[1], b[1], strict=True))
    left = _pad_to(g, a[0], a[1], target)  # type: ignore[arg-type]
    right = _pad_to(g, b[0], b[1], target)  # type: ignore[arg-type]
    return g.node("Add", [left, right], "add_prev"), target  # type: ignore[return-value]


def _pool(g: _Graph, x: str, shape: Shape, layer: Layer) -> tuple[str, Shape]:
    s = _settings_of(layer)
    nr, nc, sy, sx, py, px = s
    if layer.kind == "avg_pool" and (py or px):
        raise DatFormatError("average pooling with padding is not supported")
    if nr == 0:
        op = "GlobalAveragePool" if layer.kind == "avg_pool" else "GlobalMaxPool"
        return g.node(op, [x], layer.kind), _pooled(shape, s)
    op = "AveragePool" if layer.kind == "avg_pool" else "MaxPool"
    out = g.node(op, [x], layer.kind, kernel_shape=[nr, nc], strides=[sy, sx],
                 pads=[py, px, py, px])  # fmt: skip
    return out, _pooled(shape, s)


def _fc(g: _Graph, x: str, shape: Shape, layer: Layer) -> str:
    p = layer.params
    params = p["params"].reshape(-1)
    count = p["num_inputs"] * p["num_outputs"]
    if p["num_inputs"] != int(np.prod(shape)):
        raise DatFormatError(f"fc expects {p['num_inputs']} inputs, gets {int(np.prod(shape))}")
    flat = g.node("Flatten", [x], "flatten", axis=1)
    weights = params[:count].reshape(p["num_inputs"], p["num_outputs"])
    out = g.node("MatMul", [flat, g.const("fc_w", weights)], "fc")
    if p["bias_mode"] == 0 and p["use_bias"]:
        bias = params[count : count + p["num_outputs"]]
        out = g.node("Add", [out, g.const("fc_b", bias)], "fc_bias")
    return out


def _build_body(g: _Graph, net: DatNetwork, expected: list[_Op], x: str) -> tuple[str, Shape]:
    shape: Shape = (3, net.input.params["nr"], net.input.params["nc"])
    tags: dict[int, tuple[str, Shape]] = {}
    for layer, op in zip(net.layers, expected, strict=True):
        if op.kind == "tag":
            tags[op.settings[0]] = (x, shape)
        elif op.kind == "skip":
            x, shape = tags[op.settings[0]]
        elif op.kind == "add_prev":
            x, shape = _add_prev(g, (x, shape), tags[op.settings[0]])
        else:
            assert layer is not None
            if op.kind == "con":
                x, shape = _con(g, x, shape, layer)
            elif op.kind == "affine":
                x = _affine(g, x, layer)
            elif op.kind == "relu":
                x = x if layer.params["disabled"] else g.node("Relu", [x], "relu")
            elif op.kind in ("max_pool", "avg_pool"):
                x, shape = _pool(g, x, shape, layer)
            elif op.kind == "fc":
                x, shape = _fc(g, x, shape, layer), (layer.params["num_outputs"], 1, 1)
    return x, shape


def build_onnx(net: DatNetwork, source: str = ""):
    """The ONNX model of a parsed face_recognition_model_v1 network.

    Input ``chips``: float32 [N, 3, 150, 150], RGB pixel values 0..255 (no scaling:
    dlib's own input normalisation is the graph's first two nodes). Output
    ``descriptor``: float32 [N, 128].
    """
    from onnx import TensorProto, helper

    expected = face_recognition_v1_layout()
    check_layout(net, expected)
    g = _Graph()
    mean = np.asarray(net.input.params["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    centred = g.node("Sub", [INPUT_NAME, g.const("mean", mean)], "input_sub")
    x = g.node("Div", [centred, g.const("scale", np.asarray(256.0, np.float32))], "input_div")
    x, shape = _build_body(g, net, expected, x)
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))
    rows, cols = net.input.params["nr"], net.input.params["nc"]
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, rows, cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", shape[0]])],
        g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="face-bench",
        doc_string=f"dlib face_recognition_model_v1 converted by face-bench from {source}",
    )
    model.ir_version = 8
    helper.set_model_props(model, {"source_sha256": source, "converter": str(CONVERTER_VERSION)})
    return model


def converted_path(cache_dir: Path, dat_sha256: str) -> Path:
    """Where the converted graph of a given ``.dat`` lives in face-bench's cache."""
    name = f"dlib_face_recognition_resnet_model_v1-{dat_sha256}-c{CONVERTER_VERSION}.onnx"
    return cache_dir / "models" / name


def convert_file(dat: Path, target: Path) -> Path:
    """Parse ``dat``, build the graph, check it and write it to ``target`` atomically."""
    import onnx

    try:
        data = dat.read_bytes()
    except OSError as exc:
        raise DatFormatError(f"{dat}: cannot read ({exc.strerror})") from None
    try:
        net = parse_dat(data)
        model = build_onnx(net, hashlib.sha256(data).hexdigest())
    except DatFormatError as exc:
        raise DatFormatError(f"{dat}: {exc}") from None
    onnx.checker.check_model(model)
    write_with_digest(target, model.SerializeToString())
    return target


def ensure_converted(dat: Path, cache_dir: Path, dat_sha256: str | None = None) -> Path:
    """The converted graph of ``dat``, converting it on first use or when it was altered."""
    if dat_sha256 is None:
        dat_sha256 = sha256_file(dat, cache_dir)
    target = converted_path(cache_dir, dat_sha256)
    if target.is_file() and matches_recorded_digest(target):
        return target
    return convert_file(dat, target)


def graph_spec(spec: ModelSpec) -> ModelSpec:
    """The converted graph's feeding: raw RGB pixels, NCHW (dlib's normalisation is inside)."""
    return spec.model_copy(
        update={
            "backend": "onnx",
            "runtime": "onnx",
            "color_order": "RGB",
            "scale": 1.0,
            "mean": (0.0, 0.0, 0.0),
            "std": (1.0, 1.0, 1.0),
            "layout": "NCHW",
            "input": INPUT_NAME,
            "output": OUTPUT_NAME,
        }
    )


def open_dlib_onnx(spec: ModelSpec, dat: Path, cache_dir: Path, threads: int | None = None):
    """An onnxruntime model computing ``spec``'s dlib descriptor, converting on first use."""
    from face_bench.models.onnx_backend import OnnxModel

    return OnnxModel(graph_spec(spec), ensure_converted(dat, cache_dir), threads=threads)
