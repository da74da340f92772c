"""A missing third-party package ends a command with one line naming its pip command."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from corpus import pattern
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.deps import install_command, missing_dependency
from face_bench.core.errors import MissingDependencyError

runner = CliRunner()
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.fixture
def installed_from_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """face-bench's installed requirements as this checkout's pyproject.toml declares them
    (a venv's metadata can predate the checkout), in the form a wheel's METADATA gives."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requires = list(project["dependencies"])
    for extra, names in project["optional-dependencies"].items():
        requires += [f'{name}; extra == "{extra}"' for name in names]
    real = metadata.requires
    monkeypatch.setattr(
        metadata, "requires", lambda dist: requires if dist == "face-bench" else real(dist)
    )


def _folder_dataset(root: Path) -> Path:
    for person in ("ann", "bob"):
        (root / person).mkdir(parents=True)
        for n in (1, 2):
            pattern(150 + n, 150).save(root / person / f"{n}.png")
    return root


@pytest.mark.usefixtures("installed_from_here")
def test_dlib_without_onnx_is_one_line_naming_the_pip_command(tmp_path, monkeypatch):
    """dlib's default runtime converts its network with onnx on first use: without onnx the
    run stops with the install command and exit 5, not a traceback and the gate's exit 1."""
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ModuleNotFoundError
    data = _folder_dataset(tmp_path / "faces")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # the default --out: reports/ here
    result = runner.invoke(
        app,
        ["roc", "--data", str(data), "--model", "dlib", "--align", "none", "--bootstrap", "0",
         "--cache-dir", str(tmp_path / "cache")],
    )  # fmt: skip
    assert result.exit_code == MissingDependencyError.exit_code == 5, result.output
    assert "Traceback" not in result.output
    assert list((tmp_path / "work").iterdir()) == []  # no empty reports/ left behind
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [result.stderr.splitlines()[-1]]
    assert errors[0].startswith("face-bench: error: the Python package 'onnx' (module onnx)")
    # A core dependency: the command installs onnx itself, at the version face-bench declares.
    assert errors[0].endswith(f"install it with: {sys.executable} -m pip install 'onnx>=1.15'")


@pytest.mark.parametrize(
    ("module", "distribution"),
    [("PIL.Image", "pillow"), ("sklearn.metrics", "scikit-learn"), ("umap", "umap-learn")],
)
def test_install_command_names_the_distribution_not_the_module(module, distribution):
    command = install_command(module)
    assert command.startswith(f"{sys.executable} -m pip install ")
    assert command.split(" install ", 1)[1].strip("'").startswith(distribution)


@pytest.mark.usefixtures("installed_from_here")
def test_an_extra_is_installed_through_face_bench():
    assert install_command("ray").endswith("pip install 'face-bench[ray]'")


def test_face_bench_own_modules_are_not_a_missing_dependency():
    assert missing_dependency(ModuleNotFoundError("x", name="face_bench.nope")) is None
    assert missing_dependency(ModuleNotFoundError("x")) is None
    error = missing_dependency(ModuleNotFoundError("x", name="onnx.helper"))
    assert error is not None and "'onnx' (module onnx)" in str(error)
