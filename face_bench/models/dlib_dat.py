"""Read a dlib DNN ``.dat`` file (its own serialization) into plain layer records.

dlib writes a network from the loss layer down: every wrapper (``add_layer``,
``add_tag_layer``, ``add_skip_layer``) writes an int version and then its
sub-network, and only afterwards its own layer's parameters, so the parameters come
out innermost (input) layer first. Tags and skips write nothing but their version,
so which tag a layer refers to is not in the file: it is part of the C++ type, and
:mod:`face_bench.models.dlib_onnx` checks the records against that type. The byte
formats follow dlib's ``serialize.h``, ``dnn/core.h``, ``dnn/layers.h``,
``dnn/input.h``, ``dnn/loss.h`` and ``cuda/tensor.h`` (dlib 19.x-20.x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from face_bench.core.errors import ModelFileError

_FLOAT_SPECIAL = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
MAX_TENSOR_SPAN = 1 << 32  # product of a tensor's non-zero dimensions
# Named outside ``_Reader``, whose ``int`` method hides the builtin in its own annotations.
Dims4 = tuple[int, int, int, int]


class DatFormatError(ModelFileError):
    """The file is not a dlib network of a layout face-bench can read."""


@dataclass
class Layer:
    """One layer's type (dlib's version string without its suffix) and parameters."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DatNetwork:
    """Layers innermost first; ``None`` marks a tag or skip wrapper (indistinguishable)."""

    input: Layer
    layers: list[Layer | None]
    loss: Layer


