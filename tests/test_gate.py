"""Tests for the results schema, face_bench.gate (verdict, output) and ``face-bench gate``.

Results files are built from typed ``RunResults`` objects with realistic figures, so these
tests need no embeddings; the CLI is driven through CliRunner on the real app and every
test checks the printed text as well as the exit code.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import JP_FACES, needs_shared
from hypothesis import given
from hypothesis import strategies as st
from junitparser import Failure, JUnitXml, Skipped
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import GateInputError
from face_bench.gate.output import escape_markdown, render_junit, render_markdown
from face_bench.gate.tolerances import merge_tolerances, parse_tolerances, tolerance_for
from face_bench.gate.verdict import gate
from face_bench.metrics.catalog import CATALOG, DEFAULT_TOLERANCES, DIFFERENTIALS, markdown_table
from face_bench.results.blocks import ConfidenceInterval
from face_bench.results.contract import (
    SCHEMA_VERSION,
    DatasetInfo,
    ModelInfo,
    ModelRun,
    PairInfo,
    RunResults,
    RunSettings,
    SubsetRun,
    Volatile,
    json_schema,
)
from face_bench.results.contract import (
    Failure as EnrolFailure,
)

JFV1 = "JAPANESE FACE v1"
DLIB = "dlib"
SUBSETS = ("ordinary", "young_women")
# Per run: 11 flat metrics (8 scalars + TAR at 1e-2, 1e-3, 1e-4) per subset x model.
N_METRICS = 11

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real step summary and no face-bench.toml from the caller's working directory."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)


# ---------------------------------------------------------------- realistic results


def metrics_block(roc_auc: float, eer: float, tar_1e3: float, *, ci: bool) -> dict[str, Any]:
    """A ``metrics`` block shaped like the ones ``roc`` writes."""
    block: dict[str, Any] = {
        "roc_auc": roc_auc,
        "eer": eer,
        "eer_threshold": 0.412,
        "tar_at_far": [
            {
                "far_target": 0.01,
                "tar": tar_1e3 + 0.12,
                "threshold": 0.331,
                "achieved_far": 0.0099,
                "supported": True,
                "reason": None,
            },
            {
                "far_target": 0.001,
                "tar": tar_1e3,
                "threshold": 0.452,
                "achieved_far": 0.00095,
                "supported": True,
                "reason": None,
            },
            {
                "far_target": 0.0001,
                "tar": None,
                "threshold": None,
                "achieved_far": None,
                "supported": False,
                "reason": "insufficient data",
            },
        ],
        "best_f1": {"threshold": 0.35, "f1": 0.552, "precision": 0.49, "recall": 0.63},
        "at_default": {
            "threshold": 0.6,
            "f1": 0.41,
            "precision": 0.83,
            "recall": 0.27,
            "fmr": 0.0023,
            "fnmr": 0.73,
            "accuracy": 0.78,
        },
        "d_prime": 2.1,
        "genuine_mean": 0.58,
        "genuine_std": 0.14,
        "impostor_mean": 0.22,
        "impostor_std": 0.13,
        "n_genuine": 7383,
        "n_impostor": 17817,
        "failure_rate": 0.0,
        "auc_definition": "exact: trapezoidal area under the full ROC (ties count half)",
    }
    if ci:
        block["ci"] = {
            "roc_auc": {
                "estimate": roc_auc,
                "lower": roc_auc - 0.012,
                "upper": roc_auc + 0.01,
                "n_boot": 1000,
                "seed": 0,
                "confidence": 0.95,
                "n_invalid": 0,
            },
            "eer": {
                "estimate": eer,
                "lower": eer - 0.015,
                "upper": eer + 0.017,
                "n_boot": 1000,
                "seed": 0,
                "confidence": 0.95,
                "n_invalid": 0,
            },
            "tar_at_far_1e-3": {
                "estimate": tar_1e3,
                "lower": tar_1e3 - 0.05,
                "upper": tar_1e3 + 0.05,
                "n_boot": 1000,
                "seed": 0,
                "confidence": 0.95,
                "n_invalid": 0,
            },
        }
    return block


def make_results(
    *,
    subsets: tuple[str, ...] = SUBSETS,
    models: tuple[str, ...] = (JFV1, DLIB),
    seed: int = 0,
    digest: str = "sha256:9f2c61d0a4b7e83f5c1d2a9b8e7f6a5d4c3b2a1908f7e6d5c4b3a29180f7e6d5",
) -> RunResults:
    figures = {JFV1: (0.94, 0.12, 0.49), DLIB: (0.88, 0.19, 0.21)}
    model_infos = [
        ModelInfo(
            name=name,
            backend="onnx" if i == 0 else "dlib",
            similarity="cosine" if i == 0 else "euclidean",
            units="cosine similarity" if i == 0 else "euclidean distance",
            default_threshold=0.6,
            weights_sha256=f"{i + 1:x}" * 64,
            weights_path=f"/secrets/{name}.onnx",
            embedding_size=512 if i == 0 else 128,
            preprocessing={"input_size": [224, 224], "color_order": "RGB", "align": "auto"},
        )
        for i, name in enumerate(models)
    ]
    subset_runs = []
    for s, subset in enumerate(subsets):
        images = [f"images/田中 花子{k % 7}/{k:03d}.png" for k in range(40 + s)]
        runs = []
        for i, name in enumerate(models):
            auc, eer, tar = figures.get(name, (0.9, 0.15, 0.3))
            failures = [EnrolFailure(image=images[3], reason="no_face", detail="detector found 0")]
            runs.append(
                ModelRun(
                    name=name,
                    n_images_attempted=len(images),
                    n_failures=len(failures) if i else 0,
                    failures=failures if i else [],
                    metrics=metrics_block(auc - 0.01 * s, eer, tar, ci=i == 0),
                )
            )
        subset_runs.append(
            SubsetRun(
                name=subset,
                definition={"japanese": ["yes"]}
                if subset == "ordinary"
                else {"sex": ["F"], "age_group": ["young"]},
                pool_size=900 - 100 * s,
                sample_requested=300,
                sample_size=len(images),
                n_identities=7,
                images=images,
                pairs=PairInfo(mode="all", n_genuine=7383, n_impostor=17817),
                models=runs,
            )
        )
    return RunResults(
        face_bench_version="0.1.0",
        dataset=DatasetInfo(path="/data/jp_faces_dev", digest=digest, identity_source="manifest"),
        settings=RunSettings(
            seed=seed,
            sample=300,
            pairs=None,
            align="auto",
            multi_face="largest",
            on_fail="exclude",
            far_targets=[0.01, 0.001, 0.0001],
            bootstrap=1000,
        ),
        models=model_infos,
        subsets=subset_runs,
        volatile=Volatile(
            generated_at="2024-06-01T12:00:00+00:00",
            command=["face-bench", "roc", "--dataset", "ordinary"],
            duration_s=81.5,
        ),
    )


def set_metric(results: RunResults, subset: str, model: str, path: str, value: Any) -> RunResults:
    """A copy with one metric changed, e.g. ``path="roc_auc"`` or ``"best_f1.f1"``."""
    out = results.model_copy(deep=True)
    run = next(m for m in out.subset(subset).models if m.name == model)
    target: Any = run.metrics
    *parents, leaf = path.split(".")
    for key in parents:
        target = getattr(target, key)
    if isinstance(target, dict):  # the ci block, keyed by metric name
        target[leaf] = value
    else:
        setattr(target, leaf, value)
    return out


def interval(lower: float, upper: float) -> ConfidenceInterval:
    return ConfidenceInterval(
        estimate=None, lower=lower, upper=upper, n_boot=1000, seed=0, confidence=0.95
    )


def write(results: RunResults, path: Path) -> Path:
    results.to_disk(path)
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write(make_results(), tmp_path / "baseline.json")


def invoke(*args: str | Path, env: dict[str, str] | None = None):
    return runner.invoke(app, ["gate", *map(str, args)], env=env)


def table_lines(markdown: str) -> list[str]:
    """Every table row, with the header and separator once (passing rows sit in a second,
    folded table)."""
    out, seen = [], set()
    for line in markdown.splitlines():
        if not line.startswith("|"):
            continue
        if line.startswith(("| subset |", "|---")):
            if line in seen:
                continue
            seen.add(line)
        out.append(line)
    return out


def row_for(markdown: str, subset: str, model: str, metric: str) -> str:
    rows = [
        line
        for line in table_lines(markdown)
        if line.startswith(f"| {subset} | {model} | {metric} ")
    ]
    assert len(rows) == 1, f"no single row for {subset}/{model}/{metric} in:\n{markdown}"
    return rows[0]


# ---------------------------------------------------------------- schema as a contract


def test_shipped_schema_equals_generated_schema():
    shipped = resources.files("face_bench.results") / "schema" / "results.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == json_schema(), (
        "face_bench/results/schema/results.schema.json is stale: "
        "run `python -m face_bench.results.contract`"
    )


def test_schema_is_valid_draft_2020_12_and_pins_the_version():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_results_file_validates_against_schema(tmp_path):
    path = write(make_results(), tmp_path / "results.json")
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), json_schema())


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.update(schema_version=1), "2 was expected"),
        (lambda d: d.update(surprise=True), "Additional properties"),
        (lambda d: d["subsets"][0]["models"][0]["metrics"].update(x=1), "Additional properties"),
        (
            lambda d: d["subsets"][0]["models"][0]["metrics"]["at_default"].pop("fmr"),
            "'fmr' is a required",
        ),
        (lambda d: d["subsets"][0]["models"][0]["metrics"].update(roc_auc="high"), "'high'"),
        (lambda d: d["subsets"][0]["models"][0]["metrics"].pop("eer"), "'eer' is a required"),
        (lambda d: d["settings"].pop("seed"), "'seed' is a required"),
    ],
)
def test_schema_rejects_broken_files(tmp_path, mutate, words):
    data = make_results().model_dump(mode="json")
    mutate(data)
    with pytest.raises(jsonschema.ValidationError, match=re.escape(words)):
        jsonschema.validate(data, json_schema())


# ---------------------------------------------------------------- verdicts through the CLI


def test_identical_runs_pass(base, tmp_path):
    current = write(make_results(), tmp_path / "current.json")
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 0, result.output
    assert "face-bench gate: ✅ passed" in result.stdout
    rows = table_lines(result.stdout)[2:]
    assert len(rows) == 2 * 2 * N_METRICS
    assert not any("❌" in row for row in rows)
    assert "✅ passed" in result.stderr


def test_roc_auc_lowered_beyond_tolerance_fails_on_the_right_row(base, tmp_path):
    doctored = set_metric(make_results(), "young_women", JFV1, "roc_auc", 0.93 - 0.02)
    current = write(doctored, tmp_path / "current.json")
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 1, result.output
    row = row_for(result.stdout, "young_women", JFV1, "roc_auc")
    assert "❌ regressed" in row
    assert "| 0.9300 | 0.9100 | -0.0200 | 0.005 |" in row
    failing = [line for line in table_lines(result.stdout) if "❌" in line]
    assert failing == [row]
    assert "1 regression in" in result.stderr
    assert "### face-bench gate: ❌ 1 regression" in result.stdout
    regressed = (
        f"- young_women / {JFV1} / roc_auc: 0.9300 → 0.9100 (worse by 0.02, tolerance 0.005)"
    )
    assert regressed in result.stdout.splitlines()


def test_lower_is_better_metric_regresses_upwards(base, tmp_path):
    current = write(set_metric(make_results(), "ordinary", DLIB, "eer", 0.25), tmp_path / "c.json")
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 1
    assert "❌ regressed" in row_for(result.stdout, "ordinary", DLIB, "eer ↓")


def test_improvement_passes(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.97), tmp_path / "c.json"
    )
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 0, result.output
    assert "✅ improved" in row_for(result.stdout, "ordinary", JFV1, "roc_auc")


@pytest.mark.parametrize("value", [0.94 - 0.004, 0.94 - 0.005, 0.94 + 0.004])
def test_change_within_tolerance_passes(base, tmp_path, value):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", value), tmp_path / "c.json"
    )
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 0, result.output
    assert "✅ pass" in row_for(result.stdout, "ordinary", JFV1, "roc_auc")


def test_cli_tolerance_lets_the_regression_pass(base, tmp_path):
    doctored = set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.90)
    current = write(doctored, tmp_path / "c.json")
    result = invoke("--baseline", base, "--current", current, "--tolerance", "roc_auc=0.5")
    assert result.exit_code == 0, result.output
    row = row_for(result.stdout, "ordinary", JFV1, "roc_auc")
    assert "| 0.5 | ✅ pass |" in row


def test_toml_tolerances_apply_and_cli_overrides_them(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.92), tmp_path / "c.json"
    )
    config = tmp_path / "gate.toml"
    config.write_text("[gate.tolerances]\nroc_auc = 0.05\ntar_at_far = 0.02\n", encoding="utf-8")
    result = invoke("--baseline", base, "--current", current, "--config", config)
    assert result.exit_code == 0, result.output
    assert "| 0.05 | ✅ pass |" in row_for(result.stdout, "ordinary", JFV1, "roc_auc")
    assert "| 0.02 |" in row_for(result.stdout, "ordinary", JFV1, "tar_at_far_1e-3")

    result = invoke(
        "--baseline", base, "--current", current, "--config", config, "-t", "roc_auc=0.001"
    )
    assert result.exit_code == 1, result.output
    assert "| 0.001 | ❌ regressed |" in row_for(result.stdout, "ordinary", JFV1, "roc_auc")


def test_face_bench_toml_in_working_directory_is_read(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.92), tmp_path / "c.json"
    )
    (tmp_path / "face-bench.toml").write_text(
        "[gate.tolerances]\nroc_auc = 0.05\n", encoding="utf-8"
    )
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[gate.tolerances]\nroc_acu = 0.01\n", "did you mean 'roc_auc'"),
        ("[gate.tolerances]\neer = -0.1\n", "must be a finite number >= 0"),
        ("[gate.tolerances]\neer = 'small'\n", "must be a number"),
        ("[gate]\nthreshold = 1\n", "unknown key(s) ['threshold'] in [gate]"),
        ("[gate\n", "not valid TOML"),
    ],
)
def test_bad_gate_config_exits_2(base, tmp_path, toml, words):
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    result = invoke("--baseline", base, "--current", base, "--config", config)
    assert result.exit_code == 2
    assert words in result.stderr
    assert result.stderr.startswith("face-bench: error: ")


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("roc_auc", "expects METRIC=VALUE"),
        ("roc_auc=x", "expects METRIC=VALUE"),
        ("roc-auc=0.1", "did you mean 'roc_auc'"),
        ("eer=nan", "finite number"),
    ],
)
def test_bad_tolerance_option_exits_2(base, item, words):
    result = invoke("--baseline", base, "--current", base, "--tolerance", item)
    assert result.exit_code == 2
    assert words in result.stderr


# ---------------------------------------------------------------- comparability


def _drop_subset(results: RunResults, name: str) -> RunResults:
    out = results.model_copy(deep=True)
    out.subsets = [s for s in out.subsets if s.name != name]
    return out


def _new_weights(results: RunResults) -> RunResults:
    out = results.model_copy(deep=True)
    out.models[0].weights_sha256 = "f" * 64
    return out


def _colour_order(results: RunResults, order: str) -> RunResults:
    """The same weights, the colour channels fed in another order."""
    out = results.model_copy(deep=True)
    out.models[0].preprocessing = {**out.models[0].preprocessing, "color_order": order}
    return out


def _drop_model_run(results: RunResults) -> RunResults:
    out = results.model_copy(deep=True)
    out.subsets[1].models = out.subsets[1].models[:1]
    return out


def _other_images(results: RunResults) -> RunResults:
    out = results.model_copy(deep=True)
    out.subsets[0].images[0] = "images/someone else/999.png"
    return out


def _other_detector(results: RunResults) -> RunResults:
    out = results.model_copy(deep=True)
    out.settings.detector = "yunet"
    return out


def _other_definition(results: RunResults) -> RunResults:
    out = results.model_copy(deep=True)
    out.subsets[0].definition = {"japanese": ["yes", "unknown"]}
    return out


@pytest.mark.parametrize(
    ("current", "words"),
    [
        (lambda: make_results(digest="sha256:0000aaaa"), "run: dataset digest differs"),
        (lambda: make_results(seed=7), "run: seed differs (baseline 0, current 7)"),
        (lambda: _new_weights(make_results()), f"model '{JFV1}': weights differ"),
        (
            lambda: _colour_order(make_results(), "BGR"),
            f"model '{JFV1}': preprocessing differs: color_order 'RGB' in baseline, "
            "'BGR' in current",
        ),
        (
            lambda: _drop_subset(make_results(), "young_women"),
            "subset 'young_women': missing from the current run",
        ),
        (lambda: make_results(models=(JFV1,)), f"model '{DLIB}': missing from the current run"),
        (lambda: _other_images(make_results()), "sampled images differ (1 only in baseline"),
        (lambda: _other_definition(make_results()), "subset 'ordinary': definition differs"),
        (
            lambda: _other_detector(make_results()),
            "run: detector differs (baseline 'hog', current 'yunet')",
        ),
    ],
)
def test_incomparable_runs_exit_2_with_the_reason(base, tmp_path, current, words):
    path = write(current(), tmp_path / "current.json")
    result = invoke("--baseline", base, "--current", path)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("face-bench: error: runs are not comparable: ")
    assert words in result.stderr
    assert "--allow-mismatch" in result.stderr
    assert "⚠️ not comparable" in result.stdout
    assert table_lines(result.stdout) == []


def test_a_change_in_face_bench_own_face_stage_is_compared_with_a_note(base, tmp_path):
    """A new face stage is face-bench's change to measure, not another model."""
    current = make_results().model_copy(deep=True)
    base_results = make_results().model_copy(deep=True)
    for results, version in ((base_results, 2), (current, 3)):
        results.models[0].preprocessing = {
            **results.models[0].preprocessing,
            "face_stage_version": version,
        }
    baseline = write(base_results, tmp_path / "b.json")
    result = invoke("--baseline", baseline, "--current", write(current, tmp_path / "c.json"))
    assert result.exit_code == 0, result.output
    assert f"model '{JFV1}': face-bench's own face or model stage differs" in result.stdout
    assert "face_stage_version 2 in baseline, 3 in current" in result.stdout


