"""Shared fixtures: the real data in ../shared, read in place, and a per-session cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# FACE_BENCH_SHARED points the suite at another copy of shared/ (or at nothing, to check
# that a clone without it passes with skips); by default it sits beside the checkout.
SHARED = Path(os.environ.get("FACE_BENCH_SHARED") or REPO.parent / "shared")
DATASETS = SHARED / "datasets"
JP_FACES = DATASETS / "jp_faces_dev"
DEEPFACE = DATASETS / "deepface_control"
LFW = DATASETS / "lfw_fold1"
TINY_ONNX = SHARED / "models" / "tiny_512_random.onnx"
B0_ONNX = SHARED / "models" / "efficientnetv2_b0_512_random.onnx"

# The commands' output is checked as a log reads it (no terminal: 160 columns); a runner
# that exports its own width (pytest-xdist's workers set COLUMNS=80) must not fold it.
os.environ.pop("COLUMNS", None)

SHARED_PRESENT = all(p.exists() for p in (JP_FACES, DEEPFACE, LFW, TINY_ONNX, B0_ONNX))
SHARED_REASON = (
    f"needs the shared test data, absent at {SHARED}: put face-bench's shared/ folder beside "
    "the checkout (or set FACE_BENCH_SHARED to its path)"
)
# Every test that reads ../shared carries this mark; without the data they skip, saying why.
needs_shared = pytest.mark.shared


def session_processes(sid: int) -> list[str]:
    """Command lines of live processes in session ``sid`` (zombies are already dead)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--with-ray",
        action="store_true",
        help="run the tests marked ray (they start a local Ray cluster; make test does)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--with-ray"):
        skip_ray = pytest.mark.skip(reason="starts a Ray cluster: run with --with-ray")
        for item in items:
            if item.get_closest_marker("ray"):
                item.add_marker(skip_ray)
    if SHARED_PRESENT:
        return
    if os.environ.get("FACE_BENCH_REQUIRE_SHARED"):
        # CI sets this: there a missing data folder is a broken checkout, not a reason to skip.
        raise pytest.UsageError(f"FACE_BENCH_REQUIRE_SHARED is set but {SHARED_REASON}")
    skip = pytest.mark.skip(reason=SHARED_REASON)
    for item in items:
        if item.get_closest_marker("shared"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the whole test session, so real faces are embedded once."""
    return tmp_path_factory.mktemp("face-bench-cache")


@pytest.fixture(scope="session")
def _xdg_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg")


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _xdg_home: Path) -> None:
    """Never touch the user's real cache or a face-bench.toml in the working directory."""
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_xdg_home))
    monkeypatch.delenv("FACE_BENCH_JAPANESE_FACE_V1", raising=False)


@pytest.fixture
def standin_config(tmp_path: Path) -> Path:
    """A face-bench.toml registering the tiny random ONNX model (fast) as a stand-in."""
    path = tmp_path / "face-bench.toml"
    path.write_text(
        f"""
[models.standin]
backend = "onnx"
path = "{TINY_ONNX.as_posix()}"
input_size = [224, 224]
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
embedding_size = 512
similarity = "cosine"
threshold = 0.4

[subsets.young_men]
sex = ["M"]
age_group = ["young"]
""",
        encoding="utf-8",
    )
    return path
