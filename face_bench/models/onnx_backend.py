"""The ONNX backend: models through onnxruntime, with shape checks, preprocessing and
batched inference. ``face-bench models --inspect`` (``models.onnx_inspect``) suggests a
spec for a file; ``models.onnx_repair`` mends exports onnxruntime would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face_bench.core.cpus import usable_cpus
from face_bench.core.errors import ModelFileError, ModelShapeError
from face_bench.models.backend import BaseBackend, Embedder
from face_bench.models.inputs import aligned_input, resized_input
from face_bench.models.onnx_repair import graph_changes, repair_graph
from face_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    from face_bench.faces.locate import Face


def _ort():
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def make_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session with full graph optimisation and threads matched to cores.

    The graph is first mended in memory where an export as shipped would stop onnxruntime
    (``onnx_repair``); the file itself is only read.
    """
    ort = _ort()
    repaired = repair_graph(path)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or usable_cpus()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        model = repaired.data if repaired.data is not None else str(path)
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a loadable ONNX model ({first[:200]})") from None


@dataclass(frozen=True)
class OnnxIO:
    """The graph's input and output to use, the embedding width and any fixed batch size."""

    input_name: str
    output_name: str
    embedding_size: int
    batch: int | None = None  # the graph's fixed batch dimension; None when dynamic


def _dim_matches(actual: object, expected: int) -> bool:
    return not isinstance(actual, int) or actual == expected


def _dims(shape: list) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "N" for d in shape) + "]"


def _listing(items) -> str:
    return ", ".join(f"{item.name!r} {_dims(list(item.shape))}" for item in items)


def _pick(kind: str, items: list, wanted: str | None, spec: ModelSpec, path: Path):
    """The named input/output, or the only one; otherwise an error listing them all."""
    if wanted is not None:
        for item in items:
            if item.name == wanted:
                return item
        raise ModelShapeError(
            f"{path}: model {spec.name!r} names {kind} {wanted!r}, which the graph does not "
            f"have; its {kind}s: {_listing(items)}"
        )
    if len(items) == 1:
        return items[0]
    raise ModelShapeError(
        f"{path}: the graph has {len(items)} {kind}s ({_listing(items)}); say which one to use "
        f'with {kind} = "NAME" in [models.{spec.name}]'
    )


def _check_input(item, spec: ModelSpec, path: Path) -> int | None:
    """Refuse an input that is not a float image batch in the spec's layout; its fixed batch."""
    shape = list(item.shape)
    height, width = spec.input_size
    channels, rows, cols = (1, 2, 3) if spec.layout == "NCHW" else (3, 1, 2)
    if (
        len(shape) != 4
        or not _dim_matches(shape[channels], 3)
        or not _dim_matches(shape[rows], height)
        or not _dim_matches(shape[cols], width)
    ):
        expected = [3, height, width] if spec.layout == "NCHW" else [height, width, 3]
        raise ModelShapeError(
            f"{path}: input {item.name!r} has shape {_dims(shape)}; model {spec.name!r} "
            f"(layout {spec.layout}) expects {_dims(['N', *expected])}"
        )
    if item.type != "tensor(float)":
        raise ModelShapeError(f"{path}: input type {item.type}; expected tensor(float)")
    batch = shape[0]
    return batch if isinstance(batch, int) and batch > 0 else None


def _embedding_width(item, spec: ModelSpec, path: Path) -> int | None:
    """D of an [N, D] output (or [N, D, 1, 1] / [N, 1, 1, D]); None when D is symbolic."""
    shape = list(item.shape)
    rest = shape[1:]
    wide = [d for d in rest if d != 1]
    if not rest or len(wide) > 1:
        raise ModelShapeError(
            f"{path}: output {item.name!r} has shape {_dims(shape)}; expected [N, D]"
        )
    dim = wide[0] if wide else 1
    if spec.embedding_size and isinstance(dim, int) and dim != spec.embedding_size:
        raise ModelShapeError(
            f"{path}: output {item.name!r} has {dim} values; "
            f"model {spec.name!r} expects {spec.embedding_size}"
        )
    return dim if isinstance(dim, int) else None


