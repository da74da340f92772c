"""Every code block in README.md and docs/*.md runs: examples that stop working fail here.

Python blocks run as scripts (``python file.py``, as a reader would save them), from a
folder where ``../shared`` is the shared data, as it is from the repository root. TOML
blocks load as a config file, the CSV block as a dataset manifest, and every concrete
``face-bench`` command line in a shell or plain block goes through the real command-line
parser, so a renamed option or a bad value in the docs fails here. A usage synopsis
(``[--option ...]``, ``A|B``, ``RUN_DIR``) and sample output are not commands.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from conftest import REPO, SHARED, needs_shared

from face_bench.cli.app import app
from face_bench.core.config import load_config
from face_bench.data.datasets import load_dataset

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[str, str]]:
    """(``file:line``, text) of every fenced block in the docs with that language tag."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{path.relative_to(REPO)}:{line}", match.group(2)))
    return found


def _ids(items: list[tuple[str, str]]) -> list[str]:
    return [where for where, _ in items]


def command_lines(text: str) -> list[str]:
    """The ``face-bench`` command lines of a block, continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.split(" #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line.startswith("face-bench ")]


def _is_synopsis(line: str) -> bool:
    return bool(re.search(r"\[--|\||\b[A-Z][A-Z_]{2,}\b|\.\.\.", line))


def shell_commands() -> list[tuple[str, str]]:
    """Every concrete ``face-bench`` command in ``bash`` and untagged blocks."""
    commands = []
    for where, text in [*blocks("bash"), *blocks("")]:
        commands += [(where, line) for line in command_lines(text) if not _is_synopsis(line)]
    return commands


def test_the_docs_have_blocks_of_every_kind_checked() -> None:
    assert blocks("python") and blocks("toml") and blocks("csv") and shell_commands()
    tags = {match.group(1) for path in DOCS for match in FENCE.finditer(path.read_text())}
    assert tags <= {"python", "toml", "csv", "bash", "text", ""}, (
        f"a block kind nothing checks: {tags}"
    )


@pytest.mark.parametrize(("where", "text"), blocks("text"), ids=_ids(blocks("text")))
def test_text_blocks_are_what_face_bench_prints(where: str, text: str) -> None:
    """A ``text`` block shows face-bench's own output for the command its first line names
    (``No such option: --no-such-option`` is what ``face-bench roc --no-such-option`` says)."""
    first = text.splitlines()[0]
    match = re.match(r"face-bench: error: No such option: (\S+)", first)
    assert match, f"{where}: a text block nothing checks"
    command = re.search(r"Try 'face-bench (\w[\w-]*) --help'", text)
    assert command, where
    result = subprocess.run(
        [str(Path(sys.executable).with_name("face-bench")), command.group(1), match.group(1)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip() == text.strip(), where


@pytest.mark.parametrize(("where", "line"), shell_commands(), ids=lambda v: v)
def test_shell_command_parses(where: str, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    group = typer.main.get_command(app)
    name, *args = shlex.split(line)[1:]
    if name.startswith("-"):  # an option of face-bench itself (completion): named, not run
        assert name in {opt for param in group.params for opt in param.opts}, where
        return
    command = group.commands[name]  # type: ignore[attr-defined]
    with command.make_context(name, args) as context:
        assert context.params, where


@pytest.mark.parametrize(("where", "text"), blocks("toml"), ids=_ids(blocks("toml")))
def test_toml_block_is_a_valid_config(where: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "face-bench.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert config.path == path, where


@pytest.mark.parametrize(("where", "text"), blocks("csv"), ids=_ids(blocks("csv")))
def test_csv_block_is_a_valid_manifest(where: str, text: str, tmp_path: Path) -> None:
    from corpus import pattern

    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    rows = text.strip().splitlines()[1:]
    for row in rows:
        image = tmp_path / row.split(",")[0]
        image.parent.mkdir(parents=True, exist_ok=True)
        pattern(64, 48).save(image)
    dataset = load_dataset(tmp_path)
    assert len(dataset.table) == len(rows), where


def _run_script(text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """The block saved as ``example.py`` in a working folder beside ``shared``, then run."""
    (folder / "shared").symlink_to(SHARED, target_is_directory=True)
    work = folder / "work"
    baselines = work / "tests" / "baselines"
    baselines.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "baselines" / "headline-60.json", baselines)
    gate_run = work / "out" / "gate-run"  # what the CI page's `roc ... --out out/gate-run` left
    gate_run.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "baselines" / "headline-60.json", gate_run / "results.json")
    (work / "example.py").write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    command = [sys.executable, "example.py"]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)


@needs_shared
@pytest.mark.slow
@pytest.mark.parametrize(("where", "text"), blocks("python"), ids=_ids(blocks("python")))
def test_python_block_runs_as_a_script(where: str, text: str, tmp_path: Path) -> None:
    done = _run_script(text, tmp_path)
    assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
