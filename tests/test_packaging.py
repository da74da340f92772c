"""What the wheel and the source distribution hold, and what the wheel needs to run.

The wheel is what a user installs alone: its runtime dependencies must cover every
third-party module face-bench imports (only an extra's own runtime, Ray, may be missing, and
``--engine ray`` says how to add it). The sdist builds that wheel and ships no test suite:
the tests need the repository around them (baselines, docs, ../shared).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from face_bench.core.deps import PROVIDERS

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
OPTIONAL_RUNTIMES = {"ray"}  # an extra's engine, checked with a pip hint before use


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "face_bench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - {"face_bench", "__future__"}


def test_every_imported_package_is_a_runtime_dependency():
    """An installed wheel alone runs every command: onnx (dlib's converter) included."""
    declared = {_name(r) for r in PROJECT["dependencies"]}
    needed = {_name(PROVIDERS.get(m, m)) for m in _third_party_imports() - OPTIONAL_RUNTIMES}
    assert "onnx" in needed
    assert sorted(needed - declared) == []
    assert {_name(r) for r in PROJECT["optional-dependencies"]["ray"]} == OPTIONAL_RUNTIMES


def test_license_is_an_spdx_expression_with_its_file():
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def _build_command() -> list[str]:
    if importlib.util.find_spec("build") is not None:
        return [sys.executable, "-m", "build"]
    frontend = shutil.which("pyproject-build")
    if frontend is None:
        pytest.skip("needs the `build` package (in the dev extra: pip install build)")
    return [frontend]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist, and the wheel built from it (``python -m build``'s default route)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [*_build_command(), "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in done.stdout + done.stderr
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def _package_files() -> set[str]:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "face_bench"], capture_output=True, text=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return set(listed.stdout.split())


@pytest.mark.slow
def test_sdist_ships_the_package_and_no_test_suite(dists):
    sdist, _wheel = dists
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        info = archive.extractfile(f"{sdist.name[: -len('.tar.gz')]}/PKG-INFO")
        assert info is not None
        pkg_info = info.read().decode()
    assert {"LICENSE", "README.md", "pyproject.toml", "constraints.txt"} <= names
    assert _package_files() <= names
    assert [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/"))] == []
    assert "License-Expression: MIT" in pkg_info


@pytest.mark.slow
def test_wheel_declares_onnx_and_holds_the_package_data(dists):
    _sdist, wheel = dists
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(meta).decode()
    assert _package_files() <= names
    assert not [n for n in names if n.startswith("tests/") or "conftest" in n]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, flags=re.MULTILINE)
    core = {_name(r) for r in requires if "extra ==" not in r}
    assert core == {_name(r) for r in PROJECT["dependencies"]} and "onnx" in core


def test_ci_installs_the_wheel_alone_and_runs_it():
    """CI's second step is the wheel smoke check, run from a folder outside the checkout."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci.index("make wheel-smoke") > ci.index("make test")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^wheel-smoke:.*\n\t.*bash \.ci/wheel-smoke$", makefile, re.MULTILINE)
    script = (REPO / ".ci" / "wheel-smoke").read_text(encoding="utf-8")
    for step in ("-m build --wheel", "-m venv", "pip install -q -c constraints.txt", "roc --data"):
        assert step in script
