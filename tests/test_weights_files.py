"""The weights digest covers every file a model loads, and is never skipped on size+mtime."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import TINY_ONNX, needs_shared

from face_bench.core.io import sha256_file
from face_bench.models.weights_files import external_data_files, weights_sha256

onnx = pytest.importorskip("onnx")


def _external(tmp_path: Path, location: str = "weights.data") -> Path:
    model = onnx.load(str(TINY_ONNX))
    path = tmp_path / "model.onnx"
    onnx.save_model(
        model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
        location=location, size_threshold=0,
    )  # fmt: skip
    return path


def _flip_keeping_size_and_mtime(path: Path) -> None:
    info = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


@needs_shared
@pytest.mark.parametrize("location", ["weights.data", "sub/w.bin"])
def test_external_data_files_are_found_and_hashed(tmp_path, location):
    if "/" in location:
        (tmp_path / "sub").mkdir()
    path = _external(tmp_path, location)
    assert external_data_files(path) == [tmp_path / location]
    before = weights_sha256(path)
    assert before != sha256_file(path)
    _flip_keeping_size_and_mtime(tmp_path / location)
    assert weights_sha256(path) != before


@needs_shared
def test_onnxruntime_loads_the_external_model_it_hashed(tmp_path):
    from face_bench.models.onnx_backend import make_session

    path = _external(tmp_path)
    assert make_session(path, threads=1).get_inputs()
    assert len(external_data_files(path)) == 1


@needs_shared
def test_self_contained_model_digest_is_its_file_hash():
    assert external_data_files(TINY_ONNX) == []
    assert weights_sha256(TINY_ONNX) == hashlib.sha256(TINY_ONNX.read_bytes()).hexdigest()


def test_same_size_and_mtime_is_hashed_again(tmp_path):
    weights = tmp_path / "w.dat"
    weights.write_bytes(b"weights one")
    first = sha256_file(weights, tmp_path)
    _flip_keeping_size_and_mtime(weights)
    assert sha256_file(weights, tmp_path) != first


def test_not_a_protobuf_lists_nothing(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 64)
    assert external_data_files(junk) == []