def test_a_model_run_missing_from_the_current_run_is_a_mismatch():
    """Files are refused by the reader (every model runs on every subset); objects built in
    code still get the mismatch."""
    report = gate(make_results(), _drop_model_run(make_results()), None)
    assert report.exit_code == 2
    assert f"subset 'young_women', model '{DLIB}': missing from the current run" in (
        report.problem or ""
    )


def test_allow_mismatch_compares_anyway(base, tmp_path):
    doctored = set_metric(make_results(seed=3), "ordinary", JFV1, "roc_auc", 0.90)
    current = write(_drop_subset(doctored, "young_women"), tmp_path / "c.json")
    result = invoke("--baseline", base, "--current", current, "--allow-mismatch")
    assert result.exit_code == 1, result.output
    assert "❌ regressed" in row_for(result.stdout, "ordinary", JFV1, "roc_auc")
    assert len(table_lines(result.stdout)[2:]) == 2 * N_METRICS
    assert "Mismatches (compared anyway, --allow-mismatch)" in result.stdout
    assert "- run: seed differs (baseline 0, current 3)" in result.stdout
    assert "subset 'young\\_women'" not in result.stdout  # underscores are not escaped
    assert "- subset 'young_women': missing from the current run" in result.stdout


def test_new_subset_and_model_in_current_are_noted_not_failed(tmp_path):
    base = write(make_results(subsets=("ordinary",), models=(JFV1,)), tmp_path / "b.json")
    current = write(make_results(), tmp_path / "c.json")
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 0, result.output
    assert f"- model '{DLIB}' is new in the current run (not gated)" in result.stdout
    assert "- subset 'young_women' is new in the current run (not gated)" in result.stdout
    assert len(table_lines(result.stdout)[2:]) == N_METRICS


