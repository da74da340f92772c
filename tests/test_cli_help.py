"""Every command has help text and is documented in the README; errors are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from face_bench.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def command_names() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_there_are_commands() -> None:
    assert {"roc", "threshold-sweep", "models"} <= set(command_names())


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_and_is_in_readme(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout) > 200
    assert f"face-bench {name}" in README.read_text(encoding="utf-8")


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from face_bench.cli.app import app; "
        "heavy = [m for m in ('dlib', 'onnxruntime', 'umap', 'matplotlib', 'sklearn') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _tiny_folder_dataset(root: Path) -> Path:
    """Two people, two synthetic images each: enough for option checks, no shared data."""
    from corpus import pattern

    for person in ("ann", "bob"):
        (root / person).mkdir(parents=True)
        for n in (1, 2):
            pattern(64 + n, 48).save(root / person / f"{n}.png")
    return root


def test_unknown_subset_is_one_line_with_suggestion(tmp_path: Path) -> None:
    data = _tiny_folder_dataset(tmp_path / "faces")
    result = runner.invoke(app, ["roc", "--subset", "young_woman", "--data", str(data)])
    assert result.exit_code == 14
    assert result.stderr.count("\n") == 1
    assert "did you mean 'young_women'" in result.stderr.lower()


def test_unknown_model_and_missing_data(tmp_path: Path) -> None:
    data = _tiny_folder_dataset(tmp_path / "faces")
    result = runner.invoke(app, ["roc", "--data", str(data), "--model", "dlb"])
    assert result.exit_code == 21 and "did you mean 'dlib'" in result.stderr.lower()
    result = runner.invoke(app, ["roc", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 10 and "dataset folder not found" in result.stderr
    assert "Traceback" not in result.output


def test_console_entry_point_keeps_exit_codes_and_output(tmp_path: Path) -> None:
    """``main`` leaves without interpreter teardown: exit codes and every line still arrive,
    as they do from the Typer app exiting the usual way."""

    def run(*args: str, entry: str = "main") -> subprocess.CompletedProcess[str]:
        code = (
            "import sys; sys.argv[0] = 'face-bench'; "
            f"from face_bench.cli.app import {entry}; {entry}()"
        )
        command = [sys.executable, "-c", code, *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)

    shown, usual = run("roc", "--help"), run("roc", "--help", entry="app")
    assert (shown.returncode, shown.stdout) == (usual.returncode, usual.stdout) == (0, usual.stdout)
    assert "Usage: face-bench roc" in shown.stdout
    assert run("no-such-command").returncode == 2
    missing = run("roc", "--data", str(tmp_path / "nothing"))
    assert missing.returncode == 10
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("face-bench: error:")
