"""The gate never passes what it should stop: missing or non-finite metrics, other pair
sets, malformed files and a baseline the run would overwrite. Exit codes: 0 pass,
1 regression, 2 cannot tell; never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gate import DLIB, invoke, make_results, write


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)


def _raw(tmp_path: Path, name: str, edit) -> Path:
    data = json.loads(make_results().to_json())
    edit(data)
    path = tmp_path / name
    path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    return path


def _metrics(data: dict, subset: str = "ordinary", model: str = DLIB) -> dict:
    run = next(s for s in data["subsets"] if s["name"] == subset)
    return next(m for m in run["models"] if m["name"] == model)["metrics"]


def _one_line_error(result) -> None:
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("face-bench: error")]
    assert len(errors) <= 1


# --- item 8: a current metric that is missing or not finite fails ---------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None])
def test_non_finite_or_missing_current_metric_is_a_regression(tmp_path, value):
    base = write(make_results(), tmp_path / "baseline.json")

    def edit(data: dict) -> None:
        metrics = _metrics(data)
        metrics["roc_auc"] = value

    result = invoke("--baseline", base, "--current", _raw(tmp_path, "current.json", edit))
    assert result.exit_code == 1, result.output
    _one_line_error(result)


def test_a_metric_key_dropped_from_the_file_is_malformed_exit_2(tmp_path):
    """Every figure is a required field of the typed contract: without it the file is broken."""
    base = write(make_results(), tmp_path / "baseline.json")
    current = _raw(tmp_path, "current.json", lambda d: _metrics(d).pop("roc_auc"))
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 2, result.output
    assert "invalid results file at subsets.0.models.1.metrics.roc_auc" in result.stderr
    _one_line_error(result)


def test_every_headline_metric_nan_fails(tmp_path):
    base = write(make_results(), tmp_path / "baseline.json")

    def edit(data: dict) -> None:
        for subset in data["subsets"]:
            for model in subset["models"]:
                for key in ("roc_auc", "eer", "d_prime"):
                    model["metrics"][key] = math.nan

    result = invoke("--baseline", base, "--current", _raw(tmp_path, "current.json", edit))
    assert result.exit_code == 1


@pytest.mark.parametrize("value", ["0.99", [0.99], {"v": 1}, True])
def test_wrong_type_in_a_metric_is_malformed_exit_2(tmp_path, value):
    base = write(make_results(), tmp_path / "baseline.json")
    current = _raw(tmp_path, "current.json", lambda d: _metrics(d).__setitem__("roc_auc", value))
    result = invoke("--baseline", base, "--current", current)
    assert result.exit_code == 2, result.output
    _one_line_error(result)


# --- item 9: a different pair set is a mismatch ------------------------------------------------


def _with_pairs(file_sha: str | None, pairs_sha: str | None):
    results = make_results().model_copy(deep=True)
    for subset in results.subsets:
        subset.pairs.mode = "file"
        subset.pairs.file_sha256 = file_sha
        subset.pairs.pairs_sha256 = pairs_sha
    return results


@pytest.mark.parametrize(
    ("current", "words"),
    [(("b" * 64, "c" * 64), "pairs file differs"), (("a" * 64, "d" * 64), "pair set differs")],
)
def test_other_pairs_is_a_mismatch(tmp_path, current, words):
    base = write(_with_pairs("a" * 64, "c" * 64), tmp_path / "baseline.json")
    cur = write(_with_pairs(*current), tmp_path / "current.json")
    result = invoke("--baseline", base, "--current", cur)
    assert result.exit_code == 2
    assert words in result.output
    assert invoke("--baseline", base, "--current", cur, "--allow-mismatch").exit_code == 0


def test_pair_set_digest_ignores_order_and_sees_labels():
    import numpy as np

    from face_bench.data.datasets import Pairs
    from face_bench.data.pairset import from_local

    def pair_set_digest(pairs: Pairs, rows=np.arange(4)) -> str | None:
        return from_local(pairs, rows, "random").digest()

    a, b = np.array([0, 2, 1]), np.array([1, 3, 3])
    label = np.array([True, False, False])
    one = pair_set_digest(Pairs(a, b, label))
    assert one == pair_set_digest(Pairs(b[::-1], a[::-1], label[::-1]))
    assert one != pair_set_digest(Pairs(a, b, np.array([True, True, False])))
    # positions in the sample, not rows of the image list other subsets share
    assert one == pair_set_digest(Pairs(a, b, label), rows=np.array([3, 10, 11, 40]))


# --- item 10: malformed and deeply nested input is exit 2 in one line -----------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": [value]}
    return value


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: _metrics(d).__setitem__("tar_at_far", "oops"),
        lambda d: _metrics(d).__setitem__("tar_at_far", [1, 2]),
        lambda d: _metrics(d).__setitem__("best_f1", [None]),
        lambda d: _metrics(d).__setitem__("deep", _nested(5000)),
        lambda d: d["subsets"][0].__setitem__("models", "x"),
    ],
    ids=["tar-string", "tar-ints", "best-f1-list", "deep", "models-string"],
)
def test_malformed_blocks_exit_2(tmp_path, edit):
    base = write(make_results(), tmp_path / "baseline.json")
    data = json.loads(make_results().to_json())
    try:
        edit(data)
        text = json.dumps(data)
    except RecursionError:
        pytest.skip("json cannot write this depth here")
    current = tmp_path / "current.json"
    current.write_text(text, encoding="utf-8")
    for args in (("--baseline", base, "--current", current),
                 ("--baseline", current, "--current", base)):  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        _one_line_error(result)


def test_raw_deeply_nested_file_exit_2(tmp_path):
    base = write(make_results(), tmp_path / "baseline.json")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    result = invoke("--baseline", base, "--current", deep)
    assert result.exit_code == 2
    _one_line_error(result)


# --- property: any JSON shape, anywhere in the file: exit 0/1/2, never a traceback ------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


BASE_DATA = json.loads(make_results().to_json())
BASE_PATHS = _paths(BASE_DATA)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    where=st.sampled_from(BASE_PATHS),
    replacement=JSON,
    side=st.sampled_from(["baseline", "current"]),
    whole=st.booleans(),
)
def test_gate_over_random_json_shapes(tmp_path, where, replacement, side, whole):
    data = json.loads(json.dumps(BASE_DATA))
    if whole:
        data = replacement
    elif where:
        target = data
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = replacement
    else:
        data = replacement
    mutated = tmp_path / "mutated.json"
    mutated.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    good = tmp_path / "good.json"
    if not good.exists():
        good.write_text(json.dumps(BASE_DATA), encoding="utf-8")
    args = ("--baseline", mutated, "--current", good)
    if side == "current":
        args = ("--baseline", good, "--current", mutated)
    result = invoke(*args)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    _one_line_error(result)