class _Reader:
    """dlib's primitive encodings over an in-memory buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> DatFormatError:
        return DatFormatError(f"not a dlib network file: {what} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("unexpected end of data")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self) -> int:
        """dlib's pack_int: a control byte (size | 0x80 if negative), then size LE bytes."""
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def bool(self) -> bool:
        ch = self.take(1)
        if ch not in (b"0", b"1"):
            raise self.fail("bad boolean")
        return ch == b"1"

    def string(self) -> str:
        size = self.int()
        if size > 1 << 16:
            raise self.fail("implausible string length")
        try:
            return self.take(size).decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("non-ASCII layer name") from None

    def peek_string(self) -> str | None:
        """The string at the cursor if one is there, without consuming it."""
        start = self.pos
        try:
            return self.string()
        except DatFormatError:
            return None
        finally:
            self.pos = start

    def real(self) -> float:
        """float_details: int64 mantissa and int16 exponent, value = ldexp(mantissa, exp)."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.fail("old ASCII float format")
        mantissa, exponent = self.int(), self.int()
        if exponent in _FLOAT_SPECIAL:
            return _FLOAT_SPECIAL[exponent]
        return math.ldexp(mantissa, exponent)

    def float32(self) -> np.float32:
        """A serialized C++ float (dlib converts with ldexp((float)mantissa, exp))."""
        return np.float32(self.real())

    def tensor(self) -> np.ndarray:
        """resizable_tensor: version 2, four dimensions, then little-endian float32 values."""
        if self.int() != 2:
            raise self.fail("unsupported tensor version")
        shape = tuple(self.int() for _ in range(4))
        if any(d < 0 for d in shape):
            raise self.fail("negative tensor dimension")
        if math.prod(d for d in shape if d) > MAX_TENSOR_SPAN:
            # A zero-size tensor holds no bytes, so only this bound stops a shape numpy
            # cannot even describe (an empty tensor of 2**40 x 2**40 x 2**40).
            raise self.fail(f"implausible tensor shape {shape}")
        count = math.prod(shape)
        raw = self.take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self) -> Dims4:
        """alias_tensor: version 1 and four dimensions (a view into a layer's params)."""
        if self.int() != 1:
            raise self.fail("unsupported alias_tensor version")
        shape = (self.int(), self.int(), self.int(), self.int())
        if any(d < 0 for d in shape):
            raise self.fail("negative alias dimension")
        return shape


def _multipliers(r: _Reader) -> None:
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        r.real()


def _con(r: _Reader, version: str) -> Layer:
    p: dict[str, Any] = {"params": r.tensor(), "num_filters": r.int()}
    p["nr"], p["nc"], p["stride_y"], p["stride_x"] = r.int(), r.int(), r.int(), r.int()
    p["padding_y"], p["padding_x"] = r.int(), r.int()
    p["filters"], p["biases"] = r.alias(), r.alias()
    _multipliers(r)
    p["use_bias"] = r.bool() if version in ("con_5", "con_6") else True
    p["use_relu"] = r.bool() if version == "con_6" else False
    return Layer("con", p)


def _affine(r: _Reader, version: str) -> Layer:
    p: dict[str, Any] = {"params": r.tensor(), "gamma": r.alias(), "beta": r.alias()}
    p["mode"] = r.int()
    p["disabled"] = r.bool() if version == "affine_2" else False
    return Layer("affine", p)


def _bn(r: _Reader, version: str) -> Layer:
    """A batch-norm layer, which dlib's affine_ converts on load (see ``affine_(bn_)``)."""
    p: dict[str, Any] = {"params": r.tensor(), "gamma": r.alias(), "beta": r.alias()}
    p["means"], p["invstds"] = r.tensor(), r.tensor()
    p["running_means"], p["running_variances"] = r.tensor(), r.tensor()
    r.int(), r.int()  # num_updates, running_stats_window_size
    _multipliers(r)
    p["eps"] = r.real()
    p["mode"] = 0 if version == "bn_con2" else 1
    return Layer("bn", p)


def _pool(kind: str):
    def read(r: _Reader, _version: str) -> Layer:
        p = {"nr": r.int(), "nc": r.int(), "stride_y": r.int(), "stride_x": r.int()}
        p["padding_y"], p["padding_x"] = r.int(), r.int()
        return Layer(kind, p)

    return read


def _fc(r: _Reader, version: str) -> Layer:
    p: dict[str, Any] = {"num_outputs": r.int(), "num_inputs": r.int(), "params": r.tensor()}
    p["weights"], p["biases"] = r.alias(), r.alias()
    p["bias_mode"] = r.int()  # 0: FC_HAS_BIAS, 1: FC_NO_BIAS
    _multipliers(r)
    p["use_bias"] = r.bool() if version == "fc_3" else True
    return Layer("fc", p)


def _relu(r: _Reader, version: str) -> Layer:
    return Layer("relu", {"disabled": r.bool() if version == "relu_2" else False})


_LAYERS = {
    "con_4": _con,
    "con_5": _con,
    "con_6": _con,
    "affine_": _affine,
    "affine_2": _affine,
    "bn_con2": _bn,
    "bn_fc2": _bn,
    "relu_": _relu,
    "relu_2": _relu,
    "max_pool_2": _pool("max_pool"),
    "avg_pool_2": _pool("avg_pool"),
    "add_prev_": lambda _r, _v: Layer("add_prev"),
    "fc_2": _fc,
    "fc_3": _fc,
}


def _details(r: _Reader) -> Layer:
    version = r.string()
    if version not in _LAYERS:
        raise r.fail(f"unsupported layer {version!r}")
    layer = _LAYERS[version](r, version)
    _check_sizes(r, layer)
    return layer


def _expected_sizes(layer: Layer) -> dict[str, int]:
    """How many values each tensor of ``layer`` must hold, from its declared shapes.

    These are the sizes dlib's ``setup`` gives the tensors (``con_``: filters then one
    bias per filter; ``fc_``: a (num_inputs [+ 1 bias row]) x num_outputs matrix;
    ``affine_``/``bn_``: gamma then beta). A tensor one value short would otherwise be
    converted, cached and only fail inside onnxruntime.
    """
    p = layer.params
    if layer.kind == "con":
        filters, biases = math.prod(p["filters"]), math.prod(p["biases"])
        return {"params": filters + (biases if p["use_bias"] else 0)}
    if layer.kind == "fc":
        rows = p["num_inputs"] + (1 if p["bias_mode"] == 0 else 0)
        return {"params": rows * p["num_outputs"]}
    if layer.kind in ("affine", "bn"):
        channels = math.prod(p["gamma"])
        sizes = {"params": 2 * channels}
        if layer.kind == "bn":
            sizes |= {"running_means": channels, "running_variances": channels}
        return sizes
    return {}


def _check_sizes(r: _Reader, layer: Layer) -> None:
    """Every tensor's element count against its layer's shapes, and finite values."""
    p = layer.params
    if layer.kind == "con":
        n, nr, nc = p["num_filters"], p["nr"], p["nc"]
        if p["filters"][0] != n or tuple(p["filters"][2:]) != (nr, nc):
            raise r.fail(f"con filters {p['filters']} do not match {n} filters of {nr}x{nc}")
    if layer.kind == "fc" and math.prod(p["weights"]) != p["num_inputs"] * p["num_outputs"]:
        raise r.fail(f"fc weights {p['weights']} are not {p['num_inputs']}x{p['num_outputs']}")
    if layer.kind in ("affine", "bn") and tuple(p["gamma"]) != tuple(p["beta"]):
        raise r.fail(f"{layer.kind} gamma {p['gamma']} and beta {p['beta']} differ")
    for name, want in _expected_sizes(layer).items():
        have = p[name].size
        if have != want:
            raise r.fail(f"{layer.kind} {name} holds {have} values, its shape needs {want}")
        if not np.isfinite(p[name]).all():
            raise r.fail(f"{layer.kind} {name} holds NaN or infinite values")
    if layer.kind == "bn" and not (math.isfinite(p["eps"]) and p["eps"] > 0):
        raise r.fail(f"bn epsilon {p['eps']} is not a positive number")


def _input(r: _Reader) -> Layer:
    version = r.string()
    if version != "input_rgb_image_sized":
        raise r.fail(f"unsupported input layer {version!r}")
    mean = (r.float32(), r.float32(), r.float32())
    if not all(math.isfinite(m) for m in mean):
        raise r.fail("input mean is NaN or infinite")
    return Layer("input", {"mean": mean, "nr": r.int(), "nc": r.int()})


def _loss(r: _Reader) -> Layer:
    version = r.string()
    if version == "loss_metric_":
        return Layer("loss_metric")
    if version != "loss_metric_2":
        raise r.fail(f"unsupported loss layer {version!r}")
    return Layer("loss_metric", {"margin": r.float32(), "dist_thresh": r.float32()})


def _layer_state(r: _Reader, version: int) -> None:
    """add_layer's training state after its details: three flags and two or three tensors."""
    r.bool(), r.bool(), r.bool()  # setup called, gradient stale, output disabled
    r.tensor(), r.tensor()  # x_grad, cached_output
    if version >= 2:
        r.tensor()  # params_grad


def parse_dat(data: bytes) -> DatNetwork:
    """Every layer of a dlib ``loss<...<input>>`` network file, innermost first."""
    r = _Reader(data)
    if r.int() != 1:
        raise r.fail("unsupported loss layer version")
    loss = _loss(r)
    wrappers: list[int] = []  # versions, outermost first, until the input layer
    while True:
        version = r.int()
        if (r.peek_string() or "").startswith("input_"):
            break
        if version not in (1, 2) or len(wrappers) > 10_000:
            raise r.fail(f"unexpected layer version {version}")
        wrappers.append(version)
    if version not in (2, 3):  # the add_layer that sits on the input layer
        raise r.fail(f"unexpected input add_layer version {version}")
    first_input = _input(r)
    layers: list[Layer | None] = [_details(r)]
    r.bool(), r.bool(), r.bool()
    r.tensor(), r.tensor(), r.tensor()  # x_grad, cached_output, grad_final
    if version >= 3:
        r.int()  # sample expansion factor
    for wrapper in reversed(wrappers):
        if wrapper == 1:  # tag or skip: no state of its own after its sub-network
            layers.append(None)
            continue
        layers.append(_details(r))
        _layer_state(r, wrapper)
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} trailing bytes")
    return DatNetwork(first_input, layers, loss)
