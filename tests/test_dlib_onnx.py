"""dlib's .dat -> ONNX converter: byte formats, layer semantics, and equality with dlib."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, LFW, needs_shared

from face_bench.core.errors import FaceBenchError, ModelFileError
from face_bench.models.dlib_dat import DatFormatError, Layer, _Reader, parse_dat
from face_bench.models.dlib_onnx import (
    _add_prev,
    _Graph,
    affine_from_layer,
    converted_path,
    ensure_converted,
)
from face_bench.models.registry import DLIB_DESCRIPTOR_FILE, dlib_weight_path

TOLERANCE = 1e-5  # per component, against dlib's own compute_face_descriptor


def pack_int(value: int) -> bytes:
    """dlib's serialize.h pack_int, written out independently for the tests."""
    magnitude = abs(value)
    body = bytearray()
    while True:
        body.append(magnitude & 0xFF)
        magnitude >>= 8
        if magnitude == 0:
            break
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + bytes(body)


@pytest.fixture(scope="module")
def dat_path() -> Path:
    return dlib_weight_path(DLIB_DESCRIPTOR_FILE)


@pytest.fixture(scope="module")
def converted(dat_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_converted(dat_path, tmp_path_factory.mktemp("dlib-onnx"))


@pytest.fixture(scope="module")
def session(converted: Path):
    from face_bench.models.onnx_backend import make_session

    return make_session(converted, threads=1)


@pytest.fixture(scope="module")
def dlib_net(dat_path: Path):
    import dlib

    return dlib.face_recognition_model_v1(str(dat_path))


def run_onnx(session, chips: np.ndarray) -> np.ndarray:
    """Raw 0..255 RGB chips, NHWC uint8 -> descriptors (the graph normalises like dlib)."""
    tensor = np.ascontiguousarray(chips.astype(np.float32).transpose(0, 3, 1, 2))
    return session.run(["descriptor"], {"chips": tensor})[0]


def run_dlib(net, chips: np.ndarray) -> np.ndarray:
    return np.asarray([net.compute_face_descriptor(chip) for chip in chips], dtype=np.float64)


# --- dlib's primitive encodings -------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 2, 127, 255, 256, 65535, 1 << 40, -1, -300, -(1 << 62)])
def test_int_encoding_round_trips(value: int) -> None:
    reader = _Reader(pack_int(value))
    assert reader.int() == value
    assert reader.pos == len(reader.data)


def test_float_details_decode_to_the_serialized_float() -> None:
    # float_details of 0.6f: frexp mantissa scaled to 24 bits, low zero bytes shifted off.
    mantissa, exponent = math.frexp(float(np.float32(0.6)))
    m, e = int(mantissa * (1 << 24)), exponent - 24
    while m & 0xFF == 0:
        m, e = m >> 8, e + 8
    assert _Reader(pack_int(m) + pack_int(e)).float32() == np.float32(0.6)
    assert _Reader(pack_int(0) + pack_int(32000)).real() == math.inf


def test_tensor_reads_dimensions_and_little_endian_floats() -> None:
    values = np.arange(6, dtype="<f4")
    blob = pack_int(2) + b"".join(pack_int(d) for d in (1, 2, 3, 1)) + values.tobytes()
    out = _Reader(blob).tensor()
    assert out.shape == (1, 2, 3, 1)
    assert np.array_equal(out.reshape(-1), values)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x01", b"\x00\x01", b"\x01\x01\x01\x05hello", b"\xff" * 64],
    ids=["empty", "truncated", "zero-size int", "unknown loss", "garbage"],
)
def test_damaged_or_foreign_bytes_are_a_clear_error(blob: bytes) -> None:
    with pytest.raises(DatFormatError, match="not a dlib network file"):
        parse_dat(blob)


# --- layer semantics ------------------------------------------------------------------------