# ---------------------------------------------------------------- unusable files


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (
            999,
            "schema_version 999 is not supported (this face-bench reads version 1 or 2); "
            "upgrade face-bench",
        ),
        (
            0,
            "schema_version 0 is not supported (this face-bench reads version 1 or 2); "
            "re-run the benchmark",
        ),
    ],
)
def test_other_schema_versions_exit_2_with_a_clear_message(base, tmp_path, version, words):
    data = make_results().model_dump(mode="json")
    data["schema_version"] = version
    current = tmp_path / "current.json"
    current.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 2
    assert f"face-bench: error: current: {current}: {words}" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "results file not found"),
        ("{not json", "not a JSON file"),
        ('{"hello": 1}', "not a face-bench results file (no schema_version)"),
        ('{"schema_version": 1, "dataset": {}}', "invalid results file at"),
    ],
)
def test_unusable_baseline_exits_2(tmp_path, content, words):
    baseline = tmp_path / "missing.json"
    if content is not None:
        baseline.write_text(content, encoding="utf-8")
    current = write(make_results(), tmp_path / "current.json")
    result = invoke("--baseline", baseline, "--current", current)
    assert result.exit_code == 2
    assert result.stderr.startswith("face-bench: error: baseline: ")
    assert str(baseline) in result.stderr and words in result.stderr


