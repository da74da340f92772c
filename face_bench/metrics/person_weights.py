"""Error counts as quadratic forms over people: the engine of the differentials' intervals.

A set of pairs at one threshold is summed into two sparse person-by-person tables: how
many pairs each two people form, and how many of them are errors. Any reweighting of
people then gives the rate ``w' E w / w' N w`` - the identity bootstrap (a person drawn c
times has weight c, as in ``metrics.uncertainty``: every pair weighs c[a] * c[b]) and
leaving one person out (weight 0) alike, for a thousand replicates in one sparse product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class PersonTable:
    """Pairs and errors between every two people (upper triangle, p <= q)."""

    pairs: sparse.csr_matrix
    errors: sparse.csr_matrix
    n_pairs: int
    n_errors: int

    @classmethod
    def build(
        cls, person_a: np.ndarray, person_b: np.ndarray, error: np.ndarray, n_people: int
    ) -> PersonTable:
        """Sum pairs (and those flagged ``error``) per unordered pair of people."""
        p = np.minimum(person_a, person_b)
        q = np.maximum(person_a, person_b)
        shape = (n_people, n_people)
        ones = np.ones(p.size)
        pairs = sparse.csr_matrix((ones, (p, q)), shape=shape)
        err = np.asarray(error, dtype=bool)
        errors = sparse.csr_matrix((ones[err], (p[err], q[err])), shape=shape)
        pairs.sum_duplicates()
        errors.sum_duplicates()
        return cls(pairs, errors, int(p.size), int(np.count_nonzero(err)))

    def weighted(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(errors, pairs) under each row of ``weights`` (replicates x people)."""
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        wt = w.T
        n = np.asarray((self.pairs @ wt) * wt).sum(axis=0)
        e = np.asarray((self.errors @ wt) * wt).sum(axis=0)
        return e, n

    def rates(self, weights: np.ndarray) -> np.ndarray:
        """Error rate under each row of ``weights``; NaN where no pair keeps any weight."""
        e, n = self.weighted(weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, e / np.where(n > 0, n, 1.0), np.nan)

    def by_person(self) -> np.ndarray:
        """Errors each person takes part in (a pair of one person counts once)."""
        return _per_person(self.errors)

    def pairs_by_person(self) -> np.ndarray:
        """Pairs each person takes part in, counted as ``by_person`` counts errors."""
        return _per_person(self.pairs)

    def top_error_pairs(self, k: int) -> list[tuple[int, int, int, int]]:
        """The ``k`` pairs of people with most errors: (p, q, errors, pairs between them)."""
        coo = self.errors.tocoo()
        order = np.lexsort((coo.col, coo.row, -coo.data))[:k]
        return [
            (
                int(coo.row[i]),
                int(coo.col[i]),
                int(coo.data[i]),
                int(self.pairs[coo.row[i], coo.col[i]]),
            )
            for i in order
        ]


def _per_person(table: sparse.csr_matrix) -> np.ndarray:
    """Row plus column sums of an upper-triangular person table, the diagonal once."""
    coo = table.tocoo()
    out = np.zeros(table.shape[0])
    np.add.at(out, coo.row, coo.data)
    other = coo.row != coo.col
    np.add.at(out, coo.col[other], coo.data[other])
    return out


def stratified_draws(strata: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, people) copies per person, each stratum resampled within itself.

    Each group keeps its number of people in every replicate, so a group's rate varies
    by who is in it, not by how many of it were drawn. Drawn up front from one seed.
    """
    strata = np.asarray(strata)
    n_people = strata.size
    rng = np.random.default_rng(seed)
    copies = np.zeros((n_boot, n_people))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        picks = rng.integers(0, members.size, size=(n_boot, members.size))
        rows = np.repeat(np.arange(n_boot), members.size)
        np.add.at(copies, (rows, members[picks.ravel()]), 1.0)
    return copies


def leave_one_out(n_people: int) -> np.ndarray:
    """One row per person with that person's weight 0 and everyone else's 1."""
    return 1.0 - np.eye(n_people)
