"""Data-quality checks: confounds, perceptual near-duplicates, suspected label errors, strata."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from face_bench.data.confounds import (
    MIN_KS,
    MIN_V,
    compare_groups,
    cramers_v,
    image_sizes,
    ks_distance,
)
from face_bench.data.datasets import Pairs, make_pairs
from face_bench.data.near_duplicates import Fingerprint, fingerprint, near_pairs
from face_bench.metrics.label_noise import agreement, image_evidence
from face_bench.run.near_duplicates import drop_pairs, settle


def _picture(seed: int, size: int = 200) -> Image.Image:
    """A smooth random greyscale picture (so that resizing keeps its structure)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (8, 8)).astype(np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


# ---------------------------------------------------------------- near-duplicates


def test_a_resized_recompressed_copy_is_a_near_duplicate_and_another_picture_is_not(tmp_path):
    original = _save(_picture(1), tmp_path / "a.png")
    copy = _save(_picture(1).resize((600, 600)), tmp_path / "b.jpg", quality=70)
    other = _save(_picture(2), tmp_path / "c.png")
    prints = [fingerprint(p) for p in (original, copy, other)]
    found = near_pairs(prints)
    assert [(p.a, p.b) for p in found] == [(0, 1)]
    assert found[0].distance <= 8 and found[0].correlation >= 0.95


def test_an_undecodable_file_has_no_fingerprint_and_matches_nothing(tmp_path):
    broken = tmp_path / "x.png"
    broken.write_bytes(b"not an image")
    assert fingerprint(broken) is None
    good = fingerprint(_save(_picture(3), tmp_path / "y.png"))
    assert near_pairs([None, good, None]) == []


def test_near_pairs_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 1024)).astype(np.float32)
    prints = []
    for i in range(40):
        thumb = base[i % 4] + 0.05 * rng.standard_normal(1024).astype(np.float32)
        thumb = (thumb - thumb.mean()) / np.linalg.norm(thumb - thumb.mean())
        prints.append(Fingerprint(int(rng.integers(0, 1 << 12)), thumb.astype(np.float32)))
    found = {(p.a, p.b) for p in near_pairs(prints, max_distance=5, min_correlation=0.9)}
    expected = {
        (i, j)
        for i in range(40)
        for j in range(i + 1, 40)
        if bin(prints[i].phash ^ prints[j].phash).count("1") <= 5
        and float(prints[i].thumb @ prints[j].thumb) >= 0.9
    }
    assert found == expected and found


def test_drop_pairs_removes_both_orders_of_a_listed_pair():
    pairs = Pairs(np.array([0, 1, 2, 0]), np.array([1, 0, 3, 2]), np.array([1, 1, 0, 0], bool))
    kept, dropped = drop_pairs(pairs, [(1, 0)])
    assert dropped == 2 and list(zip(kept.a, kept.b, strict=True)) == [(2, 3), (0, 2)]


@dataclass(frozen=True)
class _Spec:
    name: str


@dataclass(frozen=True)
class _Sample:
    spec: _Spec
    images: pd.DataFrame
    pairs: Pairs | None


def _near_sample(root: Path) -> _Sample:
    """p/1 and q/1 are the same photo under two people; p/2 is p/1 re-encoded."""
    _save(_picture(5), root / "p" / "1.png")
    _save(_picture(5).resize((300, 300)), root / "p" / "2.jpg", quality=80)
    _save(_picture(5), root / "q" / "1.bmp")
    _save(_picture(6), root / "q" / "2.png")
    images = pd.DataFrame(
        {"path": ["p/1.png", "p/2.jpg", "q/1.bmp", "q/2.png"], "identity": ["p", "p", "q", "q"]}
    )
    pairs = make_pairs(images["identity"].to_numpy())
    return _Sample(_Spec("s"), images, pairs)


def test_exclude_leaves_out_genuine_and_impostor_near_duplicate_pairs(tmp_path):
    sample = _near_sample(tmp_path)
    said: list[str] = []
    (settled,), block = settle([sample], tmp_path, "exclude", said.append)
    assert (block.n_genuine, block.n_impostor) == (1, 2)  # p1-p2; p1-q1, p2-q1
    assert block.excluded_pairs == 3 and len(settled.pairs) == len(sample.pairs) - 3
    assert all(p.excluded for p in block.pairs)
    assert "3 pair(s) of near-duplicate images" in said[0] and "left out" in said[0]


