"""Exports as they ship: what keeps onnxruntime from running them, mended in memory.

Real exports carry leftovers that other runtimes tolerate and onnxruntime does not:

* graph inputs that no node reads (an onnxruntime session demands a value for each), and
  weights listed as graph inputs besides being initializers (each then looks like an
  input to feed and blocks constant folding);
* ``DequantizeLinear`` nodes with a ``block_size`` on per-tensor or per-axis scales,
  which onnxruntime refuses when it runs them ("block_size must be 0 for per-tensor
  quantization"): their constant weights are dequantized to float initializers.

The file is never written: the mended graph is serialised and handed to onnxruntime as
bytes, and what was changed is listed, so a run's cache key and ``face-bench models
--inspect`` can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.models.weights_files import message_fields


@dataclass(frozen=True)
class GraphRepair:
    """The mended graph as bytes (None when the file runs as it is) and what was changed."""

    data: bytes | None
    changes: tuple[str, ...]


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _drop_inputs(graph: Any) -> list[str]:
    """Remove graph inputs no node or output reads, and inputs that are initializers."""
    used = _read_names(graph)
    initializers = {tensor.name for tensor in graph.initializer}
    unused = [i.name for i in graph.input if i.name not in used and i.name not in initializers]
    weights = [i.name for i in graph.input if i.name in initializers]
    if not unused and not weights:
        return []
    keep = [i for i in graph.input if i.name not in initializers and i.name in used]
    del graph.input[:]
    graph.input.extend(keep)
    return _dropped_inputs_changes(unused, weights)


def _read_names(graph: Any) -> set[str]:
    """Every name a node reads or the graph outputs: what must stay defined."""
    return {name for node in graph.node for name in node.input} | {o.name for o in graph.output}


def _dropped_inputs_changes(unused: list[str], weights: list[str]) -> list[str]:
    """The dropped inputs in words, unread ones and weights apart, for the cache key."""
    changes = []
    if unused:
        changes.append(f"dropped {len(unused)} graph input(s) no node reads: {_names(unused)}")
    if weights:
        changes.append(
            f"dropped {len(weights)} graph input(s) that are initializers (weights): "
            f"{_names(weights)}"
        )
    return changes


def _attribute(node: Any, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(attribute.i)
    return default


def _broadcast(values: np.ndarray, shape: tuple[int, ...], axis: int, block: int) -> np.ndarray:
    """A scale or zero point spread over the quantized tensor's shape (ONNX semantics)."""
    if values.size == 1:
        return values.reshape(())
    if values.ndim == len(shape) and block > 0:  # blocked: one value per block along axis
        return np.repeat(values, block, axis=axis).take(range(shape[axis]), axis=axis)
    view = [1] * len(shape)
    view[axis] = -1
    return values.reshape(view)  # per-axis


def dequantize(
    quantized: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int
) -> np.ndarray:
    """``(q - zero_point) * scale`` in the scale's float type, as DequantizeLinear computes it."""
    axis = axis % max(quantized.ndim, 1)
    values = quantized.astype(np.float64)
    if zero is not None:
        values = values - _broadcast(zero.astype(np.float64), quantized.shape, axis, block)
    result = values * _broadcast(scale.astype(np.float64), quantized.shape, axis, block)
    return result.astype(scale.dtype)


def _refused_block(node: Any, constants: dict[str, np.ndarray]) -> bool:
    """A DequantizeLinear with block_size on scales that are not blocked (onnxruntime refuses)."""
    if node.op_type != "DequantizeLinear" or _attribute(node, "block_size", 0) == 0:
        return False
    if len(node.input) < 2 or node.input[1] not in constants or node.input[0] not in constants:
        return False
    scale, quantized = constants[node.input[1]], constants[node.input[0]]
    return scale.size == 1 or scale.ndim != quantized.ndim


def _dequantize_blocked(graph: Any) -> list[str]:
    """Replace refused DequantizeLinear nodes on constant weights by float initializers."""
    from onnx import numpy_helper

    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    refused = [node for node in graph.node if _refused_block(node, constants)]
    if not refused:
        return []
    for node in refused:
        value = _dequantized_value(node, constants)
        graph.initializer.append(numpy_helper.from_array(value, name=node.output[0]))
        graph.node.remove(node)
    _drop_orphans(graph, refused)
    return [
        f"dequantized {len(refused)} DequantizeLinear node(s) whose block_size sits on "
        "per-tensor or per-axis scales (onnxruntime refuses them) into float weights"
    ]


def _dequantized_value(node: Any, constants: dict[str, np.ndarray]) -> np.ndarray:
    """What a DequantizeLinear node on constant inputs computes (zero point optional)."""
    inputs = list(node.input) + [""] * 3
    zero = constants.get(inputs[2]) if inputs[2] else None
    return dequantize(
        constants[inputs[0]],
        constants[inputs[1]],
        zero,
        _attribute(node, "axis", 1),
        _attribute(node, "block_size", 0),
    )


def _drop_orphans(graph: Any, removed: list[Any]) -> None:
    """Remove the initializers only the removed nodes read (the quantized weights, scales)."""
    read = _read_names(graph)
    spent = {name for node in removed for name in node.input}
    orphans = [t for t in graph.initializer if t.name in spent and t.name not in read]
    for tensor in orphans:
        graph.initializer.remove(tensor)


