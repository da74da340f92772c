"""Face detection per image, YuNet against dlib's HOG, on the same photos in one run (not a test).

Each photo is decoded once (as the face stage decodes it) and handed to each detector in
turn through ``face_bench.faces.locate.detect``, the detection step of the face stage
under ``--align detect``: HOG at upsample 1, YuNet on one onnxruntime thread at its
input size (long side at most 640, padded to multiples of 32). Their order alternates
from photo to photo, so a machine's drift touches both alike; each detector's first photo
is run once untimed (model loading, first-call allocations). A photo where a detector
finds no face is a failure to enrol under ``--align detect`` (``--multi-face largest``).
Then, untimed, where HOG's box sits relative to YuNet's on the faces both find alone:
the offsets ``faces.yunet.DLIB_FRAME`` moves YuNet's box by before dlib's predictor.

    python benchmarks/bench_detector.py [--sets lfw_fold1,jp_faces_dev] [--limit N]
        [--detectors hog,yunet[,mmod]] [--out FILE | --update-results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from common import SHARED, add_output_options, add_tiny_option, announce, output_path, step

YUNET = SHARED / "models" / "yunet_2023mar_fp32.onnx"


def settings_for(name: str):
    from face_bench.faces.locate import FaceSettings

    weights = str(YUNET) if name == "yunet" else None
    return FaceSettings("detect", "largest", detector=name, detector_weights=weights)


def photos(dataset: str, limit: int | None) -> list[Path]:
    """The set's images in manifest order (the first ``limit`` when given)."""
    import csv

    root = SHARED / "datasets" / dataset
    with (root / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        paths = [root / row["path"] for row in csv.DictReader(handle)]
    return paths[:limit] if limit else paths


def bench_set(dataset: str, detectors: list[str], limit: int | None) -> dict:
    from face_bench.faces.alignment import get_aligner

    aligner = get_aligner()
    paths = photos(dataset, limit)
    times, missed, several = time_detectors(aligner, dataset, paths, detectors)
    out: dict = {"images": len(paths), "detectors": {}}
    if "hog" in detectors and "yunet" in detectors:
        out["hog_box_in_yunet_widths"] = hog_frame(aligner, paths)
    for name in detectors:
        out["detectors"][name] = detector_summary(times[name], missed[name], several[name])
    if "hog" in detectors and "yunet" in detectors:
        d = out["detectors"]
        out["hog_over_yunet_mean"] = round(d["hog"]["mean_ms"] / d["yunet"]["mean_ms"], 1)
        out["hog_over_yunet_median"] = round(d["hog"]["median_ms"] / d["yunet"]["median_ms"], 1)
    return out


def time_detectors(
    aligner, dataset: str, paths: list[Path], detectors: list[str]
) -> tuple[dict[str, list[float]], dict[str, list[str]], dict[str, int]]:
    """Per detector: seconds per photo, photos with no face, photos with several. The order
    alternates from photo to photo, and each detector's first call is run once untimed."""
    from face_bench.data.images import read_image_bytes
    from face_bench.faces.locate import decode_bytes, detect

    settings = {name: settings_for(name) for name in detectors}
    times: dict[str, list[float]] = {name: [] for name in detectors}
    missed: dict[str, list[str]] = {name: [] for name in detectors}
    several = dict.fromkeys(detectors, 0)
    for i, path in enumerate(paths):
        rgb = decode_bytes(read_image_bytes(path), str(path))
        order = detectors if i % 2 == 0 else detectors[::-1]
        for name in order:
            if i == 0:
                detect(aligner, rgb, settings[name])  # untimed: loading, first call
            start = time.perf_counter()
            boxes, _marks = detect(aligner, rgb, settings[name])
            times[name].append(time.perf_counter() - start)
            if not boxes:
                missed[name].append(path.relative_to(SHARED / "datasets" / dataset).as_posix())
            several[name] += len(boxes) > 1
        if (i + 1) % 100 == 0:
            step(f"{dataset}: {i + 1}/{len(paths)}")
    return times, missed, several


def detector_summary(times: list[float], missed: list[str], several: int) -> dict:
    """One detector's mean, median and 90th-percentile milliseconds and its misses."""
    ms = sorted(t * 1000 for t in times)
    return {
        "mean_ms": round(statistics.fmean(ms), 2),
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "failures_to_enrol": len(missed),
        "several_faces": several,
        "no_face_images": missed[:20],
    }


def hog_frame(aligner, paths: list[Path]) -> dict:
    """Median offsets of HOG's box from YuNet's raw box on the same face, in YuNet box widths
    (left, top, right, bottom): what ``faces.yunet.DLIB_FRAME`` is set from. Faces both
    detectors find alone, with centres less than a third of a width apart."""
    from face_bench.data.images import read_image_bytes
    from face_bench.faces import yunet
    from face_bench.faces.locate import decode_bytes

    detector = yunet.get_yunet(str(YUNET))
    rows = []
    for path in paths:
        rgb = decode_bytes(read_image_bytes(path), str(path))
        hog, found = aligner.detect(rgb, 1), yunet.faces(detector.detect(rgb))
        if len(hog) != 1 or len(found) != 1:
            continue
        (x1, y1, x2, y2), h = found[0].box, hog[0]
        width = x2 - x1
        if abs((h.left + h.right + 1) / 2 - (x1 + x2) / 2) > width / 3:
            continue
        edges = (h.left - x1, h.top - y1, h.right + 1 - x2, h.bottom + 1 - y2)
        rows.append([e / width for e in edges])
    medians = [round(statistics.median(r[i] for r in rows), 3) for i in range(4)] if rows else []
    return {"faces": len(rows), "left_top_right_bottom": medians, "in_use": yunet.DLIB_FRAME}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="lfw_fold1,jp_faces_dev")
    parser.add_argument("--detectors", default="hog,yunet")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set")
    add_tiny_option(parser)
    add_output_options(parser, "detector")
    args = parser.parse_args()
    if args.tiny:
        args.limit = 2
    announce("HOG over YuNet mean ms per photo, both detectors on the same photos")
    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    out = output_path(args, "detector")
    summary: dict = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "limit": args.limit,
        "sets": {},
    }
    for dataset in [s.strip() for s in args.sets.split(",") if s.strip()]:
        step(f"{dataset}: {', '.join(detectors)}")
        summary["sets"][dataset] = bench_set(dataset, detectors, args.limit)
    summary["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
