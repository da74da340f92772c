"""YuNet as face-bench's fast face detector: decoding, the face stage, cache keys, the CLI.

The decoder is checked against hand-made output tensors whose boxes and landmarks are
worked out by hand; the real network against dlib on LFW photos.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import LFW, SHARED, needs_shared
from face_stage import decode
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.config import load_config
from face_bench.core.errors import ConfigError, WeightsMissingError
from face_bench.faces import yunet
from face_bench.faces.locate import Face, FaceSettings, locate

runner = CliRunner()
YUNET = SHARED / "models" / "yunet_2023mar_fp32.onnx"
needs_yunet = pytest.mark.skipif(not YUNET.is_file(), reason=f"needs {YUNET}")
LFW_PHOTOS = [
    LFW / "images" / "Kate_Winslet" / "Kate_Winslet_0001.jpg",
    LFW / "images" / "Vince_Carter" / "Vince_Carter_0003.jpg",
    LFW / "images" / "George_Galloway" / "George_Galloway_0004.jpg",
]


def empty_outputs(height: int, width: int) -> dict[str, np.ndarray]:
    """YuNet's outputs for an input of this size with no face anywhere."""
    out = {}
    for stride in yunet.STRIDES:
        n = (height // stride) * (width // stride)
        out[f"cls_{stride}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{stride}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{stride}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{stride}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_decode_places_box_and_landmarks_on_the_stride_grid():
    out = empty_outputs(64, 96)  # stride 16: a 4 x 6 grid
    cell = 1 * 6 + 2  # row 1, column 2
    out["cls_16"][0, cell, 0] = 1.2  # clipped to 1
    out["obj_16"][0, cell, 0] = 0.81
    out["bbox_16"][0, cell] = [0.5, 0.25, math.log(2), math.log(3)]
    out["kps_16"][0, cell] = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1]
    boxes, scores, marks = yunet.decode(out, 64, 96)
    # centre ((2 + 0.5) * 16, (1 + 0.25) * 16) = (40, 20); size (2 * 16, 3 * 16) = (32, 48)
    np.testing.assert_allclose(boxes, [[24, -4, 56, 44]], atol=1e-5)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)  # sqrt(1 * 0.81)
    expected = [[32, 16], [48, 16], [40, 24], [32, 32], [48, 32]]  # (grid + kps) * 16
    np.testing.assert_allclose(marks, [expected])


def test_decode_drops_scores_under_the_threshold_and_refuses_a_wrong_grid():
    out = empty_outputs(32, 32)
    out["cls_8"][0, 5, 0] = out["obj_8"][0, 5, 0] = 0.8
    assert len(yunet.decode(out, 32, 32)[1]) == 0
    assert yunet.decode(out, 32, 32, score_threshold=0.5)[1].tolist() == pytest.approx([0.8])
    with pytest.raises(ValueError, match="stride 8"):
        yunet.decode(out, 64, 32)


def test_nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 4]], float)
    scores = np.array([0.91, 0.95, 0.92, 0.93])
    # box 0 overlaps box 1 (IoU 0.68) and goes; box 3 overlaps box 1 by 0.26 and stays.
    assert yunet.nms(boxes, scores) == [1, 3, 2]


def test_input_is_bgr_scaled_down_and_padded_to_multiples_of_32():
    rgb = np.zeros((250, 1000, 3), np.uint8)
    rgb[..., 0] = 200  # red
    tensor, scale = yunet.to_tensor(rgb, 640)
    assert scale == pytest.approx((0.64, 0.64))
    assert tensor.shape == (1, 3, 160, 640)  # 160 x 640, 160 already a multiple of 32
    assert tensor[0, 2, :160, :].min() == 200 and tensor[0, 0].max() == 0  # R last
    small, scale = yunet.to_tensor(np.full((250, 250, 3), 9, np.uint8))
    assert scale == (1.0, 1.0) and small.shape == (1, 3, 256, 256)  # never scaled up
    assert small[0, :, 250:, :].max() == 0 and small[0, :, :250, :250].min() == 9


def test_yunets_box_moves_to_where_hog_puts_its_box_before_dlibs_predictor():
    left, top, right, bottom = yunet.DLIB_FRAME
    x1, y1, x2, y2 = yunet.dlib_frame((100.0, 50.0, 200.0, 190.0))  # 100 px wide
    assert (x1, y1, x2, y2) == pytest.approx(
        (100 + 100 * left, 50 + 100 * top, 200 + 100 * right, 190 + 100 * bottom)
    )
    assert top > 0 > bottom  # HOG's box starts below the hairline and ends above the chin


