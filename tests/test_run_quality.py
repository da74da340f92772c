"""A run's data-quality block: differentials on selected pairs, strata, suspects, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ConfigError
from face_bench.core.modes import OnFail
from face_bench.data.datasets import make_pairs
from face_bench.data.pairset import from_local
from face_bench.embedding.pipeline import Embeddings
from face_bench.metrics.operating import threshold_at_fmr
from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
from face_bench.run import quality
from face_bench.run.differentials import request_differentials, run_differentials
from face_bench.run.subset_scores import score_pairset

COSINE = ModelSpec(name="c", backend="onnx", similarity="cosine", threshold=0.4)
EUCLID = BUILTIN_MODELS["dlib"]
SPECS = {"c": COSINE, "e": EUCLID}
RULE = "far:1e-1"


def _run(wrong: int | None = None):
    """Two subsets of 6 people x 5 images; half of each from source x, half from y.

    ``wrong``: an image row given a picture of another person of its subset."""
    rng = np.random.default_rng(3)
    people = [f"p{i}" for i in range(12)]
    identities = [p for p in people for _ in range(5)]
    centres = np.eye(32)[:12] * 2
    vectors = np.array([centres[int(p[1:])] for p in identities]) + 0.35 * rng.standard_normal(
        (60, 32)
    )
    if wrong is not None:
        vectors[wrong] = centres[(int(identities[wrong][1:]) + 1) % 6] + 0.1
    images = pd.DataFrame(
        {
            "path": [f"{i:02d}.png" for i in range(60)],
            "identity": identities,
            "source": ["x" if i % 5 < 3 else "y" for i in range(60)],
        }
    )
    embeddings = {
        "c": Embeddings("c", vectors.astype(np.float32), {}),
        "e": Embeddings("e", vectors.astype(np.float32) * 0.2, {}),
    }
    scored = []
    for name, rows in (("first", np.arange(30)), ("second", np.arange(30, 60))):
        pairs = make_pairs(images["identity"].to_numpy()[rows])
        planned = from_local(pairs, rows, "all")
        scored.append(score_pairset(name, images, planned, embeddings, SPECS, "exclude"))
    return scored, embeddings


def _dump(block) -> dict:
    return block.model_dump(mode="json")


REQUEST = SimpleNamespace(
    on_fail="exclude", by=(), reference=None, differential_threshold=RULE, bootstrap=50, seed=0
)


def _counts(block, model: str = "c") -> dict[str, tuple[int, int]]:
    """Per group: (impostor pairs, genuine pairs) the differentials counted."""
    return {g.group: (g.fmr.n, g.fnmr.n) for g in block.models[model].groups}


def test_every_pair_kept_gives_the_run_differentials():
    scored, emb = _run()
    again = request_differentials(REQUEST, scored, emb, SPECS, lambda a, b: np.ones(len(a), bool))
    run = run_differentials(
        scored, scored[0].images, emb, SPECS, OnFail.EXCLUDE, rule=RULE, n_boot=50
    )
    assert _dump(again) == _dump(run)


def test_a_selection_matches_the_differentials_of_the_selected_pairs_by_hand():
    scored, emb = _run()

    def some(a, b):
        return (a * 61 + b) % 5 < 3

    block = request_differentials(REQUEST, scored, emb, SPECS, some)
    for model, spec in SPECS.items():
        got = block.models[model]
        thr = spec.to_score(got.threshold)
        for s in scored:
            a, b = s.pairs.rows()
            kept = some(a, b)
            scores, labels = s.scores[model].scores[kept], s.labels[kept]
            if s.name == block.reference:  # the threshold is fixed on the reference group
                assert thr == pytest.approx(threshold_at_fmr(scores, labels, 0.1))
            row = got.group(s.name)
            accepted = scores >= thr
            assert row.fmr.n == int((~labels).sum())
            assert row.fmr.errors == int((accepted & ~labels).sum())
            assert row.fnmr.errors == int((~accepted & labels).sum())


def test_strata_use_the_pairs_whose_two_images_share_the_value():
    scored, emb = _run()
    found = quality.strata(scored, emb, SPECS, REQUEST, "source")
    assert [s.value for s in found] == ["x", "y"]
    values = scored[0].images["source"].to_numpy()
    for stratum in found:
        expected = {}
        for s in scored:
            a, b = s.pairs.rows()
            keep = (values[a] == stratum.value) & (values[b] == stratum.value)
            expected[s.name] = (int((keep & ~s.labels).sum()), int((keep & s.labels).sum()))
        assert _counts(stratum.differentials) == expected


def test_an_unknown_stratify_column_is_a_config_error():
    with pytest.raises(ConfigError, match=r"--stratify-by 'nope'.*columns: source"):
        quality.check_stratify_column("nope", ["path", "identity", "source"])
    with pytest.raises(ConfigError):
        quality.check_stratify_column("identity", ["path", "identity"])


def test_a_wrong_label_is_a_suspect_in_agreement_and_leaves_the_rerun():
    scored, embeddings = _run(wrong=7)
    found = quality.suspects(scored, embeddings)
    agreed = [s for s in found.images if s.agreed]
    assert [s.image for s in agreed] == ["07.png"]
    suspect = agreed[0]
    assert suspect.flagged_by == ["c", "e"] and suspect.identity == "p1"
    for evidence in suspect.evidence:
        assert evidence.flagged and evidence.nearest_other_identity == "p2"
    cosine = next(e for e in suspect.evidence if e.model == "c")
    assert cosine.median_same < cosine.threshold  # similarity: below the EER threshold
    dist = next(e for e in suspect.evidence if e.model == "e")
    assert dist.median_same > dist.threshold  # a distance: beyond it
    without = quality.without_suspects(scored, embeddings, SPECS, REQUEST, found)
    first = without.models["c"].group("first")
    # image 7 of 30 in the first subset: its 4 genuine and 25 impostor pairs are left out
    assert first.fnmr.n == scored[0].labels.sum() - 4
    assert first.fmr.n == (~scored[0].labels).sum() - 25


def test_the_run_s_eer_thresholds_give_the_same_suspects():
    scored, embeddings = _run(wrong=7)
    eer = {
        s.name: {
            m: SPECS[m].from_score(t.summarise((1e-3,)).eer_threshold) for m, t in s.scores.items()
        }
        for s in scored
    }
    given = quality.suspects(scored, embeddings, eer)
    assert _dump(given) == _dump(quality.suspects(scored, embeddings))


def test_a_clean_run_has_no_agreed_suspects():
    scored, embeddings = _run()
    assert quality.suspects(scored, embeddings).agreed == 0


# ---------------------------------------------------------------- through the CLI

runner = CliRunner()


@pytest.fixture
def two_sources(tmp_path: Path) -> Path:
    """Six people from jp_faces_dev, three images each, with a source column that is the
    same for every image of one sex (a confound) and a re-encoded copy of one photo."""
    from PIL import Image

    manifest = pd.read_csv(JP_FACES / "manifest.csv")
    chosen = manifest[manifest["japanese"] == "yes"].groupby("identity").head(3)
    young = (chosen["sex"] == "F") & (chosen["age_group"] == "young")
    people = list(chosen[young]["identity"].unique()[:3])
    people += list(chosen[~young]["identity"].unique()[:3])
    rows = chosen[chosen["identity"].isin(people)].copy()
    root = tmp_path / "data"
    for path in rows["path"]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(JP_FACES / path, root / path)
    first = rows.iloc[0]
    copy = Path(first["path"]).with_name("copy.jpg").as_posix()
    Image.open(root / first["path"]).convert("RGB").resize((300, 300)).save(root / copy)
    rows = pd.concat([rows, first.to_frame().T.assign(path=copy)])
    rows["source"] = np.where(rows["age_group"] == "young", "s1", "s2")
    rows[["path", "identity", "sex", "age_group", "japanese", "source"]].to_csv(
        root / "manifest.csv", index=False
    )
    return root


def _roc(data: Path, out: Path, config: Path, *extra: str):
    return runner.invoke(
        app,
        ["roc", "--data", str(data), "--model", "standin", "--align", "none", "--bootstrap",
         "0", "--workers", "1", "--config", str(config), "--out", str(out),
         "--subset", "ordinary", "--subset", "young_women", *extra],
    )  # fmt: skip


@needs_shared
def test_a_bad_stratify_column_stops_before_embedding(two_sources, standin_config, tmp_path):
    result = _roc(two_sources, tmp_path / "o", standin_config, "--stratify-by", "nope")
    assert result.exit_code == ConfigError.exit_code
    assert "--stratify-by 'nope'" in result.output and "Traceback" not in result.output
    assert "embedding" not in result.output


@needs_shared
def test_data_quality_through_a_run(two_sources, standin_config, tmp_path):
    result = _roc(
        two_sources, tmp_path / "o", standin_config, "--stratify-by", "source", "--exclude-suspects"
    )
    assert result.exit_code == 0, result.output
    dq = json.loads((tmp_path / "o" / "results.json").read_text())["data_quality"]
    assert {c["column"] for c in dq["confounds"]} >= {"source", "image_width", "image_height"}
    source = next(c for c in dq["confounds"] if c["column"] == "source")
    assert source["warn"] and "confound: 'source'" in result.output
    assert dq["near_duplicates"]["n_genuine"] >= 1 and dq["near_duplicates"]["excluded_pairs"]
    assert "near-duplicate" in result.output
    assert [s["value"] for s in dq["strata"]] == ["s1", "s2"]
    assert dq["exclude_suspects"] and dq["suspects"]["rule"]
    kept = _roc(two_sources, tmp_path / "k", standin_config, "--near-duplicates", "keep")
    assert kept.exit_code == 0, kept.output
    near = json.loads((tmp_path / "k" / "results.json").read_text())["data_quality"]
    assert near["near_duplicates"]["excluded_pairs"] == 0
    assert near["near_duplicates"]["pairs"] == [
        dict(p, excluded=False) for p in dq["near_duplicates"]["pairs"]
    ]


@needs_shared
def test_the_report_and_the_terminal_show_the_data_quality(two_sources, standin_config, tmp_path):
    result = runner.invoke(
        app,
        ["report", "--data", str(two_sources), "--model", "standin", "--align", "none",
         "--bootstrap", "0", "--workers", "1", "--config", str(standin_config),
         "--out", str(tmp_path / "r"), "--subset", "ordinary", "--subset", "young_women",
         "--stratify-by", "source", "--exclude-suspects"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "data quality: do the subsets differ" in result.output
    assert "near-duplicates: 1 pair(s) of one person" in result.output
    assert "differentials within source = s1:" in result.output
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'id="data-quality"' in page and "Near-duplicates" in page
    notes = page.split('id="notes"')[1].split("</div>")[0]
    assert "confound: &#39;source&#39;" in notes or "confound: 'source'" in notes
    assert "Differentials within each source" in page and "source = s2" in page
    assert "Suspected label errors" in page


def test_the_gate_refuses_runs_with_different_near_duplicate_policies(tmp_path):
    from face_bench.gate.comparable import compare_setup
    from face_bench.results.contract import RunResults

    shipped = Path(__file__).parent / "baselines" / "young_women-40.json"
    old = RunResults.from_disk(shipped)  # written before the option: scored every pair
    assert old.settings.near_duplicates is None
    keep = old.model_copy(deep=True)
    keep.settings.near_duplicates = "keep"
    exclude = old.model_copy(deep=True)
    exclude.settings.near_duplicates = "exclude"
    assert compare_setup(old, keep)[0] == []
    mismatches = compare_setup(old, exclude)[0]
    assert [m.reason for m in mismatches] == [
        "--near-duplicates differs (baseline 'keep', current 'exclude')"
    ]


V2 = JP_FACES.parent / "jp_faces_v2"


@pytest.mark.slow
@needs_shared
def test_jp_faces_v2_confounds_suspects_and_near_duplicates(tmp_path, session_cache):
    """The larger Japanese set: its source and size confound, its mislabelled idol crops and
    its re-encoded copies are all found, with dlib and the real ONNX network."""
    if not V2.exists():
        pytest.skip(f"needs {V2}")
    repo_config = Path(__file__).resolve().parents[1] / "face-bench.toml"
    text = repo_config.read_text(encoding="utf-8").replace(
        "../shared/models/", (JP_FACES.parents[1] / "models").as_posix() + "/"
    )
    config = tmp_path / "face-bench.toml"
    config.write_text(text.replace('data = "../shared/datasets/jp_faces_dev"', ""), "utf-8")

    def run(out: str, *extra: str) -> dict:
        result = runner.invoke(
            app,
            ["roc", "--data", str(V2), "--subset", "ordinary", "--subset", "young_women",
             "--sample", "100", "--bootstrap", "0", "--config", str(config),
             "--model", "dlib", "--model", "hse-faceres",
             "--cache-dir", str(session_cache), "--out", str(tmp_path / out), *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "confound: 'source_repo'" in result.output
        return json.loads((tmp_path / out / "results.json").read_text())

    results = run("ex", "--stratify-by", "source_repo", "--exclude-suspects")
    dq = results["data_quality"]
    warned = {c["column"] for c in dq["confounds"] if c["warn"]}
    assert {"source_repo", "image_width", "image_height"} <= warned
    suspects = dq["suspects"]
    assert set(suspects["flagged"]) == {"dlib", "hse-faceres"} and suspects["agreed"] >= 1
    agreed = [s for s in suspects["images"] if s["agreed"]]
    assert all({e["model"] for e in s["evidence"]} == {"dlib", "hse-faceres"} for s in agreed)
    assert any("DeepNogizaka" in _source(V2, s["image"]) for s in agreed)  # the idol crops
    assert dq["without_suspects"] is not None
    assert any(s["differentials"] for s in dq["strata"])
    near = dq["near_duplicates"]
    assert (
        near["n_genuine"] >= 1 and near["excluded_pairs"] == near["n_genuine"] + near["n_impostor"]
    )
    kept = run("keep", "--near-duplicates", "keep")
    assert kept["data_quality"]["near_duplicates"]["excluded_pairs"] == 0
    genuine = [s["pairs"]["n_genuine"] for s in results["subsets"]]
    assert sum(s["pairs"]["n_genuine"] for s in kept["subsets"]) - sum(genuine) == near["n_genuine"]


def _source(root: Path, image: str) -> str:
    manifest = pd.read_csv(root / "manifest.csv")
    return str(manifest.loc[manifest["path"] == image, "source_repo"].iloc[0])


def test_the_terminal_lists_ten_agreed_suspects_and_counts_the_rest():
    import io

    from rich.console import Console

    from face_bench.cli.quality_tables import render_quality
    from face_bench.results import quality as q

    evidence = [
        q.ModelEvidence(model="m", threshold=0.5, n_same=3, median_same=0.1, nearest_other=0.7,
                        nearest_other_image="x.png", nearest_other_identity="x", flagged=True)
    ]  # fmt: skip
    images = [
        q.SuspectImage(subset="s", image=f"img{i:02d}.png", identity="p", flagged_by=["m"],
                       agreed=True, evidence=evidence)
        for i in range(12)
    ]  # fmt: skip
    dq = q.DataQuality(
        suspects=q.LabelSuspects(rule="r", flagged={"m": 12}, agreed=12, images=images)
    )
    buffer = io.StringIO()
    render_quality(dq, Console(file=buffer, width=200), lambda _d: None)
    text = buffer.getvalue()
    assert "img09.png" in text and "img10.png" not in text
    assert "2 more in results.json" in text
