"""The typed results contract (face_bench.results): blocks, versions, the v1 reader.

The committed baselines are real ``roc`` outputs of dlib and hse-faceres on 40 young_women
images: ``young_women-40.json`` written by this face-bench (schema_version 2) and
``young_women-40.v1.json``, the same run written before the typed contract (schema_version 1).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ResultsError
from face_bench.metrics.catalog import metrics_for
from face_bench.metrics.operating import CountedRates
from face_bench.results.blocks import HeldOutFold, ModelMetrics, OperatingPoint, ThresholdTransfer
from face_bench.results.contract import SCHEMA_VERSION, RunResults
from face_bench.results.legacy import read_any_version, upgrade_v1

BASELINES = Path(__file__).resolve().parent / "baselines"
V2 = BASELINES / "young_women-40.json"
V1 = BASELINES / "young_women-40.v1.json"

runner = CliRunner()


def _metrics(results: RunResults) -> ModelMetrics:
    return results.subsets[0].models[0].metrics


def test_committed_baselines_are_one_version_each():
    assert json.loads(V2.read_text(encoding="utf-8"))["schema_version"] == SCHEMA_VERSION == 2
    assert json.loads(V1.read_text(encoding="utf-8"))["schema_version"] == 1


def _kept(old: object, new: object) -> bool:
    """Every key and value of ``old`` is in ``new`` (new may add defaulted fields)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and _kept(v, new[k]) for k, v in old.items())
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_kept(a, b) for a, b in zip(old, new, strict=True))
    return old == new and type(old) is type(new)


def test_a_results_file_reads_back_without_loss(tmp_path):
    """Typed objects hold every figure exactly: read, write, and nothing is lost or changed."""
    results = RunResults.from_disk(V2)
    results.to_disk(tmp_path / "again.json")
    again = (tmp_path / "again.json").read_text(encoding="utf-8")
    assert _kept(json.loads(V2.read_text(encoding="utf-8")), json.loads(again))
    assert RunResults.model_validate_json(again).to_json() == again


def test_v1_file_reads_as_the_same_run():
    """Same sample, same figures."""
    old = read_any_version(V1)
    new = read_any_version(V2)
    assert (old.schema_version, new.schema_version) == (1, 2)
    assert old.results.subsets[0].images == new.results.subsets[0].images
    for name in ("roc_auc", "eer", "d_prime", "best_f1", "f1_at_default", "fmr_at_default"):
        assert _metrics(old.results).value(name) == pytest.approx(
            _metrics(new.results).value(name), abs=1e-6
        )
    raw = json.loads(V1.read_text(encoding="utf-8"))["subsets"][0]["models"][0]["metrics"]
    thin = _metrics(old.results).tar(0.01)
    assert thin.tar == raw["tar_at_far"][0]["tar"]
    # Written when one allowed false accept made a target "supported": judged by today's rule.
    assert raw["tar_at_far"][0]["supported"] and not thin.supported
    now = _metrics(new.results).tar(0.01)
    assert (thin.supported, thin.reason, thin.expected_errors) == (
        now.supported,
        now.reason,
        now.expected_errors,
    )
    assert thin.reason.startswith("thin evidence")


def test_only_the_gate_reads_older_versions():
    with pytest.raises(ResultsError, match=r"schema_version 1 is not supported .*reads version 2"):
        RunResults.from_disk(V1)


def test_v1_upgrade_fills_what_v1_could_omit_and_drops_what_it_allowed():
    data = json.loads(V1.read_text(encoding="utf-8"))
    metrics = data["subsets"][0]["models"][0]["metrics"]
    for key in ("at_default", "genuine_std", "multi_face_images", "auc_definition"):
        metrics.pop(key)
    metrics["tar_at_far"][0].pop("achieved_far")
    metrics["a_figure_from_a_fork"] = 1.5
    upgraded = RunResults.model_validate(upgrade_v1(data))
    got = _metrics(upgraded)
    assert got.at_default.fmr is None and got.genuine_std is None
    assert got.tar_at_far[0].achieved_far is None and got.multi_face_images == 0
    assert got.roc_auc == metrics["roc_auc"]
    assert data["schema_version"] == 1  # the input is not changed


def test_unknown_keys_in_a_metric_block_are_refused(tmp_path):
    data = json.loads(V2.read_text(encoding="utf-8"))
    data["subsets"][0]["models"][0]["metrics"]["best_f1"]["typo"] = 0.5
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsError, match=r"invalid results file at .*best_f1\.typo"):
        RunResults.from_disk(path)


