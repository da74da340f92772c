"""Tests for face_bench.embedding.cache: round trips, atomic writes, damage detection, keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import corpus
import numpy as np
import pytest
from conftest import needs_shared

from face_bench.core.errors import OutputError
from face_bench.core.io import atomic_write_text, default_cache_dir, sha256_file
from face_bench.core.records import CacheEntry
from face_bench.embedding.cache import EmbeddingCache, model_key
from face_bench.faces.locate import FaceSettings
from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
from face_bench.run.embed import _model_identity
from face_bench.run.request import EmbedSettings

IDENTITY = {"name": "m", "weights_sha256": "ab" * 32, "preprocessing": {"size": 224}}
SHA = "0f" * 32


def store(tmp_path: Path, identity: dict = IDENTITY) -> EmbeddingCache:
    return EmbeddingCache(tmp_path, identity)


def test_vector_round_trip_is_exact(tmp_path):
    vector = np.random.default_rng(0).standard_normal(512).astype(np.float32)
    vector[:3] = [np.float32(1e-38), -0.0, np.float32(3.4e38)]
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(vector, n_faces=2))
    got = store(tmp_path).get(SHA)
    assert got is not None and got.ok and got.n_faces == 2
    assert got.vector.dtype == np.float32 and got.vector.tobytes() == vector.tobytes()


def test_failure_round_trip(tmp_path):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(None, "truncated", "image file is truncated (9 bytes)"))
    got = store(tmp_path).get(SHA)
    assert got == CacheEntry(None, "truncated", "image file is truncated (9 bytes)")


def test_absent_entry_is_none_not_damage(tmp_path):
    cache = store(tmp_path)
    assert cache.get(SHA) is None and cache.corrupt_seen == 0


def test_layout_and_model_description(tmp_path):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(np.ones(4, np.float32)))
    folder = tmp_path / "embeddings" / model_key(IDENTITY)
    assert (folder / SHA[:2] / f"{SHA}.json").is_file()
    assert json.loads((folder / "model.json").read_text()) == IDENTITY


def test_writes_leave_no_temp_files(tmp_path):
    cache = store(tmp_path)
    for i in range(50):
        cache.put(f"{i:064x}", CacheEntry(np.full(8, i, np.float32)))
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")] == []
    assert len(list(tmp_path.rglob("*.json"))) == 51


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "entry.json"
    atomic_write_text(target, "old")

    def broken_replace(self, other):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", broken_replace)
    with pytest.raises(OutputError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]


def _damage(path: Path, how: str) -> None:
    text = path.read_text()
    data = json.loads(text)
    edits = {
        "garbage": lambda: path.write_bytes(b"\xff\xfe\x00 not json"),
        "half": lambda: path.write_text(text[: len(text) // 2]),
        "empty": lambda: path.write_text(""),
        "list": lambda: path.write_text("[1, 2]"),
        "checksum": lambda: path.write_text(json.dumps({**data, "check": "0" * 16})),
        "dim": lambda: path.write_text(json.dumps({**data, "dim": 3})),
        "faces": lambda: path.write_text(json.dumps({**data, "faces": 7})),
        "base64": lambda: path.write_text(json.dumps({**data, "vector": "!!!!"})),
        "no_status": lambda: path.write_text(json.dumps({"v": data["v"]})),
        "reason_type": lambda: path.write_text(json.dumps({**data, "status": "failed"})),
    }
    edits[how]()


@pytest.mark.parametrize(
    "how",
    ["garbage", "half", "empty", "list", "checksum", "dim", "faces", "base64", "no_status",
     "reason_type"],
)  # fmt: skip
def test_damaged_vector_entry_is_detected(tmp_path, how):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(np.arange(4, dtype=np.float32), n_faces=1))
    _damage(cache._path(SHA), how)
    fresh = store(tmp_path)
    assert fresh.get(SHA) is None and fresh.corrupt_seen == 1


def test_a_deeply_nested_entry_is_damage_not_a_crash(tmp_path):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(np.arange(4, dtype=np.float32)))
    cache._path(SHA).write_text("[" * 100_000 + "]" * 100_000)
    assert cache.get(SHA) is None and cache.corrupt_seen == 1


@pytest.mark.parametrize("field", ["reason", "detail"])
def test_tampered_failure_entry_is_detected(tmp_path, field):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(None, "no_face", "no face found"))
    path = cache._path(SHA)
    data = json.loads(path.read_text())
    data[field] = "something else"
    path.write_text(json.dumps(data))
    assert cache.get(SHA) is None and cache.corrupt_seen == 1


def test_other_entry_version_is_recomputed_quietly(tmp_path):
    cache = store(tmp_path)
    cache.put(SHA, CacheEntry(np.ones(2, np.float32)))
    path = cache._path(SHA)
    path.write_text(json.dumps({**json.loads(path.read_text()), "v": 1}))
    assert cache.get(SHA) is None and cache.corrupt_seen == 0


def test_key_is_stable_and_order_independent():
    reordered = dict(reversed(list(IDENTITY.items())))
    assert model_key(IDENTITY) == model_key(reordered)
    assert len(model_key(IDENTITY)) == 24


@pytest.mark.parametrize(
    "change",
    [
        {"weights_sha256": "cd" * 32},
        {"preprocessing": {"size": 112}},
        {"name": "other"},
        {"faces": {"align": "none"}},
    ],
)
def test_key_changes_with_anything_that_changes_an_embedding(change):
    assert model_key({**IDENTITY, **change}) != model_key(IDENTITY)


def test_model_identity_follows_weights_bytes_preprocessing_and_face_settings(tmp_path):
    weights = tmp_path / "w.onnx"
    weights.write_bytes(b"weights bytes stand in for a model file" * 64)
    spec = ModelSpec(name="s", backend="onnx", path=str(weights), threshold=0.4)
    faces = FaceSettings()
    base = model_key(_model_identity(spec, weights, faces, tmp_path))
    assert model_key(_model_identity(spec, weights, faces, tmp_path)) == base

    other_weights = tmp_path / "w2.onnx"
    other_weights.write_bytes(weights.read_bytes() + b"\0")
    assert model_key(_model_identity(spec, other_weights, faces, tmp_path)) != base
    for changed in (
        spec.model_copy(update={"mean": (0.5, 0.5, 0.5)}),
        spec.model_copy(update={"input_size": (112, 112)}),
        spec.model_copy(update={"color_order": "BGR"}),
        spec.model_copy(update={"chip_padding": 0.3}),
        spec.model_copy(update={"upsample": 0}),
    ):
        assert model_key(_model_identity(changed, weights, faces, tmp_path)) != base
    for settings in (FaceSettings(align="none"), FaceSettings(multi_face="skip")):
        assert model_key(_model_identity(spec, weights, settings, tmp_path)) != base
    # What only describes the model (its threshold, description) does not change the key.
    described = spec.model_copy(update={"threshold": 0.9, "description": "x"})
    assert model_key(_model_identity(described, weights, faces, tmp_path)) == base


def test_dlib_identity_includes_both_dlib_files(tmp_path):
    from face_bench.models.registry import DLIB_DESCRIPTOR_FILE, dlib_weight_path

    weights = dlib_weight_path(DLIB_DESCRIPTOR_FILE)
    identity = _model_identity(BUILTIN_MODELS["dlib"], weights, FaceSettings(), tmp_path)
    assert len(identity["weights_sha256"]) == 64 and len(identity["landmarks_sha256"]) == 64
    assert identity["weights_sha256"] != identity["landmarks_sha256"]


def test_weights_hash_memo_survives_a_damaged_memo_file(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    first = sha256_file(weights, tmp_path)
    assert first == hashlib.sha256(b"weights").hexdigest()
    for damaged in ("{not json", "[1, 2]", json.dumps({"x": 1}), '{"k": 3}'):
        (tmp_path / "hashes.json").write_text(damaged)
        assert sha256_file(weights, tmp_path) == first
    # A stale memo entry never outlives a change of the file.
    weights.write_bytes(b"other weights")
    assert sha256_file(weights, tmp_path) == hashlib.sha256(b"other weights").hexdigest()


def test_default_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("FACE_BENCH_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "face-bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "face-bench"


# --- the vector is keyed by the bytes that were decoded ------------------------------------


@needs_shared
def test_a_file_changed_after_hashing_never_poisons_the_cache(
    tmp_path, standin_config, monkeypatch
):
    from face_bench.run import embed as embed_step

    image = tmp_path / "face.png"
    face_a, face_b = corpus.JP_FACE_A.read_bytes(), corpus.JP_FACE_B.read_bytes()

    def embed(cache: Path) -> np.ndarray:
        settings = EmbedSettings(
            ("standin",), "none", config_path=standin_config, cache_dir=cache, workers=1
        )
        result = embed_step.embed_files([image], settings)
        return result.embeddings["standin"].vectors[0]

    real_hash = embed_step.hash_images

    def hash_then_swap(paths):
        hashes = real_hash(paths)  # hashed as face A ...
        image.write_bytes(face_b)  # ... replaced by face B before the worker decodes it
        return hashes

    image.write_bytes(face_a)
    monkeypatch.setattr(embed_step, "hash_images", hash_then_swap)
    raced = embed(tmp_path / "cache")
    monkeypatch.setattr(embed_step, "hash_images", real_hash)
    image.write_bytes(face_b)
    assert np.array_equal(raced, embed(tmp_path / "fresh-b"))  # the vector of what was read
    image.write_bytes(face_a)  # restored: the cache must give face A's own vector
    assert np.array_equal(embed(tmp_path / "cache"), embed(tmp_path / "fresh-a"))
    assert not np.array_equal(raced, embed(tmp_path / "cache"))


# --- a whole entry of the wrong width is a miss ---------------------------------------------


def _rewrite_width(entry: Path, width: int) -> None:
    """Give a cached vector another width, with a checksum that matches it."""
    import base64

    from face_bench.embedding.cache import _checksum, _faces_bytes

    data = json.loads(entry.read_text(encoding="utf-8"))
    raw = np.linspace(1, 2, width, dtype="<f4").tobytes()
    data |= {"vector": base64.b64encode(raw).decode(), "dim": width}
    data["check"] = _checksum(raw + _faces_bytes(data.get("faces"), data.get("detector")))
    entry.write_text(json.dumps(data), encoding="utf-8")


@needs_shared
@pytest.mark.parametrize("declared", [True, False], ids=["embedding_size", "no embedding_size"])
def test_a_cached_vector_of_another_width_is_recomputed(tmp_path, declared):
    from conftest import TINY_ONNX

    from face_bench.run import embed as embed_step

    config = tmp_path / "face-bench.toml"
    size = "embedding_size = 512\n" if declared else ""
    config.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n{size}'
        'similarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    images = sorted(corpus.JP_FACES.glob("images/*/*_1.png"))[:6]

    def embed():
        settings = EmbedSettings(
            ("standin",), "none", config_path=config, cache_dir=tmp_path / "cache", workers=1
        )
        return embed_step.embed_files(images, settings).embeddings["standin"]

    first = embed()
    entries = [
        p for p in (tmp_path / "cache" / "embeddings").glob("*/*/*.json")
        if json.loads(p.read_text(encoding="utf-8")).get("dim") == 512
    ]  # fmt: skip
    _rewrite_width(entries[0], 7)
    again = embed()
    assert again.computed == 1 and again.cached == len(images) - 1 and not again.failures
    assert np.array_equal(again.vectors, first.vectors)
    assert json.loads(entries[0].read_text(encoding="utf-8"))["dim"] == 512  # rewritten


GOOD_RECORD = {
    "n_faces": 1,
    "source": "detector",
    "box": [1, 2, 30, 40],
    "points": [[i, i + 1] for i in range(5)],
    "marks": None,
}


@pytest.mark.parametrize(
    "change",
    [{"box": [1, 2, 30]}, {"points": [[0, 1]] * 4}, {"source": "nope"}, {"n_faces": 1.5},
     {"marks": [[0.5, float("nan")]] * 5}, {"points": [[0.5, 1]] * 5}, {"extra": 1}],
    ids=["3-value box", "four landmarks", "unknown source", "fractional count", "NaN mark",
         "fractional landmark", "unknown key"],
)  # fmt: skip
def test_a_face_record_is_recognised_before_use(change):
    from face_bench.faces.locate import Face

    face = Face.from_record(GOOD_RECORD)
    assert face.to_record() == GOOD_RECORD
    with pytest.raises(ValueError):
        Face.from_record(GOOD_RECORD | change)


def test_a_face_entry_round_trips_and_a_failure_keeps_its_reason(tmp_path):
    from face_bench.embedding.cache import FaceCache
    from face_bench.faces.locate import Face, FaceEntry

    faces = FaceCache(tmp_path, {"stage": "faces"})
    face = Face.from_record(GOOD_RECORD | {"marks": [[0.25, 1.5]] * 5})
    faces.put(SHA, FaceEntry(face))
    assert faces.get(SHA) == FaceEntry(face)
    faces.put("1f" * 32, FaceEntry(None, "no_face", "no face found"))
    assert faces.get("1f" * 32) == FaceEntry(None, "no_face", "no face found")
    assert faces.corrupt_seen == 0


def test_an_old_face_entry_is_a_miss_not_damage(tmp_path):
    """Version 2 packed a face record into a float vector: such an entry is not misread as a
    record, nor counted as damage; the face is located again and the entry rewritten."""
    import base64

    from face_bench.embedding.cache import FACE_ENTRY_VERSION, FaceCache, _checksum

    faces = FaceCache(tmp_path, {"stage": "faces"})
    raw = np.arange(16, dtype="<f4").tobytes()
    old = {"v": 2, "status": "ok", "dim": 16, "faces": None, "check": _checksum(raw)}
    path = faces._path(SHA)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(old | {"vector": base64.b64encode(raw).decode()}))
    assert faces.get(SHA) is None and faces.corrupt_seen == 0
    assert FACE_ENTRY_VERSION > 2


@needs_shared
def test_a_damaged_face_record_is_located_again(tmp_path):
    from conftest import TINY_ONNX

    from face_bench.embedding.cache import _checksum, _record_bytes
    from face_bench.run import embed as embed_step

    config = tmp_path / "face-bench.toml"
    config.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        'similarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    images = sorted(corpus.JP_FACES.glob("images/*/*_1.png"))[:6]
    cache = tmp_path / "cache"

    def embed():
        settings = EmbedSettings(
            ("standin",), "none", config_path=config, cache_dir=cache, workers=1
        )
        return embed_step.embed_files(images, settings).embeddings["standin"]

    first = embed()
    folders = {
        json.loads((key / "model.json").read_text(encoding="utf-8")).get("stage"): key
        for key in (cache / "embeddings").iterdir()
    }
    face_entry = next(folders["faces"].glob("*/*.json"))
    data = json.loads(face_entry.read_text(encoding="utf-8"))
    good = data["face"]
    data["face"] = good | {"source": "nope"}  # whole (its checksum matches), but no record
    data["check"] = _checksum(_record_bytes(data["face"]))
    face_entry.write_text(json.dumps(data), encoding="utf-8")
    for stage, folder in folders.items():
        if stage != "faces":  # the model's vectors gone: the cached face is what is used
            for entry in folder.glob("*/*.json"):
                entry.unlink()
    again = embed()
    assert not again.failures and np.array_equal(again.vectors, first.vectors)
    assert json.loads(face_entry.read_text(encoding="utf-8"))["face"] == good  # located again