def test_a_photo_without_a_sure_face_takes_its_best_box_above_the_floor():
    def det(score: float) -> yunet.Detection:
        return yunet.Detection((0, 0, 1, 1), score, np.zeros((5, 2)))

    assert [d.score for d in yunet.faces([det(0.95), det(0.92), det(0.7)])] == [0.95, 0.92]
    assert [d.score for d in yunet.faces([det(0.88), det(0.6)])] == [0.88]
    assert yunet.faces([det(0.3)]) == []


def test_face_record_keeps_the_detectors_landmarks_as_floats():
    from face_bench.faces.alignment import FaceBox

    points = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10))
    marks = ((10.25, 20.5), (30.75, 20.0), (20.5, 30.25), (12.0, 40.5), (28.5, 40.0))
    face = Face(1, "detector", FaceBox(0, 0, 49, 59, None), points, marks)
    back = Face.from_record(json.loads(json.dumps(face.to_record())))
    assert back == Face(1, "detector", FaceBox(0, 0, 49, 59, None), points, marks)
    assert Face.from_record(Face(1, "detector", back.box, points).to_record()).marks is None


def test_the_detector_joins_the_face_cache_key_and_hogs_key_is_unchanged(tmp_path):
    hog = FaceSettings().identity()
    assert "detector" not in hog and "detector_sha256" not in hog
    mmod = FaceSettings(detector="mmod").identity()
    assert mmod["detector"] == "mmod" and mmod != hog
    weights_a, weights_b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    weights_a.write_bytes(b"one")
    weights_b.write_bytes(b"two")
    a = FaceSettings(detector="yunet", detector_weights=str(weights_a)).identity()
    b = FaceSettings(detector="yunet", detector_weights=str(weights_b)).identity()
    assert a["detector"] == "yunet" and a["detector_settings"] == yunet.settings()
    assert len({json.dumps(x, sort_keys=True) for x in (hog, mmod, a, b)}) == 4


def test_yunet_weights_are_looked_for_in_order_and_a_given_path_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("FACE_BENCH_YUNET", raising=False)
    cache = tmp_path / "cache"
    with pytest.raises(WeightsMissingError, match="--weights yunet=PATH"):
        yunet.find_weights({}, {}, cache)
    default = cache / "models" / yunet.YUNET_FILE
    default.parent.mkdir(parents=True)
    default.write_bytes(b"x")
    assert yunet.find_weights({}, {}, cache) == default
    configured = tmp_path / "configured.onnx"
    configured.write_bytes(b"y")
    assert yunet.find_weights({}, {"yunet": configured}, cache) == configured
    with pytest.raises(WeightsMissingError, match="no such file"):
        yunet.find_weights({"yunet": tmp_path / "gone.onnx"}, {"yunet": configured}, cache)


