"""A baseline or results file the gate cannot trust is "cannot tell" (exit 2), never a pass:
a gated metric without a finite value in the baseline, duplicate names or JSON keys, counts
that contradict each other. An unwritable step summary never changes the verdict."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from test_gate import JFV1, invoke, make_results, write
from test_gate_inputs import _metrics, _one_line_error, _raw


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)


def _regressed_current(tmp_path: Path) -> Path:
    """A current run whose AUC is 0.30 below the baseline's: a regression by any tolerance."""

    def edit(data: dict) -> None:
        _metrics(data)["roc_auc"] -= 0.30

    return _raw(tmp_path, "current.json", edit)


def _assert_cannot_tell(result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert words in result.stderr, result.stderr
    assert "passed" not in result.stderr
    _one_line_error(result)


# --- a baseline without a finite value for a gated metric -------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, None])
@pytest.mark.parametrize("version", [1, 2])
def test_baseline_metric_without_a_finite_value_is_unusable(tmp_path, value, version):
    def edit(data: dict) -> None:
        data["schema_version"] = version
        _metrics(data)["roc_auc"] = value

    base = _raw(tmp_path, "baseline.json", edit)
    result = invoke("--baseline", base, "--current", _regressed_current(tmp_path))
    _assert_cannot_tell(result, "unusable baseline: subset 'ordinary', model 'dlib', roc_auc")


def test_v1_baseline_without_the_metric_is_unusable(tmp_path):
    def edit(data: dict) -> None:
        data["schema_version"] = 1
        _metrics(data).pop("roc_auc")

    base = _raw(tmp_path, "baseline.json", edit)
    result = invoke("--baseline", base, "--current", _regressed_current(tmp_path))
    _assert_cannot_tell(result, "roc_auc: null in the baseline")


def test_shipped_v1_baseline_with_nan_auc_cannot_pass(tmp_path):
    """The committed v1 baseline, its AUC broken: the same file as current with AUC 0.30 lower
    must not pass."""
    shipped = Path(__file__).parent / "baselines" / "young_women-40.v1.json"
    data = json.loads(shipped.read_text(encoding="utf-8"))
    current = json.loads(json.dumps(data))
    run = data["subsets"][0]["models"][0]
    run["metrics"]["roc_auc"] = math.nan
    current["subsets"][0]["models"][0]["metrics"]["roc_auc"] -= 0.30
    base_path, cur_path = tmp_path / "b.json", tmp_path / "c.json"
    base_path.write_text(json.dumps(data), encoding="utf-8")
    cur_path.write_text(json.dumps(current), encoding="utf-8")
    result = invoke("--baseline", base_path, "--current", cur_path)
    _assert_cannot_tell(result, f"model {run['name']!r}, roc_auc: nan in the baseline")


def test_tar_target_missing_from_a_v2_baseline_is_unusable(tmp_path):
    base = _raw(tmp_path, "baseline.json", lambda d: _metrics(d)["tar_at_far"].pop(0))
    result = invoke("--baseline", base, "--current", write(make_results(), tmp_path / "c.json"))
    _assert_cannot_tell(result, "tar_at_far_1e-2: missing from the baseline")


def test_tar_the_baseline_judged_unsupported_stays_not_comparable(tmp_path):
    """The support rule's "no value" is a verdict on thin data, not a broken baseline."""

    def thin(data: dict) -> None:
        entry = _metrics(data)["tar_at_far"][0]
        entry.update(tar=None, supported=False, reason="insufficient data")

    base = _raw(tmp_path, "baseline.json", thin)
    result = invoke("--baseline", base, "--current", write(make_results(), tmp_path / "c.json"))
    assert result.exit_code == 0, result.output


def test_non_finite_current_interval_is_ignored_not_a_warning(tmp_path):
    base = write(make_results(), tmp_path / "baseline.json")

    def edit(data: dict) -> None:
        _metrics(data, model=JFV1)["ci"]["roc_auc"].update(lower=-math.inf, upper=-math.inf)

    current = _raw(tmp_path, "current.json", edit)
    result = invoke("--baseline", base, "--current", current, "--fail-outside-interval")
    assert result.exit_code == 0, result.output


# --- duplicate names and keys, contradicting counts: malformed, exit 2 ------------------------


def _duplicate_first_subset(data: dict) -> None:
    """The first copy of 'ordinary' regressed, a good copy after it (which a reader keeping
    the last would compare)."""
    good = json.loads(json.dumps(data["subsets"][0]))
    _metrics(data)["roc_auc"] -= 0.30
    data["subsets"].insert(1, good)


def _duplicate_model_run(data: dict) -> None:
    runs = data["subsets"][0]["models"]
    runs.append(json.loads(json.dumps(runs[1])))
    _metrics(data)["roc_auc"] -= 0.30


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_duplicate_first_subset, "subset 'ordinary' listed twice"),
        (_duplicate_model_run, "subset 'ordinary': model 'dlib' listed twice"),
        (lambda d: d["models"].append(d["models"][0]), f"model {JFV1!r} listed twice in models"),
        (
            lambda d: _metrics(d)["tar_at_far"].append(_metrics(d)["tar_at_far"][1]),
            "TAR at FAR 0.001 listed twice",
        ),
        (
            lambda d: d["models"].pop(),
            "subset 'ordinary': model 'dlib' is not in models",
        ),
        (
            lambda d: d["subsets"][0]["models"].pop(),
            "subset 'ordinary': model 'dlib' of models has no run here",
        ),
        (
            lambda d: d["subsets"][0]["models"][1].update(n_failures=5),
            "n_failures is 5 but 1 failure(s) listed",
        ),
        (
            lambda d: d["subsets"][0]["models"][1].update(n_images_attempted=0, n_failures=0),
            "n_failures is 0 but 1 failure(s) listed",
        ),
        (
            lambda d: d["subsets"][0]["models"][1].update(n_images_attempted=39),
            "subset 'ordinary', model 'dlib': 39 image(s) attempted, the sample holds 40",
        ),
        (
            lambda d: d["subsets"][0]["models"][1]["failures"][0].update(image="elsewhere.png"),
            "failure of 'elsewhere.png', which is not in the sample",
        ),
        (
            lambda d: d["subsets"][0].update(sample_size=41),
            "subset 'ordinary': sample_size is 41 but 40 image(s) listed",
        ),
        (
            lambda d: d["subsets"][0]["images"].__setitem__(1, d["subsets"][0]["images"][0]),
            "subset 'ordinary': image 'images/田中 花子0/000.png' listed twice",
        ),
        (
            lambda d: d["subsets"][0].update(pool_size=12),
            "subset 'ordinary': a sample of 40 from a pool of 12",
        ),
        (
            lambda d: _metrics(d).update(n_genuine=10),
            "metrics count 10 genuine / 17817 impostor pairs, the subset's pairs 7383 / 17817",
        ),
        (
            lambda d: d["subsets"][1]["pairs"].update(n_impostor=3),
            "the subset's pairs 7383 / 3",
        ),
    ],
    ids=[
        "subset",
        "model-run",
        "model",
        "tar-target",
        "unlisted-model",
        "model-not-run",
        "failures",
        "attempted",
        "attempted-not-sample",
        "failure-elsewhere",
        "sample-size",
        "image-twice",
        "pool",
        "metric-counts",
        "pair-counts",
    ],
)
@pytest.mark.parametrize("side", ["baseline", "current"])
def test_duplicates_and_contradicting_counts_are_malformed(tmp_path, edit, words, side):
    good = write(make_results(), tmp_path / "good.json")
    broken = _raw(tmp_path, "broken.json", edit)
    args = ("--baseline", broken, "--current", good)
    if side == "current":
        args = ("--baseline", good, "--current", broken)
    result = invoke(*args)
    _assert_cannot_tell(result, f"{side}: {broken}: malformed results file: ")
    assert words in result.stderr


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_duplicate_json_key_is_malformed(tmp_path, side):
    """json keeps the last of two keys; a regressed AUC written first must not vanish."""
    good = write(make_results(), tmp_path / "good.json")
    text = good.read_text(encoding="utf-8")
    assert '"roc_auc": 0.88' in text
    broken = tmp_path / "broken.json"
    broken.write_text(
        text.replace('"roc_auc": 0.88', '"roc_auc": 0.58, "roc_auc": 0.88', 1), encoding="utf-8"
    )
    args = ("--baseline", broken, "--current", good)
    if side == "current":
        args = ("--baseline", good, "--current", broken)
    _assert_cannot_tell(invoke(*args), "malformed results file: duplicate key 'roc_auc'")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[]", "an array"), ('"results"', "a string"), ("3", "a number"), ("null", "null")],
)
def test_json_that_is_not_an_object_is_exit_2(tmp_path, text, kind):
    good = write(make_results(), tmp_path / "good.json")
    other = tmp_path / "other.json"
    other.write_text(text, encoding="utf-8")
    result = invoke("--baseline", good, "--current", other)
    _assert_cannot_tell(result, f"not a face-bench results file (JSON {kind}, not an object)")


