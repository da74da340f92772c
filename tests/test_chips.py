"""Tests for face_bench.faces.chips: the ArcFace template, its similarity transform and the warp."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_shared
from corpus import JP_FACE_A
from PIL import Image

from face_bench.faces.chips import (
    ARCFACE_112,
    arcface_chip,
    arcface_points,
    five_points,
    landmarks68,
    similarity_transform,
    warp,
)


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_exact_similarity_is_recovered_as_computed_by_hand():
    # dst = 0.5 * R(90°) @ src + (10, 20); R(90°) = [[0, -1], [1, 0]].
    # By hand for src (2, 4): R @ src = (-4, 2); * 0.5 = (-2, 1); + t = (8, 21).
    src = np.array([[2.0, 4.0], [0.0, 0.0], [6.0, -2.0], [-3.0, 1.0], [1.0, 1.0]])
    dst = np.array([[8.0, 21.0], [10.0, 20.0], [11.0, 23.0], [9.5, 18.5], [9.5, 20.5]])
    matrix = similarity_transform(src, dst)
    np.testing.assert_allclose(matrix, [[0.0, -0.5, 10.0], [0.5, 0.0, 20.0]], atol=1e-12)


def test_least_squares_scale_matches_the_hand_computed_optimum():
    # Symmetric points keep R = I and t = 0; the best scale is
    # sum(dst . src) / sum(|src|^2) = (2 + 2 + 1 + 1) / 4 = 1.5.
    src = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    dst = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(
        similarity_transform(src, dst), [[1.5, 0.0, 0.0], [0.0, 1.5, 0.0]], atol=1e-12
    )


def test_a_mirrored_face_gets_a_rotation_never_a_reflection():
    src = ARCFACE_112
    mirrored = src * [-1.0, 1.0]
    linear = similarity_transform(src, mirrored)[:, :2]
    assert np.linalg.det(linear) > 0
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), ARCFACE_112)


def test_reference_points_scale_like_insightface():
    np.testing.assert_allclose(arcface_points(112), ARCFACE_112)
    np.testing.assert_allclose(arcface_points(224), ARCFACE_112 * 2)
    # 128 is not a multiple of 112: InsightFace shifts the template 8 px right.
    np.testing.assert_allclose(arcface_points(128)[0], [46.2946, 51.6963])


def test_five_points_are_eye_centres_nose_tip_and_mouth_corners():
    points = np.zeros((68, 2))
    points[36:42] = [[10, 20], [12, 20], [14, 20], [10, 22], [12, 22], [14, 22]]
    points[42:48] = [30, 21]
    points[30], points[48], points[54] = [20, 30], [12, 40], [28, 40]
    np.testing.assert_allclose(
        five_points(points), [[12, 21], [30, 21], [20, 30], [12, 40], [28, 40]]
    )
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        five_points(np.zeros((5, 2)))


def test_warp_moves_a_pixel_where_the_matrix_says():
    rgb = np.zeros((40, 40, 3), dtype=np.uint8)
    rgb[7, 5] = 255  # row 7, column 5: the point (x=5, y=7)
    shifted = warp(rgb, np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 4.0]]), 40)
    assert np.argwhere(shifted[..., 0] == 255).tolist() == [[11, 8]]
    # A quarter turn about the pixel centre (20, 20): (x, y) -> (40 - y, x) = (33, 5).
    turned = warp(rgb, np.array([[0.0, -1.0, 40.0], [1.0, 0.0, 0.0]]), 40)
    assert np.argwhere(turned[..., 0] == 255).tolist() == [[5, 33]]


@needs_shared
@pytest.mark.parametrize("size", [112, 224])
def test_real_face_lands_on_the_template(size):
    rgb = np.asarray(Image.open(JP_FACE_A).convert("RGB"))
    from face_bench.faces.alignment import whole_image_rect

    points = landmarks68(rgb, whole_image_rect(rgb))
    chip = arcface_chip(rgb, points, size)
    assert chip.shape == (size, size, 3) and chip.dtype == np.uint8
    matrix = similarity_transform(five_points(points), arcface_points(size))
    residual = np.linalg.norm(apply(matrix, five_points(points)) - arcface_points(size), axis=1)
    assert residual.max() < 0.06 * size  # a frontal face fits the template closely
    # The chip is the face, not the black border of a wild transform.
    assert chip[size // 2 - 5 : size // 2 + 5, size // 2 - 5 : size // 2 + 5].mean() > 40