def test_counted_rates_are_written_flat_in_their_fields_place():
    rates = CountedRates.of(fmr_errors=3, n_impostor=300, fnmr_errors=2, n_genuine=20)
    block = ThresholdTransfer(
        from_subset="ordinary", criterion="best F1", threshold=0.5, rates=rates
    )
    written = block.model_dump(mode="json")
    assert list(written) == [
        "from", "criterion", "threshold",
        "fmr", "fmr_errors", "n_impostor", "fnmr", "fnmr_errors", "n_genuine",
    ]  # fmt: skip
    assert written["fmr"] == 0.01 and written["fnmr"] == 0.1
    again = ThresholdTransfer.model_validate(written, strict=True)
    assert again == block and again.rates == rates and again.fmr_errors == 3
    fold = HeldOutFold.model_validate({"fold": 0, "threshold": None, **vars(rates)}, strict=True)
    assert fold.rates == rates
    with pytest.raises(ValueError, match="fmr_errors"):
        HeldOutFold.model_validate({"fold": 0, "threshold": None, **vars(rates), "fmr_errors": "3"})
    with pytest.raises(ValueError, match="missing key"):
        HeldOutFold.model_validate({"fold": 0, "threshold": None, "fmr": 0.5})


def test_settings_only_fields_are_left_out_not_written_as_null():
    rates = {"threshold": 0.6, "f1": 0.5, "precision": 0.5, "recall": 0.5}
    rates |= {"accuracy": 0.9, "fmr": 0.01, "fnmr": 0.5}
    assert not {"far", "frr", "fta"} & set(OperatingPoint(**rates).model_dump(mode="json"))
    with_fta = OperatingPoint(**rates, far=0.02, frr=0.55, fta=0.1).model_dump(mode="json")
    assert with_fta["fta"] == 0.1 and with_fta["far"] == 0.02
    metrics = _metrics(RunResults.from_disk(V2))
    assert "ci" in metrics.model_dump(mode="json")
    unset = ModelMetrics(**{k: getattr(metrics, k) for k in metrics.model_fields_set - {"ci"}})
    assert "ci" not in unset.model_dump(mode="json")


def test_every_catalog_metric_has_a_value_in_the_contract():
    metrics = _metrics(RunResults.from_disk(V2))
    targets = [t.far_target for t in metrics.tar_at_far]
    assert list(metrics.values()) != []
    assert {m.name for m in metrics_for(targets)} == set(metrics.values())
    thin = metrics.tar(0.01)  # 40 images: FAR x impostors < 10, a TAR flagged, not gated
    assert thin.tar is not None and not thin.supported
    assert metrics.value("tar_at_far_1e-2") is None
    assert metrics.threshold("eer") == metrics.eer_threshold
    assert metrics.interval("roc_auc").bounds() is not None
    assert metrics.interval("d_prime") is None


def test_gate_reads_a_v1_baseline_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = runner.invoke(app, ["gate", "--baseline", str(V1), "--current", str(V2)])
    assert result.exit_code == 0, result.output
    assert "(face-bench 0.1.0, schema_version 1," in result.stdout
    assert "(face-bench 0.1.0, schema_version 2," in result.stdout
    assert "- baseline is a schema_version 1 file (read as version 2" in result.stdout
    assert "✅ passed: 16 comparisons within tolerance" in result.stderr
    as_json = runner.invoke(
        app, ["gate", "--baseline", str(V1), "--current", str(V2), "--format", "json"]
    )
    report = json.loads(as_json.stdout)
    assert (report["baseline"]["schema_version"], report["current"]["schema_version"]) == (1, 2)


def test_schema_doc_validation_snippet_runs(tmp_path, monkeypatch):
    """docs/results-schema.md's Python block, as a reader pastes it, validates a real file."""
    pytest.importorskip("jsonschema")
    doc = (Path(__file__).resolve().parents[1] / "docs" / "results-schema.md").read_text(
        encoding="utf-8"
    )
    (block,) = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.json").write_bytes(V2.read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(textwrap.dedent(block), "results-schema.md", "exec"), {})


@pytest.mark.parametrize("path", [V1, V2], ids=["v1", "v2"])
def test_a_subset_named_twice_is_refused_by_every_reader(tmp_path, path):
    """Outside the gate too (exit 50): a reader keeping one copy would hide the other."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["subsets"].append(data["subsets"][0])
    broken = tmp_path / "results.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsError, match="subset 'young_women' listed twice") as info:
        read_any_version(broken)
    assert info.value.exit_code == 50
    if path == V2:
        with pytest.raises(ResultsError, match="listed twice"):
            RunResults.from_disk(broken)
