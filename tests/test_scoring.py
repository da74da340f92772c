"""Pair scoring against the full similarity matrix, and failed images as NaN scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from face_bench.core.errors import MetricError
from face_bench.metrics import scoring


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_blocked_pair_scores_equal_the_full_matrix(similarity):
    rng = np.random.default_rng(6)
    emb = rng.normal(size=(37, 8))
    ids = rng.integers(0, 6, size=37)
    scores, labels = scoring.pair_scores_blocked(emb, ids, similarity, block_elems=100)
    i, j = np.triu_indices(37, 1)
    if similarity == "cosine":
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        full = unit @ unit.T
    else:
        full = -cdist(emb, emb)
    assert scores.dtype == np.float32 and labels.dtype == bool
    np.testing.assert_allclose(scores, full[i, j], atol=1e-6)
    np.testing.assert_array_equal(labels, ids[i] == ids[j])
    ii, jj = scoring.all_pair_indices(37, block_elems=100)
    assert ii.dtype == np.int32
    np.testing.assert_array_equal(ii, i)
    np.testing.assert_array_equal(jj, j)
    explicit = scoring.score_pairs(emb, j[::3], i[::3], similarity, chunk_pairs=40)
    assert explicit.dtype == np.float64
    np.testing.assert_allclose(explicit, full[i, j][::3], atol=1e-12)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_a_block_is_its_rows_of_the_triangle_written_where_asked(similarity):
    """``score_block`` copies rows r0..r1 of the upper triangle, with their labels (any
    identity type), into the arrays it is given, the bits of a block scored on its own."""
    rng = np.random.default_rng(9)
    e = scoring.prepare_embeddings(rng.normal(size=(23, 5)).astype(np.float32), similarity)
    ids = np.array([f"person {k}" for k in rng.integers(0, 5, size=23)])
    sq = scoring.squared_norms(e, similarity)
    vals, same = scoring.score_block(e, sq, ids, 7, 12)
    i, j = np.triu_indices(23, 1)
    rows = (i >= 7) & (i < 12)
    assert vals.size == rows.sum()
    np.testing.assert_array_equal(same, ids[i[rows]] == ids[j[rows]])
    out = np.full(vals.size + 2, np.nan, np.float32), np.zeros(vals.size + 2, bool)
    written = scoring.score_block(e, sq, ids, 7, 12, out=(out[0][1:-1], out[1][1:-1]))
    assert written[0].base is out[0] and written[1].base is out[1]
    assert out[0][1:-1].tobytes() == vals.tobytes() and np.isnan(out[0][[0, -1]]).all()
    np.testing.assert_array_equal(out[1][1:-1], same)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_chunking_never_changes_a_score(similarity):
    """Pairs are scored in cache-sized chunks; each score is computed on its own, so any chunk
    size gives the same bits as one pass over every pair."""
    rng = np.random.default_rng(4)
    emb = rng.normal(size=(90, 512)).astype(np.float32)
    a, b = rng.integers(0, 90, size=(2, 5000))
    whole = scoring.score_pairs(emb, a, b, similarity, chunk_pairs=a.size)
    for chunk in (None, 1, 7, 1024):
        assert np.array_equal(scoring.score_pairs(emb, a, b, similarity, chunk_pairs=chunk), whole)


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_failed_images_give_nan_scores_that_reject_failed_floors(similarity):
    vectors = np.array([[1.0, 0.0], [np.nan, np.nan], [0.6, 0.8]], dtype=np.float32)
    scores = scoring.score_pairs(vectors, np.array([0, 0, 1]), np.array([1, 2, 2]), similarity)
    assert np.isnan(scores[0]) and np.isnan(scores[2]) and np.isfinite(scores[1])
    floored, floor = scoring.reject_failed(scores)
    assert floor == scores[1] - 1.0
    np.testing.assert_array_equal(floored, [floor, scores[1], floor])


def test_zero_vector_scores_zero_under_cosine():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert scoring.score_pairs(vectors, np.array([0]), np.array([1]), "cosine")[0] == 0.0


def test_pair_scoring_rejects_bad_inputs():
    with pytest.raises(MetricError, match="all zeros"):
        scoring.pair_scores_blocked(np.zeros((3, 4)), [0, 1, 2])
    with pytest.raises(MetricError, match="one identity per embedding"):
        scoring.pair_scores_blocked(np.ones((3, 4)), [0, 1])
    with pytest.raises(MetricError, match="differ in shape"):
        scoring.score_pairs(np.ones((3, 4)), [0, 1], [2], "cosine")
    with pytest.raises(ValueError, match="similarity must be"):
        scoring.score_pairs(np.ones((3, 4)), [0], [1], "manhattan")
    scores, labels = scoring.pair_scores_blocked(np.ones((1, 4)), [0])
    assert scores.size == labels.size == 0