def check_io(session, spec: ModelSpec, path: Path) -> OnnxIO:
    """Choose the input and output and refuse shapes face-bench cannot feed or read."""
    inputs = session.get_inputs()
    item = _pick("input", inputs, spec.input, spec, path)
    others = [i for i in inputs if i.name != item.name]
    if others:
        raise ModelShapeError(
            f"{path}: besides {item.name!r} the graph needs input(s) {_listing(others)}, "
            "which face-bench cannot feed; export the model with one image input"
        )
    batch = _check_input(item, spec, path)
    output = _pick("output", session.get_outputs(), spec.output, spec, path)
    dim = _embedding_width(output, spec, path)
    size = dim or spec.embedding_size or 0
    return OnnxIO(item.name, output.name, size, batch)


def inspect_onnx(path: Path, spec: ModelSpec, memo_dir: Path | None = None) -> OnnxIO:
    """Load once and validate; used by ``face-bench models`` and before every run.

    A file that passed is remembered in ``memo_dir`` by path, size, mtime and the spec's
    shapes, so a cached rerun does not build an inference session just to re-check it.
    """
    import dataclasses
    import json

    stat = path.stat()
    shapes = f"{spec.input_size}|{spec.embedding_size}|{spec.layout}|{spec.input}|{spec.output}"
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{shapes}"
    memo = memo_dir / "onnx-checked.json" if memo_dir else None
    known: dict = {}
    if memo and memo.is_file():
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if key in known:
                return OnnxIO(**known[key])
        except (OSError, ValueError, TypeError, RecursionError):
            known = {}
    io = check_io(make_session(path, threads=1), spec, path)
    if memo:
        from face_bench.core.io import atomic_write_text

        known[key] = dataclasses.asdict(io)
        memo.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo, json.dumps(known, indent=0, sort_keys=True))
    return io


def to_tensor(rgb_images: list[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Stack HxWx3 uint8 RGB images (already at input size) into a normalised batch.

    The batch is NCHW or NHWC as the spec's ``layout`` says.
    """
    batch = np.stack(rgb_images).astype(np.float32)
    if spec.color_order == "BGR":
        batch = batch[..., ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    batch = (batch * np.float32(spec.scale) - mean) / std
    if spec.layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch)


class OnnxModel:
    """A loaded ONNX embedding model."""

    def __init__(self, spec: ModelSpec, path: Path, threads: int | None = None) -> None:
        self.spec = spec
        self.session = make_session(path, threads)
        self.io = check_io(self.session, spec, path)

    @property
    def batch_size(self) -> int:
        return self.spec.batch_size

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings of uint8 RGB inputs already at the input size."""
        return self.infer(to_tensor(list(chips), self.spec))

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Embeddings for a batch; shape or NaN problems are raised, not hidden.

        A graph exported with a fixed batch size is fed exactly that many images at a
        time (the last chunk padded by repeating its final image, whose extra outputs
        are dropped), so a batch-1 export runs one image at a time.
        """
        fixed = self.io.batch
        if fixed is None or len(tensor) == fixed:
            return self._run(tensor)
        parts = []
        for start in range(0, len(tensor), fixed):
            chunk = tensor[start : start + fixed]
            count = len(chunk)
            if count < fixed:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - count, axis=0)])
            parts.append(self._run(chunk)[:count])
        return np.concatenate(parts)

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        out = self.session.run([self.io.output_name], {self.io.input_name: tensor})[0]
        out = np.asarray(out, dtype=np.float32).reshape(len(tensor), -1)
        if self.io.embedding_size and out.shape[1] != self.io.embedding_size:
            raise ModelShapeError(
                f"model {self.spec.name!r} returned {out.shape[1]} values; "
                f"expected {self.io.embedding_size}"
            )
        return self.spec.finish(out)


class OnnxBackend(BaseBackend):
    """An ONNX export (``backend = "onnx"``), its preprocessing all in the spec."""

    name = "onnx"

    def load(self, spec: ModelSpec, files: Path, threads: int | None = None) -> Embedder:
        return OnnxModel(spec, files, threads)

    def chip(self, spec: ModelSpec, rgb: np.ndarray, face: Face) -> np.ndarray:
        """A detected face aligned with the spec's template; a whole-image crop resized
        (bilinear), its authors' recipe for aligned crops."""
        if face.source == "whole_image":
            return resized_input(rgb, spec)
        return aligned_input(rgb, face, spec)

    def inspect(self, spec: ModelSpec, weights: Path, cache_dir: Path | None) -> None:
        inspect_onnx(weights, spec, cache_dir)

    def mended(self, weights: Path, digest: str, cache_dir: Path) -> tuple[str, ...]:
        """An export mended in memory (``onnx_repair``): what was changed is part of it."""
        return tuple(graph_changes(weights, digest, cache_dir))