def test_config_names_the_detector_and_refuses_an_unknown_one(tmp_path):
    path = tmp_path / "face-bench.toml"
    path.write_text('detector = "yunet"\n', encoding="utf-8")
    assert load_config(path).detector == "yunet"
    path.write_text('detector = "haar"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="detector must be one of hog, mmod, yunet"):
        load_config(path)


@needs_shared
def test_cli_yunet_without_its_weights_is_one_line_and_exit_22(tmp_path, monkeypatch):
    monkeypatch.delenv("FACE_BENCH_YUNET", raising=False)
    result = runner.invoke(
        app,
        ["lfw", "--data", str(LFW), "--pairs-file", str(LFW / "protocol" / "pairs.txt"),
         "-m", "dlib", "--detector", "yunet", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 22, result.output
    assert "YuNet" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@needs_shared
@needs_yunet
def test_yunet_finds_one_face_with_eyes_near_dlibs_on_lfw_photos():
    from face_bench.faces.alignment import get_aligner

    detector, aligner = yunet.get_yunet(str(YUNET)), get_aligner()
    for path in LFW_PHOTOS:
        rgb = decode(path)
        found = yunet.faces(detector.detect(rgb, yunet.MAX_SIDE, yunet.FLOOR_SCORE))
        assert len(found) == 1, path
        face = found[0]
        x1, y1, x2, y2 = face.box
        assert 60 < x2 - x1 < 160 and 60 < y2 - y1 < 200  # a face, not the whole photo
        hog = aligner.detect(rgb, 1)
        if not hog:
            continue  # HOG misses George Galloway: YuNet's face is the only one there
        shape = aligner.landmarks(rgb, hog[0])
        dlib5 = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], float)
        eyes = sorted([dlib5[0:2].mean(axis=0), dlib5[2:4].mean(axis=0)], key=lambda e: e[0])
        # YuNet's first two points are the eyes as the image shows them, left then right.
        assert face.landmarks[0, 0] < face.landmarks[1, 0]
        distances = np.linalg.norm(face.landmarks[:2] - np.array(eyes), axis=1)
        assert distances.max() < 8, (path, distances)


@needs_shared
@needs_yunet
def test_locate_with_yunet_keeps_its_landmarks_and_dlibs_points_on_its_box():
    from face_bench.faces.chips import arcface_points, five_points_chip
    from face_bench.models.backends import model_input
    from face_bench.models.registry import BUILTIN_MODELS

    rgb = decode(LFW_PHOTOS[2])  # HOG finds no face here
    assert not locate(rgb, FaceSettings("detect")).ok
    settings = FaceSettings("detect", detector="yunet", detector_weights=str(YUNET))
    face = locate(rgb, settings).face
    assert face.source == "detector" and face.n_faces == 1 and face.marks is not None
    assert len(face.points) == 5  # dlib's 5 points, for dlib's chip
    box = face.box
    assert all(box.left <= x <= box.right and box.top <= y <= box.bottom for x, y in face.points)
    arc = BUILTIN_MODELS["dlib"].model_copy(
        update={"alignment": "arcface", "backend": "onnx", "chip_size": 112}
    )
    chip = model_input(rgb, face, arc)
    np.testing.assert_array_equal(chip, five_points_chip(rgb, np.array(face.marks), 112))
    assert arcface_points(112).shape == (5, 2)


def run_roc(tmp_path: Path, *extra: str):
    from conftest import JP_FACES

    return runner.invoke(
        app,
        ["roc", "--data", str(JP_FACES), "--subset", "young_women", "--model", "dlib",
         "--sample", "6", "--bootstrap", "0", "--align", "detect", *extra],
    )  # fmt: skip


@needs_shared
@needs_yunet
@pytest.mark.slow
def test_roc_with_yunet_records_it_in_each_models_face_settings(tmp_path):
    out = tmp_path / "yunet"
    result = run_roc(
        tmp_path, "--detector", "yunet", "--weights", f"yunet={YUNET}", "--out", str(out)
    )
    assert result.exit_code == 0, result.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["settings"]["detector"] == "yunet"
    model = results["models"][0]
    assert model["preprocessing"]["detector"] == "yunet"
    assert model["preprocessing"]["detector_sha256"] == yunet.weights_digest(str(YUNET))


@needs_shared
@pytest.mark.parametrize(
    ("weights", "says"),
    [
        ("yunet_2023mar_int8bq.onnx", "takes any size that is a multiple of 32"),
        ("tiny_512_random.onnx", "missing cls_8"),
        ("not_onnx", "onnxruntime cannot load them"),
    ],
)
def test_a_file_that_is_not_a_usable_yunet_is_one_line_and_exit_24(tmp_path, weights, says):
    path = SHARED / "models" / weights
    if weights == "not_onnx":
        path = tmp_path / "yunet.onnx"
        path.write_bytes(b"not a model")
    if not path.is_file():
        pytest.skip(f"needs {path}")
    result = runner.invoke(
        app,
        ["lfw", "--data", str(LFW), "--pairs-file", str(LFW / "protocol" / "pairs.txt"),
         "-m", "dlib", "--detector", "yunet", "--weights", f"yunet={path}",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 24, result.output
    assert says in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@needs_shared
@needs_yunet
@pytest.mark.slow
def test_config_detector_applies_to_compare_and_the_option_overrides_it(tmp_path):
    """George Galloway's photo has no face for HOG: it compares only under YuNet."""
    config = tmp_path / "face-bench.toml"
    config.write_text(f'detector = "yunet"\n[weights]\nyunet = "{YUNET.as_posix()}"\n')
    images = [
        str(LFW_PHOTOS[2]),
        str(LFW / "images" / "George_Galloway" / "George_Galloway_0001.jpg"),
    ]
    base = [
        "compare",
        *images,
        "-m",
        "dlib",
        "--config",
        str(config),
        "--format",
        "json",
        "--align",
        "detect",
    ]
    assert runner.invoke(app, base).exit_code == 0
    assert runner.invoke(app, [*base, "--detector", "hog"]).exit_code != 0


@needs_shared
@pytest.mark.slow
def test_mmod_as_the_detector_finds_the_face_hog_misses_as_its_own():
    rgb = decode(LFW / "images" / "Brawley_King" / "Brawley_King_0001.jpg")
    assert not locate(rgb, FaceSettings("detect")).ok
    face = locate(rgb, FaceSettings("detect", detector="mmod")).face
    # Found by the chosen detector, not rescued by a fallback: not counted as one.
    assert (face.source, face.fallback, face.n_faces, face.marks) == ("detector", None, 1, None)