def test_missing_required_option_is_a_usage_error(base):
    result = invoke("--baseline", base)
    assert result.exit_code == 2
    assert "--current" in result.stderr


def test_no_comparable_metric_exits_2(tmp_path):
    results = make_results(subsets=("ordinary",), models=(DLIB,))
    metrics = results.subsets[0].models[0].metrics
    for key in ("roc_auc", "eer", "d_prime", "failure_rate"):
        setattr(metrics, key, None)
    metrics.best_f1.f1 = None
    for key in ("f1", "fmr", "fnmr"):
        setattr(metrics.at_default, key, None)
    metrics.tar_at_far = []
    base = write(results, tmp_path / "b.json")
    result = invoke("--baseline", base, "--current", base)
    assert result.exit_code == 2
    assert "no metric could be compared" in result.stderr


# ---------------------------------------------------------------- outputs


def test_metric_missing_in_current_fails_where_the_baseline_had_a_value(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", DLIB, "d_prime", None), tmp_path / "c.json"
    )
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 1
    row = row_for(result.stdout, "ordinary", DLIB, "d_prime")
    assert "| 2.1000 | — | — | 0.05 |" in row and "regressed" in row
    # No value in the baseline either: nothing to hold the current run to.
    assert "⚠️ not comparable" in row_for(result.stdout, "ordinary", DLIB, "tar_at_far_1e-4")


