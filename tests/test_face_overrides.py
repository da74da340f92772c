"""Per-image alignment from the manifest (``aligned`` column) and the MMOD fallback detector.

Both change which face an image contributes without a new flag per image: mixed sets of
full photos and aligned crops run through the CLI, and faces HOG misses are found by
dlib's CNN detector before an image counts as a failure to enrol.
"""

from __future__ import annotations

import json
from pathlib import Path

import corpus
import numpy as np
import pytest
from conftest import LFW, needs_shared
from PIL import Image
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ManifestError
from face_bench.core.records import CacheEntry
from face_bench.data.datasets import load_dataset, manifest_alignment
from face_bench.embedding.cache import EmbeddingCache
from face_bench.embedding.pipeline import Embeddings, merge_embeddings
from face_bench.faces.locate import FaceSettings, locate

runner = CliRunner()
HOG_MISSES = LFW / "images" / "Brawley_King" / "Brawley_King_0001.jpg"  # HOG finds no face


def write_set(root: Path, rows: list[tuple[str, str, str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["path,identity,aligned", *(",".join(row) for row in rows)]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_aligned_column_maps_to_align_modes(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        corpus.blank_image(tmp_path, (40, 40), name)
    write_set(tmp_path, [("a.png", "x", "Yes"), ("b.png", "x", " no "), ("c.png", "y", "")])
    table = load_dataset(tmp_path).table
    assert list(table["aligned"]) == ["yes", "no", ""]
    assert manifest_alignment(table) == ["none", "detect", None]
    assert manifest_alignment(table.drop(columns="aligned")) is None


def test_aligned_column_refuses_other_values_naming_the_line(tmp_path):
    corpus.blank_image(tmp_path, (40, 40), "a.png")
    write_set(tmp_path, [("a.png", "x", "yes"), ("a2.png", "x", "maybe")])
    with pytest.raises(ManifestError, match=r"line 3: column 'aligned' is 'maybe'; expected"):
        load_dataset(tmp_path)


def test_merge_puts_each_part_back_at_its_indices():
    first = Embeddings("m", np.array([[1.0, 2.0], [np.nan, np.nan]], dtype=np.float32))
    first.failures, first.computed, first.fallback = {1: ("no_face", "")}, 2, {0}
    second = Embeddings("m", np.array([[5.0, 6.0]], dtype=np.float32), cached=1)
    second.multi_face = {0}
    merged = merge_embeddings([([2, 0], first), ([1], second)], 3)
    np.testing.assert_array_equal(merged.vectors[[1, 2]], [[5.0, 6.0], [1.0, 2.0]])
    assert np.isnan(merged.vectors[0]).all()
    assert merged.failures == {0: ("no_face", "")}
    assert (merged.fallback, merged.multi_face) == ({2}, {1})
    assert (merged.computed, merged.cached) == (2, 1)


def test_fallback_source_round_trips_through_the_cache(tmp_path):
    cache = EmbeddingCache(tmp_path, {"name": "m"})
    cache.put("ab" * 32, CacheEntry(np.ones(3, np.float32), n_faces=1, detector="mmod"))
    cache.put("cd" * 32, CacheEntry(np.ones(3, np.float32), n_faces=1))
    assert cache.get("ab" * 32).detector == "mmod"
    assert cache.get("cd" * 32).detector is None
    path = cache.folder / "ab" / f"{'ab' * 32}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["detector"] = "hog"  # the checksum covers the detector: a tampered entry is recomputed
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cache.get("ab" * 32) is None


def test_fallback_joins_the_face_cache_key():
    assert FaceSettings().identity()["fallback_detector"] is None
    assert FaceSettings(fallback="mmod").identity() != FaceSettings().identity()


@needs_shared
@pytest.mark.slow
def test_mixed_set_follows_the_aligned_column_under_any_align(tmp_path):
    """A face-free image marked aligned enrols as a crop; one marked 'no' must show a face."""
    root = tmp_path / "mixed"
    root.mkdir()
    corpus.face_on_canvas(root, name="a_photo1.png")
    corpus.face_on_canvas(root, name="a_photo2.png", at=(100, 150))
    rng = np.random.default_rng(0)  # textured, face-free images (blank ones are refused)
    for name, (width, height) in (("b_crop.png", (640, 480)), ("b_photo.png", (700, 500))):
        noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(noise).save(root / name)
    rows = [
        ("a_photo1.png", "a", "no"),
        ("a_photo2.png", "a", ""),
        ("b_crop.png", "b", "yes"),
        ("b_photo.png", "b", "no"),
    ]
    write_set(root, rows)
    failures = {}
    for align in ("detect", "none"):
        out = tmp_path / align
        result = runner.invoke(
            app,
            ["roc", "--data", str(root), "--subset", "all", "--model", "dlib", "--align", align,
             "--sample", "0", "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
             "--bootstrap", "0"],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert "aligned column: 1 image(s) taken as aligned crops, 2 detected" in result.stderr
        data = json.loads((out / "results.json").read_text(encoding="utf-8"))
        failures[align] = [
            (f["image"], f["reason"]) for f in data["subsets"][0]["models"][0]["failures"]
        ]
    # b_photo fails under both modes (the column says detect); b_crop enrols under both.
    assert failures == {
        "detect": [("b_photo.png", "no_face")],
        "none": [("b_photo.png", "no_face")],
    }


@needs_shared
@pytest.mark.slow
def test_mmod_finds_the_face_hog_misses_and_says_so():
    from face_bench.data.images import load_rgb

    rgb = load_rgb(HOG_MISSES)
    assert locate(rgb, FaceSettings("detect")).reason == "no_face"
    entry = locate(rgb, FaceSettings("detect", fallback="mmod"))
    face = entry.face
    assert (face.source, face.fallback, face.n_faces) == ("mmod", "mmod", 1)
    assert 60 < face.box.width < 150 and len(face.points) == 5


@needs_shared
@pytest.mark.slow
def test_lfw_counts_the_faces_only_the_fallback_found(tmp_path):
    """HOG finds no face in two of these images; with mmod their pairs are scored, and counted."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "1\t2\nGeorge_Galloway\t1\t3\nGeorge_Galloway\t2\t4\n"
        "George_Galloway\t2\tBrawley_King\t1\nGeorge_Galloway\t1\tTom_Glavine\t2\n",
        encoding="utf-8",
    )
    runs = {}
    for fallback in ("none", "mmod"):
        out = tmp_path / fallback
        result = runner.invoke(
            app,
            ["lfw", "--data", str(LFW), "--pairs", str(pairs), "--model", "dlib",
             "--align", "detect", "--fallback-detector", fallback,
             "--cache-dir", str(tmp_path / "cache"), "--out", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        runs[fallback] = json.loads((out / "lfw.json").read_text(encoding="utf-8"))
    none, mmod = runs["none"]["models"][0], runs["mmod"]["models"][0]
    assert (none["n_failed_images"], none["fallback_images"]) == (2, 0)
    assert (mmod["n_failed_images"], mmod["fallback_images"]) == (0, 2)
    assert runs["mmod"]["fallback_detector"] == "mmod"
    assert "dlib: 2 image(s) found by the fallback detector (mmod)" in runs["mmod"]["notes"][0]
