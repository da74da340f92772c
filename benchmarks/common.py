"""What the benchmark scripts share: the stand-in model's config and timing a CLI process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STANDIN = SHARED / "models" / "efficientnetv2_b0_512_random.onnx"


def standin_config(folder: Path) -> Path:
    """face-bench.toml registering the EfficientNetV2-B0 stand-in as model ``standin``."""
    path = folder / "face-bench.toml"
    path.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{STANDIN.as_posix()}"\n'
        "input_size = [224, 224]\n"
        "mean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    return path


def time_face_bench(args: list[str]) -> float:
    """Wall time of one whole ``face-bench`` process (start-up, work, writing)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "face_bench", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start
