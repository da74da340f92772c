"""Every file a model loads, and one digest over all of them.

An ONNX model above 2 GB keeps its weights in external data files named inside the
graph (``TensorProto.external_data`` with ``location``). Hashing only the ``.onnx``
file would let changed weights reuse old embeddings and pass the gate under the same
``weights_sha256``, so the files are read from the graph itself and all hashed, every
run: size and modification time are never trusted to skip a hash.

The graph is walked with a minimal protobuf reader (field numbers from onnx.proto), so
no ``onnx`` package is needed at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from face_bench.core.errors import ModelFileError
from face_bench.core.io import sha256_file

# onnx.proto field numbers of the messages that can hold tensors.
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_FUNCTION_NODE = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL, _TENSOR_LOCATION = 13, 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2
_EXTERNAL = 1


def weights_sha256(path: Path) -> str:
    """The digest of everything the model at ``path`` loads.

    A self-contained file's digest is its own SHA-256 (so existing results keep theirs);
    with external data it is the SHA-256 of a listing of every file and its SHA-256.
    """
    path = Path(path)
    extra = external_data_files(path) if path.suffix.lower() == ".onnx" else []
    own = sha256_file(path)
    if not extra:
        return own
    listing = [f"{path.name}\t{own}"]
    for file in extra:
        try:
            listing.append(f"{file.relative_to(path.parent).as_posix()}\t{sha256_file(file)}")
        except OSError as exc:
            raise ModelFileError(
                f"{path}: cannot read its external data file {file}: {exc.strerror or exc}"
            ) from None
    return hashlib.sha256("\n".join(listing).encode("utf-8")).hexdigest()


def external_data_files(path: Path) -> list[Path]:
    """The external data files an ONNX model names, resolved beside it, sorted."""
    try:
        data = memoryview(Path(path).read_bytes())
    except OSError:
        return []  # the loader reports an unreadable model with its own message
    names: set[str] = set()
    try:
        for field, value in message_fields(data):
            if field == _MODEL_GRAPH:
                names |= _graph_locations(value)
            elif field == _MODEL_FUNCTIONS:
                for f2, node in message_fields(value):
                    if f2 == _FUNCTION_NODE:
                        names |= _node_locations(node)
    except (ValueError, IndexError):
        return []  # not a protobuf: the loader refuses it
    base = Path(path).parent
    return sorted({(base / name) for name in names})


def _graph_locations(graph: memoryview) -> set[str]:
    found: set[str] = set()
    for field, value in message_fields(graph):
        if field == _GRAPH_INITIALIZER:
            found |= _tensor_location(value)
        elif field == _GRAPH_SPARSE:
            found |= _sparse_locations(value)
        elif field == _GRAPH_NODE:
            found |= _node_locations(value)
    return found


def _node_locations(node: memoryview) -> set[str]:
    found: set[str] = set()
    for field, attribute in message_fields(node):
        if field != _NODE_ATTRIBUTE:
            continue
        for f2, value in message_fields(attribute):
            if f2 in (_ATTR_T, _ATTR_TENSORS):
                found |= _tensor_location(value)
            elif f2 in (_ATTR_G, _ATTR_GRAPHS):
                found |= _graph_locations(value)
            elif f2 in (_ATTR_SPARSE, _ATTR_SPARSES):
                found |= _sparse_locations(value)
    return found


def _sparse_locations(sparse: memoryview) -> set[str]:
    found: set[str] = set()
    for field, value in message_fields(sparse):
        if field in (_SPARSE_VALUES, _SPARSE_INDICES):
            found |= _tensor_location(value)
    return found


def _tensor_location(tensor: memoryview) -> set[str]:
    external, entries = False, []
    for field, value in message_fields(tensor):
        if field == _TENSOR_LOCATION:
            external = value == _EXTERNAL
        elif field == _TENSOR_EXTERNAL:
            entry = dict(message_fields(value))
            if bytes(entry.get(_ENTRY_KEY, b"")) == b"location":
                entries.append(bytes(entry.get(_ENTRY_VALUE, b"")).decode("utf-8", "replace"))
    return set(entries) if external or entries else set()


def message_fields(buffer: memoryview) -> Iterator[tuple[int, object]]:
    """(field number, value) of one protobuf message; values of unneeded types are skipped."""
    position, end = 0, len(buffer)
    while position < end:
        key, position = _varint(buffer, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(buffer, position)
            yield field, value
        elif wire == 2:
            length, position = _varint(buffer, position)
            if position + length > end:
                raise ValueError("truncated field")
            yield field, buffer[position : position + length]
            position += length
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _varint(buffer: memoryview, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
