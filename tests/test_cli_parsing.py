"""Command-line parsing as a user meets it: usage errors are one ``face-bench: error:`` line
(plus where help is) with exit code 2, and a bad ``--threshold`` stops a run before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ConfigError
from face_bench.run.request import EvaluationRequest

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["roc", "--no-such-option"], "No such option: --no-such-option"),
        (["roc", "--sample", "many"], "Invalid value for '--sample'"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["gate"], "Missing option '--baseline'"),
        (["roc", "--subset"], "Option '--subset' requires an argument"),
    ],
)
def test_a_usage_error_is_one_line_and_a_help_hint(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("face-bench: error: ") and message in lines[0]
    command = "face-bench" if args[0] == "no-such-command" else f"face-bench {args[0]}"
    assert lines[1] == f"Try '{command} --help'."
    assert "Usage:" not in result.stderr


def test_no_arguments_still_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage:" in result.output and "roc" in result.output
    assert "face-bench: error" not in result.output


@pytest.mark.parametrize("rule", ["bogus", "far:2", "far:", "fmr:1e-3"])
def test_a_request_with_a_bad_threshold_rule_is_refused(tmp_path: Path, rule: str) -> None:
    with pytest.raises(ConfigError, match="--threshold expects"):
        EvaluationRequest(data=tmp_path, differential_threshold=rule)


@pytest.mark.parametrize("rule", ["default", "far:1e-3", "far:0.05"])
def test_good_threshold_rules_build_a_request(tmp_path: Path, rule: str) -> None:
    assert EvaluationRequest(data=tmp_path, differential_threshold=rule).differential_threshold


@needs_shared
@pytest.mark.parametrize("subsets", [["young_women"], ["young_women", "ordinary"]])
def test_a_bad_threshold_stops_the_run_before_any_work(tmp_path: Path, subsets: list[str]) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["roc", "--data", str(JP_FACES), "--sample", "12", "--bootstrap", "0",
            "--threshold", "bogus", "--cache-dir", str(cache), "--out", str(out)]  # fmt: skip
    for name in subsets:
        args += ["--subset", name]
    result = runner.invoke(app, args)
    assert result.exit_code == ConfigError.exit_code, result.output
    assert result.stderr.splitlines() == [
        "face-bench: error: --threshold expects far:TARGET (FMR on the reference group's "
        "impostors, e.g. far:1e-3), pooled:TARGET (on all groups' impostors) or default, "
        "got 'bogus'"
    ]
    assert not out.exists()
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))


@needs_shared
def test_a_model_asked_for_without_weights_says_where_it_looked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = runner.invoke(
        app,
        ["roc", "--data", str(JP_FACES), "--model", "japanese-face-v1", "--cache-dir", str(cache),
         "--out", str(tmp_path / "out")],
        env={"FACE_BENCH_JAPANESE_FACE_V1": None},
    )  # fmt: skip
    assert result.exit_code == 25
    (line,) = result.stderr.splitlines()
    assert line.startswith("face-bench: error: model 'japanese-face-v1' was asked for")
    expected = cache / "models" / "JAPANESE_FACE_v1.onnx"
    for place in ("--weights japanese-face-v1=PATH", "$FACE_BENCH_JAPANESE_FACE_V1", str(expected)):
        assert place in line
    assert "Expected an ONNX file" in line
