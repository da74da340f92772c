"""Cllr, minCllr, Brier, ECE and reliability bins against hand-worked values and a
loop-by-loop reference of bob.measure's ``calibration.cllr`` / ``min_cllr``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_bench.core.errors import MetricError
from face_bench.metrics.calibration import (
    N_BINS,
    brier,
    calibration_quality,
    cllr,
    ece,
    min_cllr,
    reliability,
)


def bob_cllr(negatives: list[float], positives: list[float]) -> float:
    """bob.measure.calibration.cllr, term by term with math.exp."""
    sum_pos = sum(math.log(1.0 + math.exp(-p), 2.0) for p in positives)
    sum_neg = sum(math.log(1.0 + math.exp(n), 2.0) for n in negatives)
    return (sum_pos / len(positives) + sum_neg / len(negatives)) / 2.0


def naive_pav(values: list[float]) -> list[float]:
    """Pool adjacent violators by repeated merging of blocks (slow, obviously right)."""
    blocks = [[v, 1] for v in values]  # [mean, size]
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if blocks[i][0] > blocks[i + 1][0]:
                (m1, n1), (m2, n2) = blocks[i], blocks[i + 1]
                blocks[i : i + 2] = [[(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2]]
                merged = True
                break
    return [m for m, n in blocks for _ in range(n)]


def bob_min_cllr(negatives: list[float], positives: list[float]) -> float:
    """bob.measure.calibration.min_cllr: merge (a negative first at equal scores), PAV on the
    0/1 sequence, LLR = log(p) - log(1 - p) - log(P / N), then Cllr."""
    neg, pos = sorted(negatives), sorted(positives)
    n_neg, n_pos = len(neg), len(pos)
    ideal, neg_at, pos_at = [], [], []
    n = p = 0
    for i in range(n_neg + n_pos):
        if p < n_pos and (n == n_neg or neg[n] > pos[p]):
            pos_at.append(i)
            ideal.append(1.0)
            p += 1
        else:
            neg_at.append(i)
            ideal.append(0.0)
            n += 1
    popt = naive_pav(ideal)
    prior = math.log(n_pos / n_neg)

    def llr(q: float) -> float:
        if q == 0.0:
            return -math.inf
        if q == 1.0:
            return math.inf
        return math.log(q) - math.log(1.0 - q) - prior

    def term(x: float, sign: float) -> float:
        return 0.0 if x * sign == -math.inf else math.log(1.0 + math.exp(sign * x), 2.0)

    pos_cost = sum(term(llr(popt[i]), -1.0) for i in pos_at) / n_pos
    neg_cost = sum(term(llr(popt[i]), 1.0) for i in neg_at) / n_neg
    return (pos_cost + neg_cost) / 2.0


def _scores(seed: int, n: int = 300, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    scores = rng.normal(labels * 1.5, 1.0)
    if ties:
        scores = np.round(scores, 1)  # many equal scores across the classes
    return scores, labels


def test_cllr_hand_worked() -> None:
    # Genuine LR 3 and impostor LR 1/3: each side costs log2(1 + 1/3) bits.
    assert cllr([math.log(3), -math.log(3)], [1, 0]) == pytest.approx(math.log2(4 / 3))
    # A system that always says LR = 1 costs exactly one bit.
    assert cllr(np.zeros(6), [1, 0, 0, 1, 0, 0]) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cllr_equals_bob_reference(seed: int) -> None:
    scores, labels = _scores(seed)
    expected = bob_cllr(scores[~labels].tolist(), scores[labels].tolist())
    assert cllr(scores, labels) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True), (3, False)])
def test_min_cllr_equals_bob_reference(seed: int, ties: bool) -> None:
    scores, labels = _scores(seed, n=200, ties=ties)
    expected = bob_min_cllr(scores[~labels].tolist(), scores[labels].tolist())
    assert min_cllr(scores, labels) == pytest.approx(expected, abs=1e-9)


def test_min_cllr_of_separated_classes_is_zero() -> None:
    assert min_cllr([0.1, 0.2, 0.9, 1.0], [0, 0, 1, 1]) == 0.0


def test_min_cllr_is_a_lower_bound_and_ignores_monotone_maps() -> None:
    scores, labels = _scores(4)
    assert min_cllr(scores, labels) <= cllr(scores, labels)
    assert min_cllr(np.exp(scores), labels) == pytest.approx(min_cllr(scores, labels))


def test_integer_weights_equal_repeated_pairs() -> None:
    scores, labels = _scores(5, n=80, ties=True)
    weights = np.random.default_rng(5).integers(0, 4, scores.size)
    rep_s, rep_y = np.repeat(scores, weights), np.repeat(labels, weights)
    probability = 1.0 / (1.0 + np.exp(-scores))
    rep_p = np.repeat(probability, weights)
    assert cllr(scores, labels, weights) == pytest.approx(cllr(rep_s, rep_y))
    assert min_cllr(scores, labels, weights) == pytest.approx(min_cllr(rep_s, rep_y))
    assert brier(probability, labels, weights) == pytest.approx(brier(rep_p, rep_y))
    assert ece(probability, labels, weights) == pytest.approx(ece(rep_p, rep_y))


def test_brier_and_ece_hand_worked() -> None:
    p = [0.05, 0.05, 0.95, 0.95]
    y = [0, 1, 1, 1]
    assert brier(p, y) == pytest.approx((0.05**2 + 0.95**2 + 2 * 0.05**2) / 4)
    # Bin [0, 0.1): says 5%, observed 50%; bin [0.9, 1]: says 95%, observed 100%.
    assert ece(p, y) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)


def test_reliability_bins_count_every_pair() -> None:
    p = [0.0, 0.05, 0.1, 0.55, 1.0, 1.0]
    y = [0, 0, 1, 1, 1, 0]
    bins = reliability(p, y)
    assert len(bins) == N_BINS
    assert sum(b.n_pairs for b in bins) == 6
    assert (bins[0].n_pairs, bins[1].n_pairs, bins[5].n_pairs, bins[9].n_pairs) == (2, 1, 1, 2)
    assert bins[9].observed_rate == 0.5 and bins[9].mean_probability == 1.0
    assert bins[3].mean_probability is None and bins[3].n_genuine == 0


def test_one_class_is_a_metric_error() -> None:
    with pytest.raises(MetricError):
        cllr([0.1, 0.2], [1, 1])


def test_quality_intervals_resample_people() -> None:
    rng = np.random.default_rng(6)
    ida, idb = rng.integers(0, 25, 1500), rng.integers(0, 25, 1500)
    labels = ida == idb
    scores = rng.normal(labels * 2.0, 1.0)
    llr = 2.0 * scores - 2.0
    probability = 1.0 / (1.0 + np.exp(-(llr + math.log(labels.mean() / (1 - labels.mean())))))
    args = (scores, labels, llr, probability, (ida, idb), float(labels.mean()))
    q = calibration_quality(*args, n_boot=60, seed=3)
    again = calibration_quality(*args, n_boot=60, seed=3)
    assert q.cllr.estimate == pytest.approx(cllr(llr, labels))
    assert q.min_cllr.estimate == pytest.approx(min_cllr(scores, labels))
    for ci in (q.cllr, q.min_cllr, q.brier, q.ece):
        assert ci.lower is not None and ci.upper is not None and ci.lower < ci.upper
    assert q.cllr.lower < q.cllr.estimate < q.cllr.upper
    assert q.brier.lower < q.brier.estimate < q.brier.upper
    assert again.to_dict() == q.to_dict()  # one seed, one answer
    assert q.n_people == 25 and q.gap == pytest.approx(probability.mean() - labels.mean())
    off = calibration_quality(*args, n_boot=0)
    assert off.cllr.lower is None and off.cllr.estimate == q.cllr.estimate


def test_exported_bob_scores_give_bob_values(tmp_path) -> None:
    """The scores as ``export-scores --to bob`` writes them, read back as bob reads them."""
    from score_formats import read_bob

    from face_bench.results.scorefile import ScoreRow, write_bob

    rng = np.random.default_rng(8)
    people = rng.integers(0, 12, size=(400, 2))
    rows = [
        ScoreRow(f"{a}/{i}.png", f"{b}/{i}.png", f"p{a}", f"p{b}", a == b,
                 float(rng.normal(1.5 * (a == b), 1.0)))
        for i, (a, b) in enumerate(people.tolist())
    ]  # fmt: skip
    read = read_bob(write_bob(tmp_path / "scores.txt", rows))
    scores = np.array([r.score for r in read])
    labels = np.array([r.genuine for r in read])
    negatives, positives = scores[~labels].tolist(), scores[labels].tolist()
    assert cllr(scores, labels) == pytest.approx(bob_cllr(negatives, positives), abs=1e-6)
    assert min_cllr(scores, labels) == pytest.approx(bob_min_cllr(negatives, positives), abs=1e-6)