def dlib_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cpu::add(dest, src1, src2) of dlib/cuda/cpu_dlib.cpp, loop for loop."""
    shape = tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True))
    out = np.zeros(shape, dtype=np.float32)
    for index in np.ndindex(shape):
        v1 = a[index] if all(i < s for i, s in zip(index, a.shape, strict=True)) else 0
        v2 = b[index] if all(i < s for i, s in zip(index, b.shape, strict=True)) else 0
        out[index] = np.float32(v1) + np.float32(v2)
    return out


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((4, 3, 3), (2, 4, 4)), ((2, 5, 4), (2, 5, 4)), ((3, 2, 5), (6, 3, 1))],
)
def test_add_prev_matches_dlibs_zero_padded_add(shape_a, shape_b) -> None:
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, *shape_a)).astype(np.float32)
    b = rng.standard_normal((2, *shape_b)).astype(np.float32)
    g = _Graph()
    out, shape = _add_prev(g, ("a", shape_a), ("b", shape_b))
    graph = helper.make_graph(
        g.nodes,
        "add_prev",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, *shape_a]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, *shape_b]),
        ],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [2, *shape])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    got = session.run(None, {"a": a, "b": b})[0]
    want = np.stack([dlib_add(a[n], b[n]) for n in range(2)])
    assert shape == want.shape[1:]
    assert np.array_equal(got, want)


def test_batch_norm_becomes_dlibs_affine() -> None:
    gamma = np.asarray([1.5, -2.0], dtype=np.float32)
    beta = np.asarray([0.25, 3.0], dtype=np.float32)
    means = np.asarray([0.5, -1.0], dtype=np.float32).reshape(1, 2, 1, 1)
    variances = np.asarray([4.0, 0.25], dtype=np.float32).reshape(1, 2, 1, 1)
    layer = Layer(
        "bn",
        {
            "params": np.concatenate([gamma, beta]).reshape(4, 1, 1, 1),
            "gamma": (1, 2, 1, 1),
            "running_means": means,
            "running_variances": variances,
            "eps": 1e-5,
            "mode": 0,
        },
    )
    g, b = affine_from_layer(layer)
    want_g = gamma / np.sqrt(variances.reshape(-1) + np.float32(1e-5))
    assert np.array_equal(g.reshape(-1), want_g)
    assert np.array_equal(b.reshape(-1), beta - want_g * means.reshape(-1))


# --- the real network -----------------------------------------------------------------------


def test_real_file_parses_to_dlibs_layout(dat_path: Path) -> None:
    net = parse_dat(dat_path.read_bytes())
    assert net.input.params["nr"] == net.input.params["nc"] == 150
    assert net.input.params["mean"] == (
        np.float32(122.782),
        np.float32(117.001),
        np.float32(104.298),
    )
    assert net.layers[-1] is not None and net.layers[-1].params["num_outputs"] == 128


def test_conversion_is_cached_by_sha256_and_atomic(dat_path: Path, tmp_path: Path) -> None:
    import hashlib

    digest = hashlib.sha256(dat_path.read_bytes()).hexdigest()
    out = ensure_converted(dat_path, tmp_path)
    assert out == converted_path(tmp_path, digest) and digest in out.name
    # No temporary left behind; the graph's own digest is recorded beside it.
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name, out.name + ".sha256"]
    stamp = out.stat().st_mtime_ns
    assert ensure_converted(dat_path, tmp_path, digest) == out
    assert out.stat().st_mtime_ns == stamp  # second use converts nothing


def another_valid_graph(converted: Path) -> bytes:
    """The converted graph with its descriptor weights zeroed: valid ONNX, other numbers."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(converted))
    last = model.graph.initializer[-1]
    zeros = np.zeros_like(numpy_helper.to_array(last))
    last.CopyFrom(numpy_helper.from_array(zeros, last.name))
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.mark.parametrize("damage", ["truncated", "another graph", "no digest recorded"])
def test_an_altered_converted_graph_is_rebuilt(
    dat_path: Path, converted: Path, tmp_path: Path, damage: str
) -> None:
    import hashlib

    from face_bench.core.io import digest_file, matches_recorded_digest

    good = converted.read_bytes()
    digest = hashlib.sha256(dat_path.read_bytes()).hexdigest()
    target = converted_path(tmp_path, digest)
    target.parent.mkdir(parents=True)
    if damage == "truncated":
        target.write_bytes(good[: len(good) // 2])
    elif damage == "another graph":
        target.write_bytes(another_valid_graph(converted))
    else:
        target.write_bytes(good)  # as an earlier face-bench left it: no record beside it
    if damage != "no digest recorded":
        digest_file(target).write_bytes(digest_file(converted).read_bytes())
    out = ensure_converted(dat_path, tmp_path, digest)
    assert out == target and out.read_bytes() == good
    assert matches_recorded_digest(out)


@pytest.mark.parametrize("cut", ["truncate", "trailing", "flip"])
def test_corrupt_dat_is_a_face_bench_error(dat_path: Path, tmp_path: Path, cut: str) -> None:
    data = bytearray(dat_path.read_bytes())
    if cut == "truncate":
        data = data[: len(data) // 2]
    elif cut == "trailing":
        data += b"\x01\x02"
    else:
        data[40] ^= 0xFF  # inside the layer-version run at the start
    bad = tmp_path / "bad.dat"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"bad\.dat") as caught:
        ensure_converted(bad, tmp_path / "cache")
    assert isinstance(caught.value, FaceBenchError)
    assert not (tmp_path / "cache" / "models").exists() or not any(
        (tmp_path / "cache" / "models").glob("*.onnx")
    )


def tensor_header(*dims: int) -> bytes:
    """A serialized resizable_tensor's version and dimensions."""
    return pack_int(2) + b"".join(pack_int(d) for d in dims)


def short_by_one(data: bytes, dims: tuple[int, ...], last: bool = False) -> bytes:
    """``data`` with the tensor of shape ``dims`` declared and stored one value shorter."""
    header = tensor_header(*dims)
    at = data.rfind(header) if last else data.find(header)
    assert at > 0
    count = int(np.prod(dims))
    shorter = tensor_header(count - 1, 1, 1, 1)
    body = at + len(header)
    return data[:at] + shorter + data[body + 4 : body + 4 * count] + data[body + 4 * count :]


@pytest.mark.parametrize(
    ("dims", "last", "what"),
    [
        ((4736, 1, 1, 1), False, "con params holds 4735 values, its shape needs 4736"),
        ((64, 1, 1, 1), False, "affine params holds 63 values, its shape needs 64"),
        ((256, 128, 1, 1), True, "fc params holds 32767 values, its shape needs 32768"),
    ],
    ids=["con", "affine", "fc"],
)
def test_a_tensor_one_value_short_is_refused_before_conversion(
    dat_path: Path, tmp_path: Path, dims, last, what
) -> None:
    bad = tmp_path / "short.dat"
    bad.write_bytes(short_by_one(dat_path.read_bytes(), dims, last))
    with pytest.raises(ModelFileError, match=what) as caught:
        ensure_converted(bad, tmp_path / "cache")
    assert caught.value.exit_code == 24 and "short.dat" in str(caught.value)
    assert not list((tmp_path / "cache").rglob("*.onnx"))


def test_nan_weights_are_refused(dat_path: Path, tmp_path: Path) -> None:
    data = dat_path.read_bytes()
    body = data.find(tensor_header(4736, 1, 1, 1)) + len(tensor_header(4736, 1, 1, 1))
    bad = tmp_path / "nan.dat"
    bad.write_bytes(data[:body] + np.float32(np.nan).tobytes() + data[body + 4 :])
    with pytest.raises(ModelFileError, match="con params holds NaN"):
        ensure_converted(bad, tmp_path / "cache")


@pytest.mark.parametrize("dims", [(0, 1 << 40, 1 << 40, 1 << 40), (1 << 62, 0, 0, 0)])
def test_an_empty_tensor_with_huge_dimensions_is_a_format_error(dims) -> None:
    reader = _Reader(tensor_header(*dims) + b"\0" * 64)
    with pytest.raises(DatFormatError, match="implausible tensor shape") as caught:
        reader.tensor()
    assert caught.value.exit_code == 24


def test_an_empty_tensor_of_modest_shape_still_reads() -> None:
    assert _Reader(tensor_header(0, 3, 2, 2)).tensor().shape == (0, 3, 2, 2)


def test_random_chips_match_dlib(session, dlib_net) -> None:
    chips = np.random.default_rng(1).integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    assert np.abs(run_onnx(session, chips) - run_dlib(dlib_net, chips)).max() <= TOLERANCE


def face_chips(folder: Path, every: int, limit: int | None = None) -> np.ndarray:
    """150x150 chips of a face set as face-bench cuts them for dlib (detect, 5 points)."""
    from face_stage import decode

    from face_bench.faces.locate import FaceSettings, locate
    from face_bench.models.backends import model_input
    from face_bench.models.registry import BUILTIN_MODELS

    with (folder / "manifest.csv").open(encoding="utf-8") as handle:
        paths = sorted(row["path"] for row in csv.DictReader(handle))[::every][:limit]
    chips = []
    for rel in paths:
        rgb = decode(folder / rel)
        entry = locate(rgb, FaceSettings())
        if entry.face is not None:
            face = entry.face
            chips.append(model_input(rgb, face, BUILTIN_MODELS["dlib"]))
    return np.stack(chips)


@needs_shared
def test_real_chips_match_dlib(session, dlib_net) -> None:
    """A fixed spread of 10 jp_faces_dev faces, batched as the pipeline batches them."""
    chips = face_chips(JP_FACES, every=97, limit=10)
    assert len(chips) >= 8
    got, want = run_onnx(session, chips), run_dlib(dlib_net, chips)
    assert np.abs(got - want).max() <= TOLERANCE
    single = np.concatenate([run_onnx(session, chips[i : i + 1]) for i in range(3)])
    assert np.abs(single - got[:3]).max() <= 1e-6  # batching does not change a descriptor


@needs_shared
@pytest.mark.slow
def test_every_fourth_chip_of_lfw_fold1_matches_dlib(session, dlib_net) -> None:
    # Every fourth photo (over 200 chips of as many people) keeps CI short;
    # benchmarks/bench_dlib_onnx.py compares every chip of lfw_fold1 and jp_faces_dev and
    # records the largest difference.
    chips = face_chips(LFW, every=4)
    assert len(chips) >= 200
    got = np.concatenate([run_onnx(session, chips[i : i + 32]) for i in range(0, len(chips), 32)])
    assert np.abs(got - run_dlib(dlib_net, chips)).max() <= TOLERANCE