# --- an unwritable step summary is a warning; the verdict's exit code stands ------------------


@pytest.mark.parametrize("where", ["folder", "missing-parent", "fifo-nobody-reads"])
@pytest.mark.parametrize(("auc_drop", "code"), [(0.30, 1), (0.0, 0)])
def test_unwritable_step_summary_keeps_the_verdict_exit_code(tmp_path, where, auc_drop, code):
    base = write(make_results(), tmp_path / "baseline.json")
    current = _raw(tmp_path, "current.json", lambda d: _metrics(d).update(roc_auc=0.88 - auc_drop))
    target = {
        "folder": tmp_path,
        "missing-parent": tmp_path / "no such folder" / "summary.md",
        "fifo-nobody-reads": tmp_path / "summary.fifo",
    }[where]
    if where == "fifo-nobody-reads":
        os.mkfifo(target)
    result = invoke(
        "--baseline", base, "--current", current, env={"GITHUB_STEP_SUMMARY": str(target)}
    )
    assert result.exit_code == code, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("face-bench: warning: $GITHUB_STEP_SUMMARY not written: ")
    assert str(target) in warnings[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "no such folder").exists()


def test_unwritable_step_summary_keeps_cannot_tell_exit_2(tmp_path):
    base = write(make_results(), tmp_path / "baseline.json")
    current = write(make_results(seed=5), tmp_path / "current.json")
    result = invoke(
        "--baseline", base, "--current", current, env={"GITHUB_STEP_SUMMARY": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "runs are not comparable" in result.stderr
    assert "$GITHUB_STEP_SUMMARY not written" in result.stderr


def test_a_tolerance_given_twice_is_refused(tmp_path):
    """-t roc_auc=0.01 -t roc_auc=0.5: the last winning silently would loosen the gate."""
    base = write(make_results(), tmp_path / "baseline.json")
    result = invoke(
        "--baseline", base, "--current", _regressed_current(tmp_path),
        "-t", "roc_auc=0.01", "-t", "roc_auc=0.5",
    )  # fmt: skip
    _assert_cannot_tell(result, "--tolerance gives 'roc_auc' twice")