def test_junit_parses_with_one_testcase_per_comparison(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.90), tmp_path / "c.json"
    )
    junit = tmp_path / "reports" / "gate.xml"
    result = invoke("--baseline", base, "--current", current, "--junit", junit)
    assert result.exit_code == 1
    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == 2 * 2 * N_METRICS
    failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
    skipped = [c for c in cases if any(isinstance(r, Skipped) for r in c.result)]
    assert [(c.classname, c.name) for c in failed] == [(f"ordinary / {JFV1}", "roc_auc")]
    assert "tolerance 0.005" in failed[0].result[0].message
    # TAR@FAR 1e-4 is unsupported in every run: one skipped case per subset x model.
    assert len(skipped) == 4 and {c.name for c in skipped} == {"tar_at_far_1e-4"}
    assert xml.tests == 44 and xml.failures == 1 and xml.skipped == 4
    assert "current 95% CI" in next(c for c in cases if c.name == "roc_auc").system_out


def test_junit_lists_mismatches_as_errors(base, tmp_path):
    current = write(make_results(seed=5), tmp_path / "c.json")
    junit = tmp_path / "gate.xml"
    result = invoke("--baseline", base, "--current", current, "--junit", junit)
    assert result.exit_code == 2
    xml = JUnitXml.fromfile(str(junit))
    assert xml.errors == 1 and xml.tests == 1
    assert "seed differs" in junit.read_text(encoding="utf-8")


