"""OpenCV Zoo's YuNet face detector on onnxruntime: boxes, scores and 5 landmarks per face.

YuNet (``face_detection_yunet_2023mar``) is a small anchor-free network: per stride 8,
16 and 32 it predicts, at every point of a grid over the input, a class score ``cls``,
an objectness ``obj``, a box offset ``bbox`` and 5 landmark offsets ``kps``. Decoding
follows OpenCV's ``FaceDetectorYN``: the face score is ``sqrt(cls * obj)`` (both clipped
to 0..1), the box centre ``(grid + bbox[:2]) * stride``, its size ``exp(bbox[2:]) *
stride``, each landmark ``(grid + kps) * stride``; boxes under ``SCORE_THRESHOLD`` are
dropped and the rest go through greedy non-maximum suppression at ``NMS_IOU`` (OpenCV's
defaults, 0.9 and 0.3). ``faces`` applies face-bench's one addition: a photo with no
face at 0.9 takes its best box scoring at least ``FLOOR_SCORE`` (0.5) rather than fail
to enrol, since the photos face-bench reads are meant to hold a face.

The network takes BGR 0..255 at any size that is a multiple of 32: a photo is scaled
down (never up) so that its longer side is at most ``max_side`` (640), padded with black
at the right and bottom, and the outputs are scaled back to the photo's pixels.

YuNet's landmarks are the subject's right eye, left eye, nose tip, right and left mouth
corners: on a frontal face the subject's right eye is on the image's left, so this is
already the ArcFace template's order (eyes and mouth corners by ascending x in the image).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

YUNET_FILE = "yunet_2023mar_fp32.onnx"
STRIDES = (8, 16, 32)
SCORE_THRESHOLD = 0.9  # a face, as OpenCV's FaceDetectorYN counts faces by default
# A photo without any face at SCORE_THRESHOLD takes its best box down to this score:
# on LFW fold 1 six real faces score 0.88-0.90 (none under 0.8), noise about 0.13.
FLOOR_SCORE = 0.5
NMS_IOU = 0.3
# A photo's longer side as the network sees it, at most. Smaller photos are not scaled
# up: at 320 px (OpenCV Zoo's input size) LFW's 250 px photos cost YuNet 1.6 times as
# much and gain dlib 2 of fold 1's 600 pairs.
MAX_SIDE = 640


@dataclass(frozen=True)
class Detection:
    """One face in photo pixels: box corners (x1, y1, x2, y2), score, (5, 2) landmarks."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray


def to_tensor(rgb: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, tuple[float, float]]:
    """The [1, 3, H, W] BGR float32 input (H, W multiples of 32) and the (x, y) scale
    applied: a longer side above ``max_side`` is brought down to it."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    sh, sw = rgb.shape[:2]
    padded = np.zeros((3, -(-sh // 32) * 32, -(-sw // 32) * 32), dtype=np.float32)
    padded[:, :sh, :sw] = rgb[:, :, ::-1].transpose(2, 0, 1)
    return padded[None], (sw / w, sh / h)


def decode(
    outputs: dict[str, np.ndarray],
    height: int,
    width: int,
    score_threshold: float = SCORE_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (n, 4) as x1, y1, x2, y2, scores (n,) and landmarks (n, 5, 2) above the
    threshold, in the pixels of the ``height`` x ``width`` network input."""
    boxes, scores, marks = [], [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        if cls.size != rows * cols:
            raise ValueError(f"YuNet stride {stride}: {cls.size} scores for a {rows}x{cols} grid")
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4).astype(np.float64)
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2).astype(np.float64)
        grid_y, grid_x = np.divmod(np.arange(rows * cols), cols)
        grid = np.stack([grid_x, grid_y], axis=1).astype(np.float64)
        score = np.sqrt(cls * obj)
        keep = score >= score_threshold
        centre = (grid[keep] + bbox[keep, :2]) * stride
        size = np.exp(bbox[keep, 2:]) * stride
        boxes.append(np.hstack([centre - size / 2, centre + size / 2]))
        scores.append(score[keep])
        marks.append((grid[keep, None, :] + kps[keep]) * stride)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores, kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        best, order = order[0], order[1:]
        kept.append(int(best))
        if not order:
            break
        rest = np.asarray(order)
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(area[best] + area[rest] - inter, 1e-9)
        order = [int(i) for i in rest[overlap <= iou]]
    return kept


