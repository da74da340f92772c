"""Cut a model's input chip from a located face, with the alignment template it was trained on.

* ``dlib_chip``: dlib's ``get_face_chip(size, padding)`` from the 5 landmarks of the face
  stage, as dlib's ResNet was trained.
* ``arcface``: the similarity transform (rotation, uniform scale, translation) that best
  maps five points — eye centres, nose tip, mouth corners from dlib's 68-point predictor —
  onto the standard ArcFace reference points, then a bilinear warp. InsightFace/ArcFace
  models were trained on crops made exactly so; a chip cut another way shifts and scales
  the face they see and costs accuracy. With ``--detector yunet`` the five points are
  YuNet's own landmarks instead.

The similarity transform is Umeyama's least-squares estimate (the method behind
scikit-image's ``SimilarityTransform.estimate``), written out in numpy since neither
scikit-image nor OpenCV is a dependency.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

SHAPE_PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"

# InsightFace's reference points for a 112x112 chip, in pixel-centre coordinates:
# left eye, right eye (as seen in the image), nose tip, left and right mouth corners.
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
# Indices into dlib's 68-point (iBUG 300-W) layout for the same five points.
_LEFT_EYE = range(36, 42)
_RIGHT_EYE = range(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT, _MOUTH_RIGHT = 48, 54


def arcface_points(size: int) -> np.ndarray:
    """The reference points for a ``size`` x ``size`` chip.

    InsightFace's own rule: multiples of 112 scale the 112 template; other sizes scale
    the 128 variant (the 112 points shifted right by 8 px) by ``size / 128``.
    """
    if size % 112 == 0:
        return ARCFACE_112 * (size / 112)
    ratio = size / 128
    return (ARCFACE_112 + np.array([8.0, 0.0])) * ratio


def five_points(points68: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners from the 68 landmarks, as (5, 2) floats."""
    points68 = np.asarray(points68, dtype=np.float64)
    if points68.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {points68.shape}")
    return np.stack(
        [
            points68[list(_LEFT_EYE)].mean(axis=0),
            points68[list(_RIGHT_EYE)].mean(axis=0),
            points68[_NOSE_TIP],
            points68[_MOUTH_LEFT],
            points68[_MOUTH_RIGHT],
        ]
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix [sR | t] minimising sum ||s R src_i + t - dst_i||² (Umeyama, 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0  # a reflection fits better; keep a proper rotation instead
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    if variance == 0:
        raise ValueError("landmarks coincide: no transform")
    scale = float((singular * sign).sum() / variance)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def warp(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Bilinear warp of ``rgb`` by the 2x3 ``matrix`` (source -> chip) to a size x size chip.

    Points are in pixel-centre coordinates (as landmarks and OpenCV use them); Pillow
    samples at pixel corners + 0.5, so the inverse map is shifted by half a pixel.
    Outside the photo the chip is black, like OpenCV's default border.
    """
    forward = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(forward)[:2]
    linear, shift = inverse[:, :2], inverse[:, 2]
    shift = shift + 0.5 - linear @ [0.5, 0.5]
    data = (linear[0, 0], linear[0, 1], shift[0], linear[1, 0], linear[1, 1], shift[1])
    chip = Image.fromarray(rgb).transform(
        (size, size), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR
    )
    return np.ascontiguousarray(np.asarray(chip))


def arcface_chip(rgb: np.ndarray, points68: np.ndarray, size: int = 112) -> np.ndarray:
    """The ArcFace-aligned ``size`` x ``size`` chip of the face with these 68 landmarks."""
    return five_points_chip(rgb, five_points(points68), size)


def five_points_chip(rgb: np.ndarray, points5: np.ndarray, size: int = 112) -> np.ndarray:
    """The ArcFace-aligned chip from five points already in the template's order (a
    detector's own landmarks, e.g. YuNet's)."""
    matrix = similarity_transform(np.asarray(points5, dtype=np.float64), arcface_points(size))
    return warp(rgb, matrix, size)


@functools.cache
def _predictor68():
    import dlib

    from face_bench.faces.alignment import dlib_model_path

    return dlib.shape_predictor(str(dlib_model_path(SHAPE_PREDICTOR_68)))


def landmarks68(rgb: np.ndarray, box) -> np.ndarray:
    """dlib's 68 landmarks inside a face box, as (68, 2) floats (predictor loaded once)."""
    shape = _predictor68()(np.ascontiguousarray(rgb), box.to_dlib())
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
