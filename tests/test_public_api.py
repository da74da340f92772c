"""The public API: every name in ``face_bench.__all__`` resolves, and importing is light."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import face_bench

BASELINES = Path(__file__).resolve().parent / "baselines"


def test_all_lists_exactly_the_exported_names() -> None:
    assert face_bench.__all__ == sorted(face_bench.__all__)
    assert len(set(face_bench.__all__)) == len(face_bench.__all__)
    assert set(face_bench.__all__) == {*face_bench._EXPORTS, "load_results", "__version__"}
    assert set(face_bench.__all__) <= set(dir(face_bench))


@pytest.mark.parametrize("name", sorted(face_bench._EXPORTS))
def test_each_name_is_the_library_object(name: str) -> None:
    module = importlib.import_module(face_bench._EXPORTS[name])
    assert getattr(face_bench, name) is getattr(module, name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'evaluat'"):
        face_bench.evaluat  # noqa: B018 - the look-up is the test


def test_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, face_bench; "
        "print([m for m in ('numpy', 'pandas', 'sklearn', 'dlib', 'onnxruntime', 'umap', "
        "'matplotlib', 'face_bench.run') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_results_reads_every_version_the_gate_reads() -> None:
    current = face_bench.load_results(BASELINES / "young_women-40.json")
    older = face_bench.load_results(BASELINES / "young_women-40.v1.json")
    assert isinstance(current, face_bench.RunResults) and isinstance(older, face_bench.RunResults)
    assert current.schema_version == older.schema_version  # v1 upgraded on reading
    assert [m.name for m in older.models] == [m.name for m in current.models]


def test_load_results_refuses_a_non_results_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(face_bench.FaceBenchError, match="not a face-bench results file"):
        face_bench.load_results(path)
