"""Tests for face_bench.run.probe and ``face-bench models --probe``: the variant grid, the
ranking, the table to paste, and end-to-end probes of real models on real faces."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import LFW, REPO, SHARED, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.cli.probe_view import verdict
from face_bench.metrics.uncertainty import ConfidenceInterval, PairedDifference
from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
from face_bench.run.probe import (
    SCALINGS,
    ProbeResult,
    ProbeRow,
    alignment_grid,
    colour_scaling_grid,
    measure,
    rank,
    result_dict,
    toml_table,
)
from face_bench.run.subset_scores import ScoreTable

runner = CliRunner()

HSE_LIKE = ModelSpec(
    name="hse-like",
    backend="onnx",
    path="m.onnx",
    color_order="RGB",
    scale=1.0,
    threshold=0.55,
    alignment="arcface",
    chip_size=224,
)
IMAGENET = BUILTIN_MODELS["japanese-face-v1"]  # 0..1 then ImageNet mean/std, dlib chip 0.1


def _ci(estimate: float) -> ConfidenceInterval:
    return ConfidenceInterval(estimate, None, None, 0, 0, 0.95)


def test_stage_one_is_both_colour_orders_times_the_given_and_named_scalings() -> None:
    grid = colour_scaling_grid(HSE_LIKE)
    assert grid[0].apply(HSE_LIKE) == HSE_LIKE  # the spec as given comes first
    assert {(v.color, v.scaling) for v in grid} == {
        (c, s) for c in ("RGB", "BGR") for s in SCALINGS
    }  # 0..255 is the given scaling, so it is not tried twice
    assert {v.alignment for v in grid} == {"arcface"}
    assert len({v.apply(HSE_LIKE) for v in grid}) == len(grid)  # every variant differs


def test_a_scaling_outside_the_named_ones_is_tried_as_given_beside_them() -> None:
    grid = colour_scaling_grid(IMAGENET)
    assert len(grid) == 2 * (len(SCALINGS) + 1)
    assert grid[0].scaling.startswith("scale 0.00392157, mean 0.485/0.456/0.406")
    assert grid[0].apply(IMAGENET) == IMAGENET
    bgr_pm1 = next(v for v in grid if (v.color, v.scaling) == ("BGR", "±1")).apply(IMAGENET)
    assert (bgr_pm1.color_order, bgr_pm1.scale, bgr_pm1.mean, bgr_pm1.std) == (
        "BGR", 1.0, (127.5,) * 3, (127.5,) * 3
    )  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (HSE_LIKE, ["dlib chip, padding 0.25"]),
        (IMAGENET, ["arcface", "dlib chip, padding 0.25"]),
        (HSE_LIKE.model_copy(update={"alignment": "dlib_chip", "chip_padding": 0.25}), ["arcface"]),
    ],
)
def test_stage_two_tries_the_alignments_the_leader_was_not_run_with(
    spec: ModelSpec, expected: list[str]
) -> None:
    leader = colour_scaling_grid(spec)[3]
    grid = alignment_grid(spec, leader)
    assert [v.alignment for v in grid] == expected
    for variant in grid:
        fed = variant.apply(spec)
        assert (fed.color_order, fed.scale, fed.mean) == (
            leader.apply(spec).color_order, leader.apply(spec).scale, leader.apply(spec).mean
        )  # fmt: skip
        assert fed.chip_size == spec.input_size[0] and variant.stage == 2


def test_ranking_is_by_auc_then_by_eer() -> None:
    variants = colour_scaling_grid(HSE_LIKE)[:4]
    figures = [(0.90, 0.10), (0.95, 0.08), (0.95, 0.05), (0.80, 0.20)]
    rows = [
        ProbeRow(v, v.apply(HSE_LIKE), _ci(auc), _ci(eer))
        for v, (auc, eer) in zip(variants, figures, strict=True)
    ]
    ranked = rank(rows)
    assert [r.variant for r in ranked] == [variants[2], variants[1], variants[0], variants[3]]


def test_the_pasted_path_is_normalised() -> None:
    spec = HSE_LIKE.model_copy(update={"path": "/work/repo/../shared/m.onnx"})
    assert tomllib.loads(toml_table(spec))["models"]["hse-like"]["path"] == "/work/shared/m.onnx"


def test_an_undefined_auc_ranks_last() -> None:
    variants = colour_scaling_grid(HSE_LIKE)[:2]
    rows = [
        ProbeRow(variants[0], HSE_LIKE, _ci(None), _ci(None)),  # type: ignore[arg-type]
        ProbeRow(variants[1], HSE_LIKE, _ci(0.6), _ci(0.4)),
    ]
    assert rank(rows)[0].variant == variants[1]


def _table(separation: float, seed: int = 0) -> ScoreTable:
    """Synthetic pair scores of 20 people: genuine pairs shifted up by ``separation``."""
    rng = np.random.default_rng(seed)
    ids_a = rng.integers(0, 20, 600)
    ids_b = np.where(rng.random(600) < 0.3, ids_a, rng.integers(0, 20, 600))
    labels = ids_a == ids_b
    scores = rng.normal(size=600) + separation * labels
    return ScoreTable(HSE_LIKE, scores.astype(np.float32), labels, ids_a, ids_b)


def test_measure_gives_identity_bootstrap_intervals_that_rank_the_separable_first() -> None:
    strong, weak = _table(3.0), _table(0.5)
    auc_s, eer_s = measure(strong, 50, 0)
    auc_w, _ = measure(weak, 50, 0)
    for ci in (auc_s, eer_s, auc_w):
        assert ci.lower is not None and ci.upper is not None and ci.estimate is not None
        assert ci.lower <= ci.estimate <= ci.upper and ci.n_boot == 50
    assert auc_s.lower is not None and auc_w.upper is not None and auc_s.lower > auc_w.upper
    assert measure(strong, 0, 0)[0].lower is None  # no bootstrap: the estimate alone


@pytest.mark.parametrize(
    "spec", [HSE_LIKE, IMAGENET, HSE_LIKE.model_copy(update={"name": "my model"})]
)
def test_the_toml_table_parses_back_to_the_same_spec(spec: ModelSpec) -> None:
    text = toml_table(spec, "re-choose it")
    assert (
        "# re-choose it"
        in text.splitlines()[[ln.startswith("threshold") for ln in text.splitlines()].index(True)]
    )
    ((name, table),) = tomllib.loads(text)["models"].items()
    assert name == spec.name
    assert ModelSpec(name=name, **table) == spec.model_copy(
        update={"description": spec.description}
    )


def _result(gain: tuple[float, float, float] | None) -> ProbeResult:
    """A probe whose best variant (BGR) beats the spec as given (RGB) by ``gain``."""
    given, other = colour_scaling_grid(HSE_LIKE)[0], colour_scaling_grid(HSE_LIKE)[3]
    rows = [
        ProbeRow(other, other.apply(HSE_LIKE), _ci(0.98), _ci(0.05)),
        ProbeRow(given, HSE_LIKE, _ci(0.97), _ci(0.06)),
    ]
    paired = None
    if gain is not None:
        paired = PairedDifference(ConfidenceInterval(*gain, 200, 0, 0.95), 0.01, 0.003)
    return ProbeResult(HSE_LIKE, Path("m.onnx"), rows, 80, 100, 900, 200, [], paired)


@pytest.mark.parametrize(
    ("gain", "words"),
    [
        ((0.01, 0.004, 0.02), "+0.0100 [+0.0040, +0.0200] (paired identity bootstrap; the "
         "interval excludes 0)"),
        ((0.01, -0.002, 0.02), "the interval includes 0: not settled"),
        (None, "no bootstrap: no interval on its gain"),
    ],
)  # fmt: skip
def test_the_verdict_says_whether_the_evidence_settles_a_change(
    gain: tuple[float, float, float] | None, words: str
) -> None:
    result = _result(gain)
    line = verdict(result)
    assert line.startswith("best: BGR, 0..255, arcface") and words in line
    data = result_dict(result)
    assert [v["as_given"] for v in data["variants"]] == [False, True]
    table = tomllib.loads(data["toml"])["models"]["hse-like"]
    assert table["color_order"] == "BGR"
    assert "re-choose it" in data["toml"]  # the threshold was chosen for the spec as given


def test_when_the_spec_as_given_wins_the_verdict_says_so() -> None:
    result = _result(None)
    result = dataclasses.replace(result, rows=result.rows[::-1])
    assert verdict(result) == "best: RGB, 0..255, arcface (the spec as given)"
    assert "re-choose" not in result_dict(result)["toml"]


# ---------------------------------------------------------------- the command


def _fails(args: list[str], code: int, words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output


def test_probe_options_without_probe_are_refused(tmp_path: Path) -> None:
    _fails(["models", "--data", str(tmp_path)], 4, "apply to --probe NAME only")


def test_probing_an_unknown_name_or_a_missing_file_says_so(tmp_path: Path) -> None:
    _fails(["models", "--probe", "hse-faceress", "--data", str(tmp_path)], 21, "unknown model")
    missing = tmp_path / "nothing.onnx"
    _fails(["models", "--probe", str(missing), "--data", str(tmp_path)], 24, "no such file")


def test_probing_dlib_is_refused_with_the_reason(tmp_path: Path) -> None:
    _fails(["models", "--probe", "dlib", "--data", str(tmp_path)], 4, "applies to ONNX models")


def _lfw_pairs(folder: Path, per_kind: int) -> Path:
    """The first ``per_kind`` same- and different-person pairs of LFW fold 1 as a pairs CSV
    (a random sample of LFW's 435 people holds few genuine pairs)."""
    lines = (LFW / "protocol" / "pairs.txt").read_text(encoding="utf-8").splitlines()[1:]

    def image(name: str, number: str) -> str:
        return f"images/{name}/{name}_{int(number):04d}.jpg"

    rows = ["image_a,image_b,label"]
    for line in lines[:per_kind]:
        name, a, b = line.split("\t")
        rows.append(f"{image(name, a)},{image(name, b)},1")
    for line in lines[300 : 300 + per_kind]:
        name_a, a, name_b, b = line.split("\t")
        rows.append(f"{image(name_a, a)},{image(name_b, b)},0")
    path = folder / "pairs.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@needs_shared
@pytest.mark.slow
def test_probe_of_hse_on_lfw_ranks_variants_with_intervals_and_prints_a_table_to_paste(
    tmp_path: Path,
) -> None:
    args = [
        "models", "--config", str(REPO / "face-bench.toml"), "--probe", "hse-faceres",
        "--data", str(LFW), "--pairs-file", str(_lfw_pairs(tmp_path, 25)), "--bootstrap", "20",
        "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    probe = json.loads(result.stdout)
    variants = probe["variants"]
    assert 7 <= len(variants) <= 12 and sum(v["as_given"] for v in variants) == 1
    aucs = [v["roc_auc"]["estimate"] for v in variants]
    assert aucs == sorted(aucs, reverse=True)
    for v in variants:
        auc = v["roc_auc"]
        assert auc["lower"] <= auc["estimate"] <= auc["upper"]
    assert {v["color_order"] for v in variants} == {"RGB", "BGR"}
    ((name, table),) = tomllib.loads(probe["toml"])["models"].items()
    best = ModelSpec(name=name, **table)
    assert name == "hse-faceres" and best.color_order == variants[0]["color_order"]
    text = runner.invoke(app, args)  # every embedding is cached by now
    assert text.exit_code == 0, text.output
    pasted = text.stdout.split("Paste into face-bench.toml:\n", 1)[1]
    assert tomllib.loads(pasted) == tomllib.loads(probe["toml"])


@needs_shared
@pytest.mark.slow
def test_a_model_given_by_path_starts_from_the_drafted_spec(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "models",
            "--probe",
            str(TINY_ONNX),
            "--data",
            str(SHARED / "datasets" / "jp_faces_dev"),
            "--sample",
            "20",
            "--bootstrap",
            "0",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    probe = json.loads(result.stdout)
    given = next(v for v in probe["variants"] if v["as_given"])
    # The draft for a 224-px graph: RGB, ±1 (the ArcFace convention), dlib's chip.
    assert (given["color_order"], given["scaling"], given["alignment"]) == (
        "RGB", "±1", "dlib chip, padding 0.1"
    )  # fmt: skip
    assert probe["model"] == "tiny_512_random" and probe["bootstrap"] == 0
    assert all(v["roc_auc"]["lower"] is None for v in probe["variants"])
    assert tomllib.loads(probe["toml"])["models"]["tiny_512_random"]["path"] == str(TINY_ONNX)