def test_markdown_table_shape_and_escaping(tmp_path):
    nasty_model = "evil|model <script>alert(1)</script> `x` & [link](javascript:x)"
    nasty_subset = "a|b\nc"
    results = make_results(subsets=(nasty_subset,), models=(nasty_model,))
    base = write(results, tmp_path / "b.json")
    markdown_file = tmp_path / "summary.md"
    result = invoke("--baseline", base, "--current", base, "--markdown", markdown_file)
    assert result.exit_code == 0, result.output
    text = markdown_file.read_text(encoding="utf-8")
    assert text.strip() == result.stdout.strip()
    lines = table_lines(text)
    header = "subset | model | metric | baseline | current | delta | tolerance | verdict"
    assert lines[0] == f"| {header} | outside CI |"
    assert re.fullmatch(r"\|(-{3}:?\|){9}", lines[1])
    assert len(lines) == 2 + N_METRICS
    # Every row has exactly nine cells once escaped pipes are discounted.
    for line in lines:
        assert len(re.findall(r"(?<!\\)\|", line)) == 10, line
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "`" not in text and "&#96;x&#96;" in text
    assert "&amp; \\[link\\](javascript:x)" in text
    assert lines[2].startswith("| a\\|b c | evil\\|model &lt;script&gt;")


@given(st.text())
def test_escaped_text_cannot_break_a_cell_or_open_html(text):
    escaped = escape_markdown(text)
    assert "\n" not in escaped and "\r" not in escaped
    assert "<" not in escaped and ">" not in escaped and "`" not in escaped
    assert not re.search(r"(?<!\\)\|", escaped)
    assert "\\\\" not in escaped


def test_step_summary_is_appended_to(base, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("## earlier step\n", encoding="utf-8")
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.90), tmp_path / "c.json"
    )
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    result = invoke("--baseline", base, "--current", current, "--format", "json", env=env)
    assert result.exit_code == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## earlier step\n")
    assert "### face-bench gate: ❌ 1 regression" in text
    assert len(table_lines(text)) == 2 + 2 * 2 * N_METRICS
    invoke("--baseline", base, "--current", base, env=env)
    assert summary.read_text(encoding="utf-8").count("### face-bench gate:") == 2


def test_json_format(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.90), tmp_path / "c.json"
    )
    result = invoke("--baseline", base, "--current", current, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "regressed" and data["exit_code"] == 1
    assert data["counts"]["regressed"] == 1 and data["counts"]["not_comparable"] == 4
    (row,) = [r for r in data["rows"] if r["verdict"] == "regressed"]
    assert row == {
        "subset": "ordinary",
        "model": JFV1,
        "metric": "roc_auc",
        "baseline": 0.94,
        "current": 0.9,
        "delta": pytest.approx(-0.04),
        "tolerance": 0.005,
        "direction": "higher",
        "verdict": "regressed",
        "outside_ci": False,
        "ci_warning": False,
        "current_ci": [pytest.approx(0.928), pytest.approx(0.95)],
        "note": "worse by 0.04, tolerance 0.005",
        "baseline_unusable": False,
    }
    assert data["baseline"]["label"] == str(base)


# ---------------------------------------------------------------- outside the bootstrap CI


def _shifted_within_tolerance(tmp_path: Path) -> Path:
    """Current AUC 0.004 lower (within tolerance) with a tight CI that excludes the baseline."""
    doctored = set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.936)
    doctored = set_metric(
        doctored,
        "ordinary",
        JFV1,
        "ci.roc_auc",
        interval(0.933, 0.938),
    )
    return write(doctored, tmp_path / "current.json")


def test_baseline_outside_current_ci_is_a_warning(base, tmp_path):
    result = invoke("--baseline", base, "--current", _shifted_within_tolerance(tmp_path))
    assert result.exit_code == 0, result.output
    row = row_for(result.stdout, "ordinary", JFV1, "roc_auc")
    assert row.endswith("| ⚠️ pass | ⚠️ baseline outside [0.9330, 0.9380] |")
    assert "Pass --fail-outside-interval to fail on these." in result.stdout
    assert "1 outside the current 95% CI" in result.stderr
    inside = row_for(result.stdout, "ordinary", JFV1, "eer ↓")
    assert inside.endswith("| ✅ pass | inside [0.1050, 0.1370] |")
    assert row_for(result.stdout, "ordinary", DLIB, "roc_auc").endswith("| ✅ pass | — |")


def test_fail_outside_ci_flag_and_config(base, tmp_path):
    current = _shifted_within_tolerance(tmp_path)
    result = invoke("--baseline", base, "--current", current, "--fail-outside-interval")
    assert result.exit_code == 1
    assert "❌ regressed | ⚠️ baseline outside" in row_for(
        result.stdout, "ordinary", JFV1, "roc_auc"
    )

    config = tmp_path / "ci.toml"
    config.write_text("[gate]\nfail_outside_interval = true\n", encoding="utf-8")
    assert invoke("--baseline", base, "--current", current, "--config", config).exit_code == 1
    # False on the command line overrides true in the file.
    result = invoke(
        "--baseline", base, "--current", current, "--config", config, "--no-fail-outside-interval"
    )
    assert result.exit_code == 0, result.output


def test_old_fail_outside_ci_spelling_still_works_with_a_note(base, tmp_path):
    current = _shifted_within_tolerance(tmp_path)
    result = invoke("--baseline", base, "--current", current, "--fail-outside-ci")
    assert result.exit_code == 1
    assert "--fail-outside-ci is deprecated, use --fail-outside-interval" in result.stderr
    config = tmp_path / "old.toml"
    config.write_text("[gate]\nfail_outside_ci = true\n", encoding="utf-8")
    assert invoke("--baseline", base, "--current", current, "--config", config).exit_code == 1


