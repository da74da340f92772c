"""Every script in ``benchmarks/`` runs in CI at its tiny size, so a change that breaks one
fails here instead of rotting unseen (timings are not checked: see benchmarks/README.md).

The metrics benchmarks take seconds and run in the quick suite; those that run whole
``face-bench`` processes on the shared photos are ``slow`` (``make test`` runs them) and
skip with the reason when the shared data, or Ray, is absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, SHARED, SHARED_PRESENT, SHARED_REASON

BENCHMARKS = REPO / "benchmarks"
needs_data = pytest.mark.skipif(not SHARED_PRESENT, reason=SHARED_REASON)
slow = pytest.mark.slow
no_ray = importlib.util.find_spec("ray") is None

# script: marks; each runs as ``python SCRIPT --tiny`` (plus --out FILE where it writes one)
TINY = {
    "bench_scale.py": [],
    "bench_metrics.py": [],
    "bench_detector.py": [slow, needs_data, pytest.mark.shared],
    "bench_dlib_onnx.py": [slow, needs_data, pytest.mark.shared],
    "bench_pipeline.py": [slow, needs_data, pytest.mark.shared],
    "bench_warm.py": [slow, needs_data, pytest.mark.shared],
    "bench_report.py": [slow, needs_data, pytest.mark.shared],
    "compare_headline.py": [slow, needs_data, pytest.mark.shared],
    "bench_ray.py": [
        pytest.mark.ray,
        pytest.mark.skipif(no_ray, reason="needs Ray (pip install 'face-bench[ray]')"),
    ],
}
WRITES_SUMMARY = set(TINY) - {"compare_headline.py", "bench_ray.py"}  # take --out FILE


def test_every_benchmark_script_has_a_tiny_case():
    scripts = {p.name for p in BENCHMARKS.glob("*.py")} - {"common.py"}
    assert scripts == set(TINY)


@pytest.mark.parametrize("script", [pytest.param(s, marks=m) for s, m in TINY.items()])
def test_benchmark_runs_tiny(script, tmp_path):
    command = [sys.executable, str(BENCHMARKS / script), "--tiny"]
    summary = tmp_path / "summary.json"
    if script in WRITES_SUMMARY:
        command += ["--out", str(summary)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACE_BENCH_SHARED": str(SHARED)}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Each benchmark says which idle-machine figure it checks, and at what load it ran.
    assert "target (idle 2-core machine):" in done.stdout
    assert "load average now" in done.stdout
    if script in WRITES_SUMMARY:
        assert json.loads(summary.read_text(encoding="utf-8"))
