"""Tests for the LFW protocol (face_bench.run.lfw, ``face-bench lfw``) and dlib's jitter setting.

Pairs files are written to tmp_path; the images are the real lfw_fold1 photos, read in
place. dlib embeds them once per session (``session_cache``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import LFW, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.data.protocols import kfold_accuracy, parse_lfw_pairs
from face_bench.models.backends import preprocessing
from face_bench.models.registry import (
    BUILTIN_MODELS,
    DLIB_DESCRIPTOR_FILE,
    dlib_weight_path,
)
from face_bench.models.weights_files import weights_sha256
from face_bench.run.lfw import find_images_root, run_lfw, write_lfw
from face_bench.run.request import EmbedSettings

pytestmark = needs_shared
runner = CliRunner()

# Lines of the real fold-1 pairs.txt whose images dlib's HOG detector finds.
SAME = [
    "Abel_Pacheco\t1\t4",
    "Akhmed_Zakayev\t1\t3",
    "Amber_Tamblyn\t1\t2",
    "Anders_Fogh_Rasmussen\t1\t3",
    "Angela_Bassett\t1\t5",
    "Akhmed_Zakayev\t2\t3",
]
DIFFERENT = [
    "Abdel_Madi_Shabneh\t1\tDean_Barker\t1",
    "Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1",
    "Abdul_Rahman\t1\tPortia_de_Rossi\t1",
    "Abel_Pacheco\t1\tJong_Thae_Hwa\t2",
    "Abel_Pacheco\t2\tJean-Francois_Lemounier\t1",
    "Afton_Smith\t1\tDwayne_Wade\t1",
]


def _dlib(cache: Path) -> EmbedSettings:
    """dlib alone, with the protocol's own alignment (``align`` left to ``run_lfw``)."""
    return EmbedSettings(models=("dlib",), cache_dir=cache, workers=2)


def pairs_file(tmp_path: Path, n_folds: int, n_per: int = 3, same=SAME, different=DIFFERENT):
    lines = [f"{n_folds}\t{n_per}"]
    for fold in range(n_folds):
        lines += same[fold * n_per : (fold + 1) * n_per]
        lines += different[fold * n_per : (fold + 1) * n_per]
    path = tmp_path / f"pairs-{n_folds}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_images_root_is_found_in_both_layouts(tmp_path):
    pairs = parse_lfw_pairs(pairs_file(tmp_path, 1))
    assert find_images_root(LFW, pairs) == LFW / "images"
    # LFW's own layout: <root>/<name>/..., here made of links to the real folders.
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in {p.identity_a for p in pairs} | {p.identity_b for p in pairs}:
        (plain / name).symlink_to(LFW / "images" / name, target_is_directory=True)
    assert find_images_root(plain, pairs) == plain


def test_a_root_without_the_images_is_an_error(tmp_path):
    from face_bench.core.errors import DatasetError

    pairs = parse_lfw_pairs(pairs_file(tmp_path, 1))
    with pytest.raises(DatasetError, match="none of the"):
        find_images_root(tmp_path, pairs)


@pytest.mark.slow
def test_kfold_wiring_thresholds_in_model_units(tmp_path, session_cache):
    path = pairs_file(tmp_path, 2)
    result = run_lfw(LFW, path, _dlib(session_cache))
    assert result.n_folds == 2 and result.n_pairs == 12 and result.n_images == 21
    assert result.images_root == str(LFW / "images")
    (model,) = result.models
    assert model.failures == () and model.n_pairs_scored == 12

    scores = result.scores["dlib"]
    assert np.all(scores <= 0)  # negated Euclidean distances
    labels = np.array([p.label for p in result.pairs])
    folds = np.array([p.fold for p in result.pairs])
    expected = kfold_accuracy(scores, labels, folds)
    assert model.fold_accuracies == expected.accuracies
    assert model.fold_thresholds == tuple(-t for t in expected.thresholds)
    assert all(0 < t < 2 for t in model.fold_thresholds)  # distances, not negated scores
    assert model.accuracy == pytest.approx(np.mean(expected.accuracies))
    assert model.accuracy_std == pytest.approx(np.std(expected.accuracies, ddof=0))
    assert model.cross_validated and model.note is None and result.notes == ()
    # Fold 1's threshold comes from fold 2's pairs only.
    fold2 = folds == 2
    from face_bench.data.protocols import best_accuracy_threshold

    assert model.fold_thresholds[0] == -best_accuracy_threshold(scores[fold2], labels[fold2])[0]

    assert 0.5 <= model.roc_auc <= 1.0 and 0 <= model.eer <= 0.5
    assert model.eer_threshold > 0
    distances = -scores
    at_default = np.mean((distances <= 0.6) == labels)
    assert model.accuracy_at_default == pytest.approx(at_default)