def test_markdown_shows_what_moved_first_and_folds_the_passes(base, tmp_path):
    current = write(
        set_metric(make_results(), "ordinary", JFV1, "roc_auc", 0.90), tmp_path / "c.json"
    )
    text = invoke("--baseline", base, "--current", current).stdout
    regressed = text.index("| ordinary | JAPANESE FACE v1 | roc_auc")
    folded = text.index("<details><summary>")
    assert regressed < folded and "passing row(s) within tolerance</summary>" in text
    assert "| ✅ pass |" not in text[:folded] and "| ✅ pass |" in text[folded:]


def test_improvement_outside_ci_is_not_a_warning():
    baseline = make_results()
    current = set_metric(baseline, "ordinary", JFV1, "roc_auc", 0.97)
    current = set_metric(current, "ordinary", JFV1, "ci.roc_auc", interval(0.96, 0.98))
    report = gate(baseline, current, None)
    (row,) = [
        r for r in report.rows if (r.subset, r.model, r.metric) == ("ordinary", JFV1, "roc_auc")
    ]
    assert row.verdict == "improved" and row.outside_ci and not row.ci_warning


# ---------------------------------------------------------------- library


def test_run_gate_is_importable_for_roc_baseline(base, tmp_path):
    from face_bench.gate.verdict import run_gate

    report = run_gate(base, base, {"eer": 0.01}, None, False)
    assert report.exit_code == 0 and report.tolerances == {"eer": 0.01}
    assert report.baseline.label == str(base)
    with pytest.raises(GateInputError, match=r"current: .*results file not found"):
        run_gate(base, tmp_path / "nope.json")


def test_tolerance_lookup_and_precedence():
    assert tolerance_for("roc_auc") == DEFAULT_TOLERANCES["roc_auc"] == 0.005
    assert tolerance_for("tar_at_far_5e-2") == 0.01
    assert tolerance_for("tar_at_far_1e-3", {"tar_at_far": 0.03}) == 0.03
    assert tolerance_for("tar_at_far_1e-3", {"tar_at_far": 0.03, "tar_at_far_1e-3": 0.02}) == 0.02
    file = {"tar_at_far_1e-3": 0.02, "eer": 0.1}
    merged = merge_tolerances({"tar_at_far": 0.05, "eer": 0.2}, file)
    assert merged == {"tar_at_far": 0.05, "eer": 0.2}
    assert merge_tolerances(None, file) == file
    assert parse_tolerances(["roc_auc=0.01", " eer = 0 "]) == {"roc_auc": 0.01, "eer": 0.0}


def test_report_markdown_and_junit_render_without_the_cli():
    baseline = make_results()
    report = gate(baseline, set_metric(baseline, "ordinary", DLIB, "best_f1.f1", 0.5), None)
    assert report.exit_code == 1
    assert "❌ regressed" in row_for(render_markdown(report), "ordinary", DLIB, "best_f1")
    assert 'failures="1"' in render_junit(report)


def test_gate_help_documents_every_option():
    result = runner.invoke(app, ["gate", "--help"])
    assert result.exit_code == 0
    for option in (
        "--baseline",
        "--current",
        "--tolerance",
        "--config",
        "--allow-mismatch",
        "--fail-outside-interval",
        "--markdown",
        "--junit",
        "--format",
    ):
        assert option in result.stdout
    assert "exit 1 when any metric moved the bad way" in " ".join(result.stdout.split())


