"""The Backend protocol: a third backend runs through the pipeline by implementing it; the
records that cross process boundaries pickle; no code outside the backend registry
compares a backend's name."""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import corpus
import numpy as np
import pytest
from conftest import needs_shared

from face_bench.core.errors import ConfigError
from face_bench.core.modes import AlignMode
from face_bench.core.records import CacheEntry
from face_bench.embedding.workers import Outcome, Task, WorkerModel
from face_bench.faces.alignment import FaceBox
from face_bench.faces.locate import Face, FaceEntry
from face_bench.models.backend import Backend, BaseBackend, Embedder
from face_bench.models.backends import (
    backend_for,
    get_backend,
    make_spec,
    preprocessing,
    register_backend,
    unregister_backend,
)
from face_bench.models.inputs import resized_input
from face_bench.models.spec import BUILTIN_MODELS, ModelSpec
from face_bench.run.request import EmbedSettings

PACKAGE = Path(__file__).resolve().parent.parent / "face_bench"


class MeanColour:
    """A 'model' whose embedding is its input's mean colour, then its spread."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def batch_size(self) -> int:
        return self.spec.batch_size

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        pixels = [chip.reshape(-1, 3).astype(np.float32) for chip in chips]
        return np.stack([np.r_[p.mean(axis=0), p.std(axis=0)] for p in pixels]).astype(np.float32)


class FakeBackend(BaseBackend):
    """A third backend: no weights of its own to check, a whole-image input."""

    name = "fake"
    loads: ClassVar[list[str]] = []

    def load(self, spec: ModelSpec, files: Path, threads: int | None = None) -> Embedder:
        FakeBackend.loads.append(files.read_text(encoding="utf-8"))
        return MeanColour(spec)

    def chip(self, spec: ModelSpec, rgb: np.ndarray, face: Face) -> np.ndarray:
        return resized_input(rgb, spec)

    def identity(self, spec: ModelSpec) -> dict[str, Any]:
        return {"fake_version": 1}


@pytest.fixture
def fake_backend():
    backend = FakeBackend()
    register_backend(backend)
    FakeBackend.loads.clear()
    yield backend
    unregister_backend("fake")


def test_the_builtin_backends_implement_the_protocol():
    for name in ("dlib", "onnx"):
        backend: Backend = get_backend(name)
        assert backend.name == name
    assert backend_for(BUILTIN_MODELS["dlib"]).fixed_preprocessing
    assert not backend_for(BUILTIN_MODELS["japanese-face-v1"]).fixed_preprocessing


@pytest.mark.usefixtures("fake_backend")
def test_a_name_is_registered_once_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_backend(FakeBackend())
    with pytest.raises(ValueError, match=r"backend: unknown backend 'tensorflow'; known: dlib"):
        make_spec("x", {"backend": "tensorflow", "threshold": 0.4})
    spec = make_spec("x", {"backend": "fake", "threshold": 0.4})
    assert preprocessing(spec)["fake_version"] == 1 and preprocessing(spec)["backend"] == "fake"
    unregister_backend("onnx")  # the built-ins stay
    assert get_backend("onnx").name == "onnx"


@needs_shared
@pytest.mark.usefixtures("fake_backend")
def test_a_third_backend_runs_through_the_pipeline(tmp_path):
    from face_bench.run import embed as embed_step

    weights = tmp_path / "fake.weights"
    weights.write_text("fake weights", encoding="utf-8")
    config = tmp_path / "face-bench.toml"
    config.write_text(
        f'[models.mean-colour]\nbackend = "fake"\npath = "{weights.as_posix()}"\n'
        'input_size = [32, 32]\nsimilarity = "euclidean"\nthreshold = 10.0\nbatch_size = 4\n',
        encoding="utf-8",
    )
    images = sorted(corpus.JP_FACES.glob("images/*/*_1.png"))[:6]
    cache = tmp_path / "cache"

    settings = EmbedSettings(
        models=("mean-colour",), align=AlignMode.NONE, config_path=config, cache_dir=cache,
        workers=1,
    )  # fmt: skip

    def embed():
        return embed_step.embed_files(images, settings)

    first = embed()
    result = first.embeddings["mean-colour"]
    assert result.vectors.shape == (6, 6) and not result.failures
    assert result.computed == 6 and FakeBackend.loads == ["fake weights"]
    described = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in (cache / "embeddings").glob("*/model.json")
    ]
    (identity,) = [d for d in described if d.get("name") == "mean-colour"]
    assert identity["preprocessing"]["fake_version"] == 1
    again = embed().embeddings["mean-colour"]
    assert again.cached == 6 and again.computed == 0 and FakeBackend.loads == ["fake weights"]
    assert again.vectors.tobytes() == result.vectors.tobytes()


def test_a_backend_refuses_a_spec_it_cannot_run_by_name_of_its_key(tmp_path):
    from face_bench.core.config import load_config
    from face_bench.models.registry import build_registry

    config = tmp_path / "face-bench.toml"
    config.write_text('[models.x]\nbackend = "onnx"\nthreshold = 0.4\nruntime = "dlib"\n')
    with pytest.raises(ConfigError, match=r"\[models.x\] runtime = 'dlib' only applies"):
        build_registry(load_config(config), {}, tmp_path)


def _face(marks: bool) -> Face:
    points = tuple((i, i + 1) for i in range(5))
    floats = tuple((i + 0.25, i + 0.5) for i in range(5)) if marks else None
    return Face(2, "detector", FaceBox(1, 2, 30, 40), points, floats)


@pytest.mark.parametrize("marks", [False, True])
def test_worker_records_pickle_round_trip(marks):
    face = _face(marks)
    task = Task("a.png", "ab" * 32, face, ("dlib", "japanese-face-v1"))
    assert pickle.loads(pickle.dumps(task)) == task
    vector = np.arange(4, dtype=np.float32)
    outcome = Outcome(
        "ab" * 32,
        FaceEntry(face),
        {"m": CacheEntry(vector, n_faces=2), "n": CacheEntry(None, "no_face", "none")},
    )
    back = pickle.loads(pickle.dumps(outcome))
    assert (back.sha256, back.face) == (outcome.sha256, outcome.face)
    assert back.outputs["m"].vector.tobytes() == vector.tobytes()
    assert back.outputs["m"].n_faces == 2 and back.outputs["n"] == outcome.outputs["n"]
    for spec in BUILTIN_MODELS.values():
        model = WorkerModel(spec.name, spec, "weights", backend_for(spec))
        again = pickle.loads(pickle.dumps(model))
        assert again.spec == spec and type(again.backend) is type(model.backend)


def test_a_face_entry_and_its_failure_pickle():
    failed = FaceEntry(None, "no_face", "no face found")
    assert pickle.loads(pickle.dumps(failed)) == failed
    assert failed.failure() == CacheEntry(None, "no_face", "no face found")


# A backend's name compared anywhere: `spec.backend == "onnx"`, `"dlib" != backend`, a
# table's `.get("backend") == ...`, or a runtime compared with a backend's name as a string.
COMPARISON = re.compile(
    r"""backend["')\]]*\s*[!=]=|[!=]=\s*["'](dlib|onnx)["']|["'](dlib|onnx)["']\s*[!=]=|"""
    r"""\bin\s*\(\s*["'](dlib|onnx)["']"""
)


def test_no_backend_name_is_compared_outside_the_backend_registry():
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() != "models/backends.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if COMPARISON.search(line)
    ]
    assert found == []


def test_the_comparison_pattern_finds_what_it_should():
    for line in ('if spec.backend == "dlib":', 'data.get("backend") != "onnx"',
                 'x = "onnx" == runtime', 'if runtime in ("onnx", "dlib"):'):  # fmt: skip
        assert COMPARISON.search(line), line
    assert not COMPARISON.search('backend="dlib",')