def test_one_fold_reports_the_threshold_chosen_on_it_and_says_so(tmp_path, session_cache):
    path = pairs_file(tmp_path, 1, n_per=6)
    result = run_lfw(LFW, path, _dlib(session_cache))
    (model,) = result.models
    scores = result.scores["dlib"]
    labels = np.array([p.label for p in result.pairs])
    from face_bench.data.protocols import best_accuracy_threshold

    threshold, accuracy = best_accuracy_threshold(scores, labels)
    assert model.fold_thresholds == (-threshold,) and model.accuracy == accuracy
    assert model.accuracy_std is None and not model.cross_validated
    assert "cross-validation needs several folds" in model.note
    assert any("one fold" in note for note in result.notes)


def test_failed_image_counts_as_error_or_is_excluded(tmp_path, session_cache):
    same = ["Abel_Pacheco\t1\t99", *SAME[1:]]  # Abel_Pacheco_0099.jpg does not exist
    path = pairs_file(tmp_path, 2, same=same)
    runs = {
        mode: run_lfw(LFW, path, _dlib(session_cache), on_fail=mode)
        for mode in ("error", "exclude")
    }
    scores = runs["error"].scores["dlib"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1:]).all()
    labels = np.array([p.label for p in runs["error"].pairs])
    folds = np.array([p.fold for p in runs["error"].pairs])
    failed = np.isnan(scores)
    for mode in ("error", "exclude"):
        model = runs[mode].models[0]
        assert model.n_failed_images == 1 and model.n_failed_pairs == 1
        (failure,) = model.failures
        assert failure.image == "Abel_Pacheco/Abel_Pacheco_0099.jpg"
        assert failure.reason == "missing" and failure.n_pairs == 1
        expected = kfold_accuracy(scores, labels, folds, failed, on_fail=mode)
        assert model.fold_accuracies == expected.accuracies
    error, excluded = runs["error"].models[0], runs["exclude"].models[0]
    # Fold 1 has 6 pairs: as an error the failed pair is one of 6 and wrong; excluded, 5 count.
    assert error.fold_accuracies[0] * 6 == pytest.approx(excluded.fold_accuracies[0] * 5)
    assert error.fold_thresholds == excluded.fold_thresholds
    assert error.metrics_over.startswith("all pairs")
    assert excluded.metrics_over == "enrolled pairs only"

    out = write_lfw(runs["error"], tmp_path / "out")
    data = json.loads(out[0].read_text(encoding="utf-8"))
    assert data["models"][0]["failures"][0]["reason"] == "missing"
    assert data["on_fail"] == "error" and data["models"][0]["n_failed_pairs"] == 1
    csv_lines = out[1].read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "fold,image_a,image_b,identity_a,identity_b,label,dlib"
    assert csv_lines[1].endswith(",1,") and len(csv_lines) == 13  # NaN score left empty