# ---------------------------------------------------------------- docs cannot drift

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("doc", ["ci-workflow.md", "results-schema.md"])
def test_docs_show_the_metric_catalog(doc):
    """Both documents embed the table generated from the catalog the gate iterates over."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    assert markdown_table() in text, (
        f"docs/{doc}: paste face_bench.metrics.catalog.markdown_table()"
    )
    assert {m.name: m.tolerance for m in (*CATALOG, *DIFFERENTIALS)} == DEFAULT_TOLERANCES


def test_results_schema_doc_names_every_field():
    text = (DOCS / "results-schema.md").read_text(encoding="utf-8")
    schema = json_schema()
    fields = set(schema["properties"])
    for definition in schema["$defs"].values():
        fields |= set(definition.get("properties", {}))
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert missing == []


def test_example_workflow_uses_real_options():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((DOCS / "github-actions-example.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["gate"]["steps"]
    scripts = "\n\n".join(step.get("run", "") for step in steps)
    assert "face-bench gate" in scripts and "out/results.json" in scripts
    # Separate restore and save, the save under always(): a failing gate keeps the cache.
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "actions/cache/restore" in uses and "actions/cache/save" in uses
    assert uses["actions/cache/save"]["if"].startswith("always()")
    assert steps.index(uses["actions/cache/save"]) > next(
        i for i, step in enumerate(steps) if "face-bench gate" in step.get("run", "")
    )
    bench_args = next(
        step["env"]["BENCH_ARGS"] for step in steps if "BENCH_ARGS" in step.get("env", {})
    )
    for command, block in (
        ("roc", bench_args + scripts.split("face-bench roc", 1)[1].split("\n\n", 1)[0]),
        ("gate", scripts.split("face-bench gate", 1)[1].split("\n\n", 1)[0]),
    ):
        help_text = runner.invoke(app, [command, "--help"]).stdout
        for option in re.findall(r"(--[a-z-]+)", block):
            assert option in help_text, f"{command} has no {option}"


def test_example_workflow_works_outside_face_bench_and_never_skips_forks():
    """Installed from face-bench's repository at a pinned release with its constraints, not
    with ``pip install .``; no job-level ``if``: a skipped job passes a required check, so a
    fork's pull request (no secrets) fails its first step instead."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((DOCS / "github-actions-example.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["gate"]
    assert "if" not in job
    assert "pull_request_target" not in workflow[True]  # YAML reads the key `on` as true
    guard = job["steps"][0]
    assert "secrets." in guard["env"]["HAS_SECRETS"] and "exit 1" in guard["run"]
    (install,) = [step["run"] for step in job["steps"] if "pip install" in step.get("run", "")]
    assert "pip install ." not in install
    command = " ".join(install.replace("\\\n", " ").split("face-bench --version")[0].split())
    assert command == (
        'python -m pip install -c "$FACE_BENCH_REPO/raw/$FACE_BENCH_REF/constraints.txt" '
        '"face-bench @ git+$FACE_BENCH_REPO@$FACE_BENCH_REF"'
    )
    assert job["env"]["FACE_BENCH_REPO"].startswith("https://") and job["env"]["FACE_BENCH_REF"]
    explained = (DOCS / "ci-workflow.md").read_text(encoding="utf-8")
    assert command in " ".join(explained.replace("\\\n", " ").split())
    assert "### Pull requests from forks" in explained


# ---------------------------------------------------------------- a real run


@needs_shared
@pytest.mark.slow
def test_real_results_validate_and_gate(tmp_path, standin_config, session_cache):
    """``roc`` output validates against the shipped schema and gates against itself."""

    def roc(out: str, seed: int) -> Path:
        result = runner.invoke(
            app,
            [
                "roc",
                "--subset",
                "ordinary",
                "--data",
                str(JP_FACES),
                "--model",
                "standin",
                "--sample",
                "40",
                "--seed",
                str(seed),
                "--bootstrap",
                "50",
                "--align",
                "none",
                "--config",
                str(standin_config),
                "--cache-dir",
                str(session_cache),
                "--out",
                str(tmp_path / out),
            ],
        )
        assert result.exit_code == 0, result.output
        return tmp_path / out / "results.json"

    first = roc("a", 0)
    shipped = resources.files("face_bench.results") / "schema" / "results.schema.json"
    schema = json.loads(shipped.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(first.read_text(encoding="utf-8")), schema)

    result = invoke("--baseline", first, "--current", roc("b", 0), "--config", standin_config)
    assert result.exit_code == 0, result.output
    assert len(table_lines(result.stdout)) == 2 + N_METRICS
    assert "✅ passed" in result.stdout

    result = invoke("--baseline", first, "--current", roc("c", 1), "--config", standin_config)
    assert result.exit_code == 2
    assert "seed differs (baseline 0, current 1)" in result.stderr


def test_tar_rows_too_small_to_gate_say_how_many_impostor_pairs_they_need(tmp_path):
    """The CI baseline (--sample 40) has too few impostor pairs for every TAR@FAR target:
    each such row says, in the Markdown and the JUnit, what it needs and what it has."""
    from conftest import REPO

    from face_bench.metrics.catalog import MIN_SUPPORT_ERRORS, far_key

    baseline = REPO / "tests" / "baselines" / "young_women-40.json"
    results = RunResults.model_validate_json(baseline.read_text(encoding="utf-8"))
    junit = tmp_path / "gate.xml"
    result = invoke("--baseline", baseline, "--current", baseline, "--junit", junit)
    assert result.exit_code == 0, result.output
    skipped = {
        case.classname + "/" + case.name: r.message
        for suite in JUnitXml.fromfile(str(junit))
        for case in suite
        for r in case.result
        if isinstance(r, Skipped)
    }
    unsupported = [
        (subset.name, run.name, entry.far_target, run.metrics.n_impostor)
        for subset in results.subsets
        for run in subset.models
        for entry in run.metrics.tar_at_far
        if not entry.supported
    ]
    assert unsupported and len(skipped) == len(unsupported)
    for subset, model, target, impostors in unsupported:
        needed = round(MIN_SUPPORT_ERRORS / target)
        why = f"needs ≥ {needed:,} impostor pairs for FAR {target:g}"
        why += f" ({MIN_SUPPORT_ERRORS} false accepts), has {impostors:,}"
        assert why in row_for(result.stdout, subset, model, far_key(target))
        assert skipped[f"{subset} / {model}/{far_key(target)}"] == f"not comparable: {why}"
