"""Tests for face_bench.faces.alignment on real faces read in place and on composed images."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import corpus
import numpy as np
import pytest
from conftest import DEEPFACE, needs_shared

from face_bench.core.errors import WeightsMissingError
from face_bench.core.modes import AlignMode, MultiFacePolicy
from face_bench.data.images import load_rgb
from face_bench.faces import alignment
from face_bench.faces.alignment import (
    CROP_MAX_SIDE,
    SHAPE_PREDICTOR_5,
    FaceBox,
    choose_face,
    dlib_model_path,
    get_aligner,
    looks_like_crop,
    whole_image_rect,
)
from face_bench.faces.locate import FaceSettings, locate

REPO = Path(__file__).resolve().parents[1]
needs_data = needs_shared
# A small full photo (594x408) of one person, unaligned.
DEEPFACE_PHOTO = DEEPFACE / "images/deepface_id01/img10.jpg"


@pytest.fixture(scope="module")
def aligner():
    return get_aligner()


def find(rgb, align="auto", multi_face="largest"):
    """The production face finder (``faces.locate``): a ``Face``, or the failed entry."""
    entry = locate(rgb, FaceSettings(str(align), multi_face))
    return entry.face if entry.ok else entry


# --- no dlib needed ----------------------------------------------------------------


def test_import_does_not_load_dlib():
    code = "import sys, face_bench.faces.alignment; sys.exit('dlib' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_dlib_model_path_finds_the_5_point_predictor():
    path = dlib_model_path(SHAPE_PREDICTOR_5)
    assert path.is_file() and path.parent.name == "models"


def test_dlib_model_path_names_folder_and_pip_command():
    with pytest.raises(WeightsMissingError) as info:
        dlib_model_path("no_such_weights.dat")
    message = str(info.value)
    spec = importlib.util.find_spec("face_recognition_models")
    folder = Path(spec.submodule_search_locations[0]) / "models"
    assert str(folder) in message
    assert "pip install face_recognition_models" in message


def test_dlib_model_path_when_package_absent(monkeypatch):
    monkeypatch.setattr(alignment.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsMissingError, match="pip install face_recognition_models"):
        dlib_model_path(SHAPE_PREDICTOR_5)


def box(side: int, score: float = 1.0, left: int = 0) -> FaceBox:
    return FaceBox(left, 0, left + side - 1, side - 1, score)


def test_choose_face_policies():
    big, small = box(100, 0.5), box(60, 3.0, left=200)
    assert choose_face([], "largest").reason == "no_face"
    largest = choose_face([small, big], MultiFacePolicy.LARGEST)
    assert largest.ok and largest.box == big and largest.n_faces == 2
    assert largest.source == "detector"
    failed = choose_face([small, big], "fail")
    assert (failed.status, failed.reason, failed.box, failed.n_faces) == (
        "failed",
        "multiple_faces",
        None,
        2,
    )
    assert choose_face([small, big], "skip").reason == "multiple_faces_skipped"
    assert choose_face([small], "fail").ok  # one face is never a multi-face failure


def test_choose_face_breaks_size_ties_by_score():
    low, high = box(80, 0.4), box(80, 2.0, left=100)
    assert choose_face([low, high], "largest").box == high


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError):
        choose_face([], "biggest")


@pytest.mark.parametrize(
    ("shape", "crop"),
    [
        ((200, 200), True),
        ((600, 600), True),
        ((CROP_MAX_SIDE, CROP_MAX_SIDE), True),
        ((CROP_MAX_SIDE + 1, CROP_MAX_SIDE + 1), False),
        ((480, 640), False),  # 4:3 is a photo, not a crop
        ((220, 200), True),
    ],
)
def test_looks_like_crop(shape, crop):
    assert looks_like_crop(np.zeros((*shape, 3), np.uint8)) is crop


def test_whole_image_rect_is_inclusive():
    rect = whole_image_rect(np.zeros((120, 100, 3), np.uint8))
    assert (rect.left, rect.top, rect.right, rect.bottom) == (0, 0, 99, 119)
    assert (rect.width, rect.height, rect.score) == (100, 120, None)


# --- dlib on real faces ---------------------------------------------------------------


def test_get_aligner_is_shared():
    assert get_aligner() is get_aligner()


def test_rejects_non_rgb_arrays(aligner):
    with pytest.raises(ValueError, match="uint8"):
        aligner.detect(np.zeros((50, 50), np.uint8))


@needs_data
def test_detects_one_face_in_a_real_photo(aligner):
    rgb = load_rgb(DEEPFACE_PHOTO)
    faces = aligner.detect(rgb)
    assert len(faces) == 1
    face = faces[0]
    assert face.score is not None and face.score > 0.5
    assert 0 <= face.left < face.right < rgb.shape[1]
    assert 0 <= face.top < face.bottom < rgb.shape[0]
    found = find(rgb, align="detect")
    assert found.source == "detector" and found.n_faces == 1 and len(found.points) == 5
    chip = aligner.chip(rgb, found.landmarks())
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8


@needs_data
def test_large_photo_box_maps_back_to_full_resolution(aligner, tmp_path):
    # 3000x2000 is searched at 1024 wide; the box must come back in full-size pixels.
    at, side = (1400, 900), 400
    path = corpus.face_on_canvas(tmp_path, canvas=(3000, 2000), at=at, side=side)
    faces = aligner.detect(load_rgb(path))
    assert len(faces) == 1
    face = faces[0]
    cx, cy = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    assert at[0] < cx < at[0] + side and at[1] < cy < at[1] + side
    assert side * 0.5 < face.width < side * 1.1


@needs_data
def test_blank_image_has_no_face(aligner, tmp_path):
    rgb = load_rgb(corpus.blank_image(tmp_path, (640, 480)))
    assert aligner.detect(rgb) == []
    for mode in ("detect", "auto"):  # 640x480 does not look like a crop
        entry = find(rgb, align=mode)
        assert (entry.ok, entry.reason, entry.detail) == (False, "no_face", "no face found")


@needs_data
def test_auto_falls_back_to_whole_image_for_crops(aligner, tmp_path):
    path = tmp_path / "texture.png"
    corpus.pattern(200, 200).save(path)
    rgb = load_rgb(path)
    found = find(rgb, align=AlignMode.AUTO)
    assert found.source == "whole_image" and found.n_faces == 0
    assert found.box == whole_image_rect(rgb)
    assert find(rgb, align="detect").reason == "no_face"


@needs_data
def test_auto_prefers_the_detector_on_a_real_crop(aligner):
    rgb = load_rgb(corpus.JP_FACE_A)
    found = find(rgb, align="auto")
    assert found.source == "detector" and found.n_faces == 1


@needs_data
def test_none_mode_aligns_a_crop_without_detection(aligner):
    rgb = load_rgb(corpus.JP_FACE_B)
    found = find(rgb, align="none")
    assert found.source == "whole_image" and found.n_faces == 1
    assert len(found.points) == 5
    assert all(0 <= x < rgb.shape[1] and 0 <= y < rgb.shape[0] for x, y in found.points)
    chip = aligner.chip(rgb, found.landmarks(), 224)
    assert chip.shape == (224, 224, 3) and chip.dtype == np.uint8


@needs_data
def test_two_faces_follow_the_policy(aligner, tmp_path):
    rgb = load_rgb(corpus.faces_side_by_side(tmp_path, sides=(200, 140)))
    faces = aligner.detect(rgb)
    assert len(faces) == 2
    largest = find(rgb, align="detect", multi_face="largest")
    assert largest.source == "detector" and largest.n_faces == 2
    assert largest.box.right < 60 + 200 + 30  # the left, larger face
    assert largest.box.area == max(f.area for f in faces)
    failed = find(rgb, align="detect", multi_face="fail")
    assert (failed.ok, failed.reason, failed.detail) == (False, "multiple_faces", "2 faces found")
    skipped = find(rgb, align="detect", multi_face="skip")
    assert skipped.reason == "multiple_faces_skipped"


@needs_data
def test_chip_sizes(aligner):
    rgb = load_rgb(corpus.JP_FACE_A)
    shape = aligner.landmarks(rgb, find(rgb).box)
    for size, padding in [(150, 0.25), (224, 0.0), (112, 0.5)]:
        chip = aligner.chip(rgb, shape, size, padding)
        assert chip.shape == (size, size, 3) and chip.dtype == np.uint8
        assert chip.flags.c_contiguous


@pytest.mark.slow
@needs_data
def test_every_deepface_control_photo_has_a_face(aligner):
    with (DEEPFACE / "manifest.csv").open(encoding="utf-8") as fh:
        paths = [row["path"] for row in csv.DictReader(fh)]
    missed = [
        p
        for p in paths
        if not locate(load_rgb(DEEPFACE / p, max_side=2048), FaceSettings("detect")).ok
    ]
    assert missed == []


# --- a minimum usable crop: junk is a failure to enrol, never a face ------------------------


def _save(tmp_path: Path, rgb: np.ndarray, name: str) -> Path:
    from PIL import Image

    path = tmp_path / name
    Image.fromarray(rgb).save(path)
    return path


def _junk(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    rng = np.random.default_rng(0)
    dot = np.full((120, 120, 3), 30, np.uint8)
    dot[60, 60] = 255
    return {
        "1x1": (_save(tmp_path, np.zeros((1, 1, 3), np.uint8), "1.png"), "crop_too_small"),
        "3x3": (_save(tmp_path, rng.integers(0, 255, (3, 3, 3), np.uint8), "3.png"),
                "crop_too_small"),
        "31x34": (_save(tmp_path, rng.integers(0, 255, (34, 31, 3), np.uint8), "s.png"),
                   "crop_too_small"),
        "blank": (corpus.blank_image(tmp_path, (200, 200)), "blank_image"),
        "solid": (_save(tmp_path, np.full((150, 150, 3), (200, 30, 90), np.uint8), "r.png"),
                  "blank_image"),
        "dot": (_save(tmp_path, dot, "dot.png"), "blank_image"),
    }  # fmt: skip


@needs_data
@pytest.mark.parametrize("mode", ["auto", "none"])
def test_junk_is_never_a_crop(tmp_path, mode):
    from face_stage import locate_path

    from face_bench.faces.locate import FaceSettings

    for label, (path, reason) in _junk(tmp_path).items():
        entry = locate_path(path, FaceSettings(mode))
        assert (entry.face, entry.reason) == (None, reason), label


def test_real_crop_sizes_and_textures_stay_usable():
    from face_bench.faces.alignment import unusable_crop

    assert unusable_crop(np.asarray(corpus.pattern(32, 32))) is None
    assert unusable_crop(np.asarray(corpus.pattern(112, 112))) is None