def test_cli_runs_the_protocol_and_writes_its_files(tmp_path, session_cache, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the second run writes its default reports/ folder here
    path = pairs_file(tmp_path, 2)
    out = tmp_path / "run"
    args = ["lfw", "--data", str(LFW), "--pairs-file", str(path), "--model", "dlib"]
    common = ["--cache-dir", str(session_cache), "--workers", "2"]
    table = runner.invoke(app, [*args, *common, "--out", str(out)])
    assert table.exit_code == 0, table.stderr
    assert "LFW: 12 pairs (6 same, 6 different) in 2 fold(s), 21 images" in table.stdout
    assert "Euclidean distance" in table.stdout and "±" in table.stdout
    assert "wrote lfw.json, scores.csv" in table.stdout
    saved = json.loads((out / "lfw.json").read_text(encoding="utf-8"))
    assert saved["models"][0]["name"] == "dlib" and saved["n_folds"] == 2
    dlib = BUILTIN_MODELS["dlib"]
    assert saved["models"][0]["weights_sha256"] == weights_sha256(
        dlib_weight_path(DLIB_DESCRIPTOR_FILE)
    )
    assert saved["models"][0]["source"] == dlib.source
    assert saved["models"][0]["licence"] == dlib.licence

    printed = runner.invoke(app, [*args, *common, "--format", "json"])
    assert printed.exit_code == 0, printed.stderr
    data = json.loads(printed.stdout)
    assert data["models"][0]["fold_accuracies"] == saved["models"][0]["fold_accuracies"]
    assert data["models"][0]["embeddings_cached"] == 21
    (default,) = (tmp_path / "reports").glob(f"lfw-{path.stem}-*")
    assert json.loads((default / "lfw.json").read_text(encoding="utf-8"))["n_folds"] == 2


def test_cli_errors_are_one_line_with_their_exit_code(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1\t2\nAbel_Pacheco\t1\t4\n", encoding="utf-8")
    result = runner.invoke(app, ["lfw", "--data", str(LFW), "--pairs-file", str(bad)])
    assert result.exit_code == 15
    assert result.stderr.startswith("face-bench: error:") and "ends after 1" in result.stderr
    assert result.stderr.count("\n") == 1
    missing = runner.invoke(
        app, ["lfw", "--data", str(tmp_path), "--pairs-file", str(pairs_file(tmp_path, 1))]
    )
    assert missing.exit_code == 10 and "none of the" in missing.stderr


def test_cosine_model_thresholds_are_not_negated(tmp_path, standin_config, session_cache):
    path = pairs_file(tmp_path, 2)
    embed = EmbedSettings(
        models=("standin",), config_path=standin_config, cache_dir=session_cache, workers=1
    )
    result = run_lfw(LFW, path, embed)
    labels = np.array([p.label for p in result.pairs])
    folds = np.array([p.fold for p in result.pairs])
    expected = kfold_accuracy(result.scores["standin"], labels, folds)
    assert result.models[0].fold_thresholds == expected.thresholds
    assert result.models[0].units == "cosine similarity"


# --------------------------------------------------------------------------- dlib jitters

JITTER_CONFIG = """
[models.dlib100]
backend = "dlib"
similarity = "euclidean"
threshold = 0.6
num_jitters = 100
chip_size = 150
chip_padding = 0.25
embedding_size = 128
input_size = [150, 150]

[models.dlib2]
backend = "dlib"
similarity = "euclidean"
threshold = 0.6
num_jitters = 2
chip_size = 150
chip_padding = 0.25
embedding_size = 128
input_size = [150, 150]
"""


def test_jittered_dlib_variant_embeds_differently_under_its_own_key(tmp_path):
    from face_bench.core.config import load_config
    from face_bench.embedding.cache import EmbeddingCache
    from face_bench.embedding.pipeline import hash_images
    from face_bench.faces.locate import FaceSettings
    from face_bench.models.choice import choose_models
    from face_bench.models.registry import build_registry
    from face_bench.run.embed import embed_models

    config_path = tmp_path / "face-bench.toml"
    config_path.write_text(JITTER_CONFIG, encoding="utf-8")
    cache_dir = tmp_path / "cache"
    registry = build_registry(load_config(config_path), cache_dir=cache_dir)
    spec100 = registry.get("dlib100")
    assert spec100.num_jitters == 100 and spec100.input_size == (150, 150)
    assert preprocessing(spec100)["num_jitters"] == 100
    assert registry.status("dlib100").ready

    choice = choose_models(registry, ("dlib", "dlib2"))
    chosen = choice.ready
    assert choice.skipped == []
    paths = [LFW / "images" / "Abel_Pacheco" / f"Abel_Pacheco_000{i}.jpg" for i in (1, 2)]
    hashes = hash_images(paths)
    faces = FaceSettings("detect", "largest")
    embeddings, identities = embed_models(chosen, paths, hashes, faces, cache_dir, workers=1)
    plain, jittered = embeddings["dlib"].vectors, embeddings["dlib2"].vectors
    assert plain.shape == jittered.shape == (2, 128)
    assert np.isfinite(plain).all() and np.isfinite(jittered).all()
    assert not np.allclose(plain, jittered)
    assert np.all(np.linalg.norm(plain - jittered, axis=1) < 0.2)  # same face, nearby

    keys = {name: EmbeddingCache(cache_dir, identity).key for name, identity in identities.items()}
    assert keys["dlib"] != keys["dlib2"]
    assert identities["dlib2"]["preprocessing"]["num_jitters"] == 2
    for name, key in keys.items():
        stored = list((cache_dir / "embeddings" / key).rglob(f"{hashes[0]}.json"))
        assert len(stored) == 1, name

    again, _ = embed_models(chosen, paths, hashes, faces, cache_dir, workers=1)
    assert again["dlib2"].cached == 2 and again["dlib2"].computed == 0
    assert np.array_equal(again["dlib2"].vectors, jittered)
