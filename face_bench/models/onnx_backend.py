"""ONNX models through onnxruntime: shape checks, preprocessing and batched inference."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face_bench.core.errors import ModelFileError, ModelShapeError

if TYPE_CHECKING:
    from face_bench.models.registry import ModelSpec


def _ort():
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def make_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session with full graph optimisation and threads matched to cores."""
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or (os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a loadable ONNX model ({first[:200]})") from None


@dataclass(frozen=True)
class OnnxIO:
    """The graph's single input and output names and the embedding width."""

    input_name: str
    output_name: str
    embedding_size: int


def _dim_matches(actual: object, expected: int) -> bool:
    return not isinstance(actual, int) or actual == expected


def check_io(session, spec: ModelSpec, path: Path) -> OnnxIO:
    """Refuse a graph whose input is not [N, 3, H, W] float or whose output is not [N, D]."""
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    if len(inputs) != 1:
        raise ModelShapeError(f"{path}: expected one input, found {len(inputs)}")
    shape = list(inputs[0].shape)
    height, width = spec.input_size
    if (
        len(shape) != 4
        or not _dim_matches(shape[1], 3)
        or not _dim_matches(shape[2], height)
        or not _dim_matches(shape[3], width)
    ):
        raise ModelShapeError(
            f"{path}: input {inputs[0].name!r} has shape {shape}; "
            f"model {spec.name!r} expects [N, 3, {height}, {width}]"
        )
    if inputs[0].type != "tensor(float)":
        raise ModelShapeError(f"{path}: input type {inputs[0].type}; expected tensor(float)")
    out_shape = list(outputs[0].shape)
    if len(out_shape) != 2:
        raise ModelShapeError(
            f"{path}: output {outputs[0].name!r} has shape {out_shape}; expected [N, D]"
        )
    dim = out_shape[1]
    if spec.embedding_size and isinstance(dim, int) and dim != spec.embedding_size:
        raise ModelShapeError(
            f"{path}: output has {dim} values; model {spec.name!r} expects {spec.embedding_size}"
        )
    size = dim if isinstance(dim, int) else (spec.embedding_size or 0)
    return OnnxIO(inputs[0].name, outputs[0].name, size)


def inspect_onnx(path: Path, spec: ModelSpec, memo_dir: Path | None = None) -> OnnxIO:
    """Load once and validate; used by ``face-bench models`` and before every run.

    A file that passed is remembered in ``memo_dir`` by path, size, mtime and the spec's
    shapes, so a cached rerun does not build an inference session just to re-check it.
    """
    import json

    stat = path.stat()
    shapes = f"{spec.input_size}|{spec.embedding_size}"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{shapes}"
    memo = memo_dir / "onnx-checked.json" if memo_dir else None
    known: dict = {}
    if memo and memo.is_file():
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if key in known:
                return OnnxIO(**known[key])
        except (OSError, ValueError, TypeError):
            known = {}
    io = check_io(make_session(path, threads=1), spec, path)
    if memo:
        from face_bench.core.io import atomic_write_text

        known[key] = {
            "input_name": io.input_name,
            "output_name": io.output_name,
            "embedding_size": io.embedding_size,
        }
        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, json.dumps(known, indent=0, sort_keys=True))
    return io


def to_tensor(rgb_images: list[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Stack HxWx3 uint8 RGB images (already at input size) into a normalised NCHW batch."""
    batch = np.stack(rgb_images).astype(np.float32)
    if spec.color_order == "BGR":
        batch = batch[..., ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    batch = (batch * np.float32(spec.scale) - mean) / std
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


class OnnxModel:
    """A loaded ONNX embedding model."""

    def __init__(self, spec: ModelSpec, path: Path, threads: int | None = None) -> None:
        self.spec = spec
        self.session = make_session(path, threads)
        self.io = check_io(self.session, spec, path)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Embeddings for an NCHW batch; shape or NaN problems are raised, not hidden."""
        out = self.session.run([self.io.output_name], {self.io.input_name: tensor})[0]
        out = np.asarray(out, dtype=np.float32).reshape(len(tensor), -1)
        if self.io.embedding_size and out.shape[1] != self.io.embedding_size:
            raise ModelShapeError(
                f"model {self.spec.name!r} returned {out.shape[1]} values; "
                f"expected {self.io.embedding_size}"
            )
        return out
