"""Tests for face_bench.data.pairing: pair lists matched to a dataset and a subset."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEEPFACE, needs_shared

from face_bench.core.errors import EmptySubsetError, PairsFileError
from face_bench.data.datasets import Dataset, load_dataset, select_subset, subset_spec
from face_bench.data.pairing import pairs_from_file

MASTER = DEEPFACE / "protocol" / "master.csv"
needs_deepface = needs_shared


def master_rows() -> list[tuple[str, str, bool]]:
    with MASTER.open(encoding="utf-8", newline="") as fh:
        return [(r["file_x"], r["file_y"], r["Decision"] == "Yes") for r in csv.DictReader(fh)]


@needs_deepface
def test_master_csv_resolves_every_pair_with_its_labels():
    dataset = load_dataset(DEEPFACE)
    pool = select_subset(dataset, subset_spec("all"))
    images, pairs, note = pairs_from_file(dataset, pool, MASTER)

    rows = master_rows()
    assert len(pairs) == len(rows) == 300
    assert list(images["path"]) == sorted(images["path"])
    assert images.index.tolist() == list(range(len(images)))
    paths = images["path"].to_numpy()
    for (x, y, same), ia, ib, label in zip(rows, pairs.a, pairs.b, pairs.label, strict=True):
        assert paths[ia].endswith("/" + x) and paths[ib].endswith("/" + y)
        assert bool(label) is same
    assert pairs.label.dtype == bool and pairs.n_genuine == sum(r[2] for r in rows)
    # Every image of the result is used by some pair, and each appears once.
    assert set(pairs.a) | set(pairs.b) == set(range(len(images)))
    assert images["path"].is_unique
    assert "300 pairs scored" in note and "0 dropped outside this subset" in note
    assert "labels agree" in note


@needs_deepface
def test_pairs_outside_the_subset_are_dropped_and_counted():
    dataset = load_dataset(DEEPFACE)
    keep = {"deepface_id01", "deepface_id02", "deepface_id03"}
    pool = dataset.table[dataset.table["identity"].isin(keep)].reset_index(drop=True)
    images, pairs, note = pairs_from_file(dataset, pool, MASTER)

    names = dataset.table["path"].str.rsplit("/", n=1).str[-1]
    by_name = dict(zip(names, dataset.table["identity"], strict=True))
    inside = [r for r in master_rows() if by_name[r[0]] in keep and by_name[r[1]] in keep]
    assert 0 < len(pairs) == len(inside) < 300
    assert set(images["identity"]) <= keep
    assert f"{300 - len(inside)} dropped outside this subset" in note


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def tiny_dataset(tmp_path: Path) -> Dataset:
    table = pd.DataFrame(
        {
            "path": ["images/a/1.png", "images/a/2.png", "images/b/1.png", "images/c/9.png"],
            "identity": ["a", "a", "b", "c"],
        }
    )
    return Dataset(root=tmp_path, table=table, digest="x", identity_source="manifest")


def test_file_labels_are_kept_and_disagreements_counted(tmp_path):
    dataset = tiny_dataset(tmp_path)
    path = write_csv(
        tmp_path,
        "image_a,image_b,label\n"
        "images/a/1.png,images/a/2.png,0\n"  # same identity, labelled different
        "images/a/1.png,images/b/1.png,1\n"  # different identities, labelled same
        "images/a/2.png,images/b/1.png,0\n"
        "images/b/1.png,images/b/1.png,1\n"  # self-pair: skipped by the parser
        "images/b/1.png,images/a/2.png,0\n",  # the same pair reversed: a duplicate
    )
    images, pairs, note = pairs_from_file(dataset, dataset.table, path)
    assert list(images["path"]) == ["images/a/1.png", "images/a/2.png", "images/b/1.png"]
    assert pairs.label.tolist() == [False, True, False]
    assert pairs.a.tolist() == [0, 0, 1] and pairs.b.tolist() == [1, 2, 2]
    assert "2 label(s) disagree" in note
    assert "1 duplicate(s) skipped" in note and "1 self-pair(s) skipped" in note


def test_names_resolving_to_one_dataset_pair_are_merged(tmp_path):
    dataset = tiny_dataset(tmp_path)
    path = write_csv(
        tmp_path, "file_x,file_y,Decision\n9.png,images/b/1.png,No\nimages/c/9.png,b/1.png,No\n"
    )
    _images, pairs, note = pairs_from_file(dataset, dataset.table, path)
    assert len(pairs) == 1 and "1 duplicate(s) skipped" in note

    clash = write_csv(
        tmp_path, "file_x,file_y,Decision\n9.png,images/b/1.png,No\nimages/c/9.png,b/1.png,Yes\n"
    )
    with pytest.raises(PairsFileError, match="other label"):
        pairs_from_file(dataset, dataset.table, clash)


def test_no_pair_inside_the_subset_is_an_error(tmp_path):
    dataset = tiny_dataset(tmp_path)
    path = write_csv(tmp_path, "image_a,image_b,label\nimages/a/1.png,images/b/1.png,0\n")
    pool = dataset.table[dataset.table["identity"] == "c"].reset_index(drop=True)
    with pytest.raises(EmptySubsetError, match="none of its 1 pairs"):
        pairs_from_file(dataset, pool, path)


def test_unknown_names_fail_with_the_file_named(tmp_path):
    dataset = tiny_dataset(tmp_path)
    path = write_csv(tmp_path, "image_a,image_b,label\nimages/a/1.png,nobody.png,0\n")
    with pytest.raises(PairsFileError, match=r"nobody\.png"):
        pairs_from_file(dataset, dataset.table, path)


def test_indices_point_at_the_returned_rows(tmp_path):
    dataset = tiny_dataset(tmp_path)
    path = write_csv(tmp_path, "image_a,image_b,label\nimages/c/9.png,images/a/2.png,0\n")
    images, pairs, _ = pairs_from_file(dataset, dataset.table, path)
    assert images["path"].to_numpy()[pairs.a].tolist() == ["images/c/9.png"]
    assert images["path"].to_numpy()[pairs.b].tolist() == ["images/a/2.png"]
    assert np.array_equal(pairs.label, [False])