class YuNet:
    """One onnxruntime session of YuNet (use ``get_yunet``: loading takes a moment)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: exports' harmless warnings are noise
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def detect(
        self, rgb: np.ndarray, max_side: int = MAX_SIDE, threshold: float = SCORE_THRESHOLD
    ) -> list[Detection]:
        """Faces scoring at least ``threshold`` after NMS, in the photo's pixels, best first."""
        tensor, (sx, sy) = to_tensor(rgb, max_side)
        values = self.session.run(self.names, {"input": tensor})
        outputs = dict(zip(self.names, values, strict=True))
        boxes, scores, marks = decode(outputs, tensor.shape[2], tensor.shape[3], threshold)
        boxes, marks = boxes / [sx, sy, sx, sy], marks / [sx, sy]
        return [
            Detection(
                (float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
                float(scores[i]),
                marks[i],
            )
            for i in nms(boxes, scores)
        ]


# Where dlib's HOG puts its box relative to YuNet's on the same face, in units of YuNet's
# box width: left, top, right, bottom edges (medians over the 744 LFW fold-1 photos where
# each finds one face; benchmarks/bench_detector.py measures them). HOG's box is a square
# from the brows to the upper lip, YuNet's a taller one from the hairline to the chin.
# Moved so, dlib's 5 points land 0.4 px (mean) from where they land on HOG's own box
# instead of 1.1 px, and dlib's LFW fold-1 AUC goes from 0.9927 to 0.9939. On
# jp_faces_dev's larger crops HOG's box sits lower still: there the move is approximate.
DLIB_FRAME = (-0.093, 0.15, 0.04, -0.042)


def dlib_frame(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """YuNet's box (x1, y1, x2, y2) moved to where dlib's HOG would put it: dlib's 5-point
    predictor, and the chips dlib's network was trained on, start from HOG's boxes."""
    x1, y1, x2, y2 = box
    width = x2 - x1
    left, top, right, bottom = DLIB_FRAME
    return x1 + left * width, y1 + top * width, x2 + right * width, y2 + bottom * width


def settings() -> dict[str, float | list[float]]:
    """What decides YuNet's faces besides its weights: recorded in every cache key."""
    return {
        "max_side": MAX_SIDE,
        "score_threshold": SCORE_THRESHOLD,
        "floor_score": FLOOR_SCORE,
        "nms_iou": NMS_IOU,
        "dlib_frame": list(DLIB_FRAME),
    }


def faces(found: list[Detection]) -> list[Detection]:
    """The faces counted for the multi-face policy: those at ``SCORE_THRESHOLD``, else the
    single best box at ``FLOOR_SCORE`` or more (``found`` as ``YuNet.detect`` orders it)."""
    counted = [d for d in found if d.score >= SCORE_THRESHOLD]
    return counted or [d for d in found[:1] if d.score >= FLOOR_SCORE]


OUTPUTS = tuple(f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in STRIDES)


def check_weights(path: Path) -> None:
    """Refuse, as one clear error before any work, a file that is not a usable YuNet: one
    that does not load, lacks YuNet's outputs, or takes one fixed input size only."""
    from face_bench.core.errors import ModelFileError

    try:
        detector = YuNet(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"YuNet weights {path}: onnxruntime cannot load them: {first}"
        ) from None
    missing = [name for name in OUTPUTS if name not in detector.names]
    inputs = [i.name for i in detector.session.get_inputs()]
    if inputs != ["input"] or missing:
        raise ModelFileError(
            f"YuNet weights {path}: expected input 'input' and outputs {', '.join(OUTPUTS)}; "
            f"got input(s) {', '.join(inputs)}"
            + (f", missing {', '.join(missing)}" if missing else "")
        )
    try:
        detector.detect(np.zeros((64, 96, 3), np.uint8))
    except Exception as exc:
        raise ModelFileError(
            f"YuNet weights {path}: a 64x96 input fails ({type(exc).__name__}); face-bench "
            "needs an export that takes any size that is a multiple of 32, such as "
            f"{YUNET_FILE}"
        ) from None


@functools.cache
def get_yunet(path: str) -> YuNet:
    """The process-wide YuNet session for the weights at ``path`` (one thread)."""
    return YuNet(Path(path))


def weights_digest(path: str) -> str:
    """SHA-256 of YuNet's weights file, read every time: part of every face record's key."""
    from face_bench.core.io import sha256_file

    return sha256_file(Path(path))


def find_weights(
    overrides: dict[str, Path], config_weights: dict[str, Path], cache_dir: Path
) -> Path:
    """YuNet's weights: ``--weights yunet=PATH``, ``$FACE_BENCH_YUNET``, ``[weights] yunet``
    in the config, then ``<cache dir>/models/yunet_2023mar_fp32.onnx``.

    A path given but missing is an error rather than a reason to look further: another
    file would quietly change what is measured.
    """
    import os

    from face_bench.core.errors import WeightsMissingError

    env = os.environ.get("FACE_BENCH_YUNET")
    given = [
        ("--weights yunet=PATH", overrides.get("yunet")),
        ("$FACE_BENCH_YUNET", Path(env).expanduser() if env else None),
        ("weights.yunet in the config", config_weights.get("yunet")),
    ]
    for where, path in given:
        if path is None:
            continue
        if not path.is_file():
            raise WeightsMissingError(f"YuNet weights {path} ({where}): no such file")
        return path
    default = cache_dir / "models" / YUNET_FILE
    if default.is_file():
        return default
    raise WeightsMissingError(
        f"--detector yunet needs OpenCV Zoo's YuNet ({YUNET_FILE}): give --weights "
        f"yunet=PATH, set $FACE_BENCH_YUNET or weights.yunet in the config, or put it at "
        f"{default}"
    )