def test_byte_identical_copies_are_left_to_the_duplicates_option(tmp_path):
    sample = _near_sample(tmp_path)
    digests = {"p/1.png": "h", "q/1.bmp": "h", "p/2.jpg": "other", "q/2.png": None}
    (settled,), block = settle([sample], tmp_path, "exclude", lambda _m: None, digests)
    assert {(p.image_a, p.image_b) for p in block.pairs} == {
        ("p/1.png", "p/2.jpg"),
        ("p/2.jpg", "q/1.bmp"),
    }
    assert len(settled.pairs) == len(sample.pairs) - 2


def test_keep_scores_them_and_still_reports_them(tmp_path):
    sample = _near_sample(tmp_path)
    said: list[str] = []
    (settled,), block = settle([sample], tmp_path, "keep", said.append)
    assert len(settled.pairs) == len(sample.pairs) and block.excluded_pairs == 0
    assert len(block.pairs) == 3 and not any(p.excluded for p in block.pairs)
    assert "--near-duplicates keep" in said[0]


def test_fingerprints_at_hand_are_used_and_the_rest_computed(tmp_path, monkeypatch):
    """``known`` fingerprints (found by the embedding workers) are not computed again."""
    from face_bench.run import near_duplicates

    sample = _near_sample(tmp_path)
    digests = {p: f"d{i}" for i, p in enumerate(sample.images["path"])}
    expected = {p: fingerprint(tmp_path / p) for p in sample.images["path"]}
    known = {digests["p/1.png"]: expected["p/1.png"], digests["q/2.png"]: None}
    computed: list[Path] = []

    def counting(path: Path):
        computed.append(path)
        return fingerprint(path)

    monkeypatch.setattr(near_duplicates, "fingerprint", counting)
    (_settled,), block = settle(
        [sample], tmp_path, "exclude", lambda _m: None, digests, tmp_path / "c", known
    )
    assert sorted(p.relative_to(tmp_path).as_posix() for p in computed) == [
        "p/2.jpg", "q/1.bmp", "q/2.png"
    ]  # fmt: skip
    assert (block.n_genuine, block.n_impostor, block.excluded_pairs) == (1, 2, 3)


# ---------------------------------------------------------------- confounds