def _repair_bytes(raw: bytes) -> GraphRepair:
    import onnx

    try:
        model = onnx.load_from_string(raw)
    except Exception:  # not a protobuf onnx reads: onnxruntime reports it in its own words
        return GraphRepair(None, ())
    changes = _drop_inputs(model.graph) + _dequantize_blocked(model.graph)
    if not changes:
        return GraphRepair(None, ())
    return GraphRepair(model.SerializeToString(), tuple(changes))


# onnx.proto field numbers read by ``runs_as_is``.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 1, 5, 11, 12
_NODE_INPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 4, 5
_ATTR_NAME, _ATTR_I = 1, 3
_TENSOR_NAME = 8
_VALUE_NAME = 1


def runs_as_is(raw: bytes) -> bool:
    """True when ``_repair_bytes`` surely changes nothing in this graph: every graph input
    is read and none is an initializer, and no ``DequantizeLinear`` has a ``block_size``.

    Read with the minimal protobuf reader of ``weights_files``, so that a model that needs
    no mending (the usual case) is loaded without importing ``onnx`` (most of a second,
    in the run and in every worker). False means "not sure": the graph is parsed.
    """
    try:
        graphs = [
            value for field, value in message_fields(memoryview(raw)) if field == _MODEL_GRAPH
        ]
        if len(graphs) != 1:  # several graph fields merge into one: left to onnx
            return False
        read: set[bytes] = set()
        inputs: list[bytes] = []
        initializers: set[bytes] = set()
        for field, value in message_fields(_message(graphs[0])):
            if field == _GRAPH_NODE:
                node_inputs, blocked = _node_facts(_message(value))
                if blocked:
                    return False
                read |= node_inputs
            elif field == _GRAPH_INITIALIZER:
                initializers.add(_last_name(_message(value), _TENSOR_NAME))
            elif field == _GRAPH_INPUT:
                inputs.append(_last_name(_message(value), _VALUE_NAME))
            elif field == _GRAPH_OUTPUT:
                read.add(_last_name(_message(value), _VALUE_NAME))
    except (ValueError, IndexError, TypeError):
        return False
    return all(name in read and name not in initializers for name in inputs)


def _message(value: object) -> memoryview:
    """An embedded message's bytes (a number in its place: not a graph onnx loads)."""
    if not isinstance(value, memoryview):
        raise TypeError("not a message field")
    return value


def _last_name(message: Any, number: int) -> bytes:
    """A message's string field ``number`` (the last one given wins, as in protobuf)."""
    name = b""
    for field, value in message_fields(message):
        if field == number:
            name = _text(value)
    return name


def _text(value: object) -> bytes:
    """A string field's bytes; a number where a string belongs is no graph onnx loads."""
    if not isinstance(value, memoryview):
        raise TypeError("not a string field")
    return bytes(value)


def _node_facts(node: Any) -> tuple[set[bytes], bool]:
    """A node's input names, and whether it is a ``DequantizeLinear`` with a block size."""
    inputs: set[bytes] = set()
    op_type, block = b"", False
    for field, value in message_fields(node):
        if field == _NODE_INPUT:
            inputs.add(_text(value))
        elif field == _NODE_OP_TYPE:
            op_type = _text(value)
        elif field == _NODE_ATTRIBUTE:
            facts = dict(message_fields(_message(value)))
            name = facts.get(_ATTR_NAME, memoryview(b""))
            if _text(name) == b"block_size" and facts.get(_ATTR_I, 0):
                block = True
    return inputs, block and op_type == b"DequantizeLinear"


@lru_cache(maxsize=8)
def _repair_cached(file: tuple[str, int, int]) -> GraphRepair:
    """Memoised on (path, size, mtime): a process loads each model once or twice."""
    raw = Path(file[0]).read_bytes()
    return GraphRepair(None, ()) if runs_as_is(raw) else _repair_bytes(raw)


def repair_graph(path: Path) -> GraphRepair:
    """The graph at ``path`` mended in memory for onnxruntime, or ``data=None`` when it runs
    as it is (also for models with external data files, which are loaded as they are)."""
    from face_bench.models.weights_files import external_data_files

    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return GraphRepair(None, ())
    if path.suffix.lower() == ".onnx" and external_data_files(path):
        return GraphRepair(None, ())
    return _repair_cached((str(path.resolve()), stat.st_size, stat.st_mtime_ns))


def graph_changes(path: Path, sha256: str, memo_dir: Path | None = None) -> tuple[str, ...]:
    """What ``repair_graph`` changes in the file whose SHA-256 is ``sha256``.

    Remembered in ``memo_dir`` by that digest, so a cached rerun neither imports ``onnx``
    nor parses the graph just to name the changes in its cache key.
    """
    import json

    memo = memo_dir / "onnx-repairs.json" if memo_dir else None
    known: dict = {}
    if memo and memo.is_file():
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if isinstance(known.get(sha256), list):
                return tuple(str(change) for change in known[sha256])
        except (OSError, ValueError, AttributeError):
            known = {}
    changes = repair_graph(path).changes
    if memo:
        from face_bench.core.io import atomic_write_text

        known[sha256] = list(changes)
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(memo, json.dumps(known, indent=0, sort_keys=True))
        except OSError:
            pass  # an unwritable memo only costs the next run a parse
    return changes
