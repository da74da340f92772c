"""Renamed options: the new spelling is the one in --help, the old one still works with a note."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from face_bench.cli.app import RenamingCommand, app

runner = CliRunner()


def _command(name: str) -> RenamingCommand:
    group = typer.main.get_command(app)
    command = group.commands[name]  # type: ignore[attr-defined]
    assert isinstance(command, RenamingCommand)
    return command


def _folder_dataset(root: Path) -> Path:
    from corpus import pattern

    for person in ("ann", "bob"):
        (root / person).mkdir(parents=True)
        for n in (1, 2):
            pattern(64 + n, 48).save(root / person / f"{n}.png")
    return root


@pytest.mark.parametrize(
    ("name", "new", "old"),
    [
        ("roc", "--sample-pairs", "--pairs"),
        ("threshold-sweep", "--sample-pairs", "--pairs"),
        ("umap", "--sample-pairs", "--pairs"),
        ("lfw", "--pairs-file", "--pairs"),
        ("export-scores", "--to", "--format"),
    ],
)
def test_help_shows_the_new_spelling_only(name: str, new: str, old: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0
    options = {opt for p in _command(name).params for opt in p.opts}
    assert new in options and old not in options
    assert f"(Formerly {old}.)" in " ".join(result.stdout.split())


def test_dataset_is_a_synonym_of_subset_without_a_note(tmp_path: Path) -> None:
    # `face-bench roc --dataset young_women` is the product's documented usage: it stays a
    # first-class spelling of --subset (--data names the dataset), with no deprecation note.
    data = _folder_dataset(tmp_path / "faces")
    new = runner.invoke(app, ["roc", "--subset", "young_woman", "--data", str(data)])
    old = runner.invoke(app, ["roc", "--dataset", "young_woman", "--data", str(data)])
    assert new.exit_code == old.exit_code == 14  # the same subset check: unknown subset
    assert old.stderr == new.stderr
    assert "deprecated" not in old.stderr
    for name in ("roc", "threshold-sweep", "umap", "report"):
        options = {opt for p in _command(name).params for opt in p.opts}
        assert {"--subset", "--dataset", "-d"} <= options


def test_old_export_format_spelling(tmp_path: Path) -> None:
    old = runner.invoke(app, ["export-scores", str(tmp_path), "--format", "csv"])
    new = runner.invoke(app, ["export-scores", str(tmp_path), "--to", "csv"])
    assert old.exit_code == new.exit_code != 0
    assert "no results.json or lfw.json" in new.stderr
    assert old.stderr == (
        "face-bench: warning: --format is deprecated, use --to "
        "(the old spelling goes in the next release)\n" + new.stderr
    )


def test_old_lfw_pairs_spelling(tmp_path: Path) -> None:
    missing = tmp_path / "pairs.txt"
    old = runner.invoke(app, ["lfw", "--data", str(tmp_path), "--pairs", str(missing)])
    new = runner.invoke(app, ["lfw", "--data", str(tmp_path), "--pairs-file", str(missing)])
    assert old.exit_code == new.exit_code != 0
    assert old.stderr.splitlines()[1:] == new.stderr.splitlines()
    assert "--pairs is deprecated, use --pairs-file" in old.stderr.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--pairs", "10"], ["--sample-pairs", "10"]),
        (["--pairs=10", "-d", "all"], ["--sample-pairs=10", "-d", "all"]),
        # A value of another option is never renamed, nor anything after "--".
        (["-o", "--pairs", "--pairs", "3"], ["-o", "--pairs", "--sample-pairs", "3"]),
        (["--out", "--pairs"], ["--out", "--pairs"]),
        (["--subset", "a", "--", "--pairs"], ["--subset", "a", "--", "--pairs"]),
        # Flags take no value: the token after one is still an option.
        (["--help", "--pairs", "3"], ["--help", "--sample-pairs", "3"]),
    ],
)
def test_rewrite_renames_option_names_only(args: list[str], expected: list[str]) -> None:
    assert _command("roc")._rewrite(args) == expected


def test_report_flag_before_old_spelling() -> None:
    # --no-self-contained is a flag: the --pairs after it is an option, renamed.
    command = _command("report")
    assert command._rewrite(["--no-self-contained", "--pairs", "5"]) == [
        "--no-self-contained",
        "--sample-pairs",
        "5",
    ]


def test_old_and_new_spellings_fill_the_same_parameter() -> None:
    ctx = _command("roc").make_context("roc", ["--dataset", "a", "-d", "b", "--pairs", "7"])
    assert list(ctx.params["subset"]) == ["a", "b"]
    assert ctx.params["sample_pairs"] == 7


@pytest.mark.parametrize(
    ("command", "option", "value", "limit"),
    [
        ("roc", "--bootstrap", "1000000000", "100000"),
        ("report", "--bootstrap", "100001", "100000"),
        ("roc", "--workers", "100000", "1024"),
        ("compare", "--workers", "1025", "1024"),
        ("lfw", "--workers", "5000", "1024"),
        ("umap", "--seed", str(2**32), str(2**32 - 1)),
        ("roc", "--seed", str(10**30), str(2**32 - 1)),
    ],
)
def test_counts_out_of_range_are_usage_errors(tmp_path, command, option, value, limit):
    # An empty --data: were the bound missing, the command would stop at once, not run.
    data = [] if command == "compare" else ["--data", str(tmp_path)]
    result = runner.invoke(app, [command, option, value, *data])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr
    assert f"less than or equal to {limit}" in result.stderr
