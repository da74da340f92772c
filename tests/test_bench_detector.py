"""``benchmarks/bench_detector.py`` at a tiny size, so CI keeps the detector benchmark working.

Timings are not checked here (see benchmarks/README.md): only that both detectors ran
on the same photos of both sets and that failures to enrol are counted per detector.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, SHARED, needs_shared

YUNET = SHARED / "models" / "yunet_2023mar_fp32.onnx"


@needs_shared
@pytest.mark.skipif(not YUNET.is_file(), reason=f"needs {YUNET}")
def test_detector_benchmark_runs_tiny(tmp_path):
    out = tmp_path / "detector.json"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_detector.py"), "--limit", "3",
         "--out", str(out)],
        check=True, capture_output=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert set(summary["sets"]) == {"lfw_fold1", "jp_faces_dev"}
    for figures in summary["sets"].values():
        assert figures["images"] == 3
        assert set(figures["detectors"]) == {"hog", "yunet"}
        for detector in figures["detectors"].values():
            assert detector["mean_ms"] > 0
            assert detector["failures_to_enrol"] == len(detector["no_face_images"])
        assert figures["hog_over_yunet_mean"] > 0