def _cramers_v_by_hand(table: np.ndarray) -> float:
    n = table.sum()
    expected = np.outer(table.sum(1), table.sum(0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return math.sqrt(chi2 / (n * (min(table.shape) - 1)))


def test_cramers_v_matches_the_formula():
    assert cramers_v(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0)
    assert cramers_v(np.array([[5, 5], [5, 5]])) == pytest.approx(0.0)
    table = np.array([[30, 10, 5], [8, 20, 12]])
    assert cramers_v(table) == pytest.approx(_cramers_v_by_hand(table))
    assert cramers_v(np.array([[3, 0], [4, 0]])) is None  # one value only


def test_cramers_v_and_ks_distance_equal_scipy_to_the_last_bit():
    from scipy.stats import ks_2samp
    from scipy.stats.contingency import association

    rng = np.random.default_rng(3)
    for _ in range(200):
        shape = tuple(rng.integers(2, 6, size=2))
        table = rng.integers(1, 400, size=shape)
        assert cramers_v(table) == float(association(table, method="cramer"))
        a = rng.choice([200.0, 250.0, 600.0, 1024.0], size=int(rng.integers(1, 300)))
        b = rng.normal(400, 150, size=int(rng.integers(1, 300))).round()
        assert ks_distance([a, b]) == float(ks_2samp(a, b).statistic)
    big = rng.normal(size=10_001)  # past the exact method's size
    assert ks_distance([big, big[:5] + 0.5]) == float(ks_2samp(big, big[:5] + 0.5).statistic)


def test_ks_distance_sees_a_minority_at_another_size():
    ordinary = np.full(30, 200.0)
    young = np.r_[np.full(20, 224.0), np.full(10, 600.0)]
    assert ks_distance([ordinary, young]) == pytest.approx(1.0)
    assert ks_distance([young, young.copy()]) == pytest.approx(0.0)
    assert ks_distance([ordinary, np.array([])]) is None


def test_compare_groups_warns_on_source_and_size_not_on_defining_or_id_columns():
    def group(n: int, source: str, width: float, sex: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "path": [f"{source}/{sex}{i}.png" for i in range(n)],
                "identity": [f"{sex}{i % 3}" for i in range(n)],
                "sex": sex,
                "source_repo": source,
                "source_path": [f"{source}:{sex}{i}" for i in range(n)],  # an identifier
                "image_width": width,
            }
        )

    checks = compare_groups(
        {"a": group(20, "x", 200, "M"), "b": group(20, "y", 600, "F")}, defining=["sex"]
    )
    by_column = {c.column: c for c in checks}
    assert set(by_column) == {"source_repo", "image_width"}
    source = by_column["source_repo"]
    assert source.warn and source.strength == pytest.approx(1.0) and source.strength >= MIN_V
    assert source.counts == {"a": {"x": 20, "y": 0}, "b": {"x": 0, "y": 20}}
    width = by_column["image_width"]
    assert width.kind == "numeric" and width.warn and width.strength >= MIN_KS
    assert width.five_numbers["b"] == [600.0] * 5
    alike = compare_groups(
        {"a": group(20, "x", 200, "M"), "b": group(20, "x", 200, "F")}, defining=["sex"]
    )
    assert not any(c.warn for c in alike)


def test_image_sizes_come_from_the_headers(tmp_path):
    first = _save(Image.new("RGB", (120, 80)), tmp_path / "a.png")
    second = _save(Image.new("L", (33, 44)), tmp_path / "b.jpg")
    broken = tmp_path / "c.png"
    broken.write_bytes(b"nope")
    sizes = image_sizes([first, second, broken])
    assert sizes.iloc[:2].to_numpy().tolist() == [[120.0, 80.0], [33.0, 44.0]]
    assert sizes.iloc[2].isna().all()


# ---------------------------------------------------------------- suspected label errors


def _scores_by_hand(vectors: np.ndarray, similarity: str) -> np.ndarray:
    if similarity == "cosine":
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit @ unit.T
    return -np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_image_evidence_matches_a_brute_force_computation(similarity, monkeypatch):
    from face_bench.metrics import label_noise

    monkeypatch.setattr(label_noise, "BLOCK_ROWS", 7)  # several blocks, one partial
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((23, 6))
    identities = [f"id{i % 5}" for i in range(22)] + ["alone"]
    threshold = 0.1 if similarity == "cosine" else -3.0
    found = image_evidence(vectors, identities, similarity, threshold)
    scores = _scores_by_hand(vectors, similarity)
    ids = np.array(identities)
    for row, ev in enumerate(found):
        same = (ids == ids[row]) & (np.arange(23) != row)
        other = ids != ids[row]
        if same.any():
            assert ev.median_same == pytest.approx(np.median(scores[row, same]), abs=1e-5)
            assert ev.flagged == (np.median(scores[row, same]) < threshold)
        else:
            assert ev.median_same is None and not ev.flagged and identities[row] == "alone"
        best = np.flatnonzero(other)[np.argmax(scores[row, other])]
        assert ev.nearest_other_index == best
        assert ev.nearest_other == pytest.approx(scores[row, best], abs=1e-5)
        assert ev.n_same == int(same.sum())


def test_a_mislabelled_image_is_flagged_and_its_nearest_neighbour_is_its_real_person():
    rng = np.random.default_rng(2)
    centre_a, centre_b = np.eye(16)[0] * 3, np.eye(16)[1] * 3  # two unrelated people
    a = centre_a + 0.1 * rng.standard_normal((4, 16))
    b = centre_b + 0.1 * rng.standard_normal((4, 16))
    wrong = centre_b + 0.1 * rng.standard_normal(16)  # a picture of b labelled a
    vectors = np.vstack([a, wrong, b])
    identities = ["a"] * 5 + ["b"] * 4
    found = image_evidence(vectors, identities, "cosine", threshold=0.5)
    assert [e.flagged for e in found] == [False] * 4 + [True] + [False] * 4
    assert identities[found[4].nearest_other_index] == "b"
    assert (
        agreement([[e.flagged for e in found], [True] * 9]).tolist()
        == [False] * 4 + [True] + [False] * 4
    )
    assert agreement([]).size == 0


def test_fingerprints_are_kept_by_content_hash_and_a_rerun_decodes_nothing(tmp_path, monkeypatch):
    import face_bench.run.near_duplicates as nd

    data, cache = tmp_path / "data", tmp_path / "cache"
    sample = _near_sample(data)
    digests = {p: f"{i:064x}" for i, p in enumerate(sample.images["path"])}
    _, first = settle([sample], data, "exclude", lambda _m: None, digests, cache)
    assert len(list((cache / "fingerprints").rglob("*.bin"))) == 4

    def no_decoding(path):
        raise AssertionError(f"{path} decoded again")

    monkeypatch.setattr(nd, "fingerprint", no_decoding)
    _, again = settle([sample], data, "exclude", lambda _m: None, digests, cache)
    assert again == first
    # a record that is not one is a miss: computed again, not trusted
    broken = next((cache / "fingerprints").rglob("*.bin"))
    broken.write_bytes(b"short")
    monkeypatch.setattr(nd, "fingerprint", fingerprint)
    _, third = settle([sample], data, "exclude", lambda _m: None, digests, cache)
    assert third == first and broken.stat().st_size == 8 + 32 * 32 * 4
