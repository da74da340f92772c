"""Near-duplicate images in a sample: reported always, their pairs left out by default.

The same photo resized or re-encoded under another file name (``data.near_duplicates``)
is not a new comparison. As a genuine pair it is an easy match that no real capture would
give, so it makes FNMR look better than it is; under two identities it is a label error and
a false accept the model cannot avoid. ``--near-duplicates exclude`` (default, as an
ISO/IEC 19795-1 style evaluation expects: genuine comparisons of one capture with itself
are not genuine attempts) leaves every pair of two near-duplicate images out of the scored
pairs; ``keep`` scores them. Either way they are counted in the notes and listed in
``results.json`` (``data_quality.near_duplicates``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.core.errors import OutputError
from face_bench.core.io import atomic_write_bytes
from face_bench.data.datasets import Pairs
from face_bench.data.near_duplicates import (
    MAX_DISTANCE,
    MIN_CORRELATION,
    THUMB_SIZE,
    Fingerprint,
    fingerprint,
    near_pairs,
)
from face_bench.results.quality import NearDuplicatePair, NearDuplicates

POLICIES = ("keep", "exclude")
RULE = (
    f"pHash (64-bit DCT) at most {MAX_DISTANCE} bits apart and 32x32 greyscale thumbnails "
    f"correlated at >= {MIN_CORRELATION}"
)


def drop_pairs(pairs: Pairs, found: Sequence[tuple[int, int]]) -> tuple[Pairs, int]:
    """``pairs`` without those joining the two images of any of ``found`` (either order)."""
    if not found or not len(pairs):
        return pairs, 0
    n = int(max(pairs.a.max(), pairs.b.max(), *(max(p) for p in found))) + 1
    low, high = np.minimum(pairs.a, pairs.b), np.maximum(pairs.a, pairs.b)
    keys = low.astype(np.int64) * n + high
    bad = np.array([min(p) * n + max(p) for p in found], dtype=np.int64)
    drop = np.isin(keys, bad)
    keep = ~drop
    return Pairs(pairs.a[keep], pairs.b[keep], pairs.label[keep]), int(drop.sum())


_RECORD = struct.Struct(">Q")
_THUMB_BYTES = THUMB_SIZE * THUMB_SIZE * 4


class FingerprintStore:
    """Fingerprints kept under the cache folder by image content hash, so a rerun decodes
    no image for this check (the same bytes have the same picture). A record that is not
    one (another size, unreadable) is a miss, computed again and rewritten."""

    def __init__(self, cache_dir: Path | None):
        self.folder = None if cache_dir is None else Path(cache_dir) / "fingerprints" / "v1"

    def _path(self, digest: str) -> Path | None:
        if self.folder is None or not digest.isalnum():
            return None
        return self.folder / digest[:2] / f"{digest}.bin"

    def get(self, digest: str | None) -> Fingerprint | None:
        path = self._path(digest) if digest else None
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) != _RECORD.size + _THUMB_BYTES:
            return None
        thumb = np.frombuffer(data, dtype="<f4", offset=_RECORD.size).astype(np.float32)
        if not np.isfinite(thumb).all():
            return None
        return Fingerprint(_RECORD.unpack_from(data)[0], thumb)

    def put(self, digest: str | None, found: Fingerprint) -> None:
        path = self._path(digest) if digest else None
        if path is None:
            return
        data = _RECORD.pack(found.phash) + np.asarray(found.thumb, dtype="<f4").tobytes()
        with contextlib.suppress(OSError, OutputError):  # a read-only cache: computed again
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)


def stored_prints(
    digests: Iterable[str | None], cache_dir: Path | None
) -> dict[str, Fingerprint | None]:
    """The stored fingerprint of each content hash, None where none is stored: what the
    embedding workers are asked to fill in from the decode they do anyway."""
    store = FingerprintStore(cache_dir)
    return {digest: store.get(digest) for digest in dict.fromkeys(digests) if digest}


def remember_prints(
    prints: Mapping[str, Fingerprint | None], asked: Iterable[str], cache_dir: Path | None
) -> None:
    """Store the fingerprints the workers found for the hashes ``asked`` of them."""
    store = FingerprintStore(cache_dir)
    for digest in asked:
        found = prints.get(digest)
        if found is not None:
            store.put(digest, found)


def _fingerprints(
    paths: Sequence[str],
    root: Path,
    digests: Mapping[str, str | None],
    store: FingerprintStore,
    known: Mapping[str, Fingerprint | None],
) -> dict[str, Fingerprint | None]:
    out = {path: _known(known, digests.get(path)) or store.get(digests.get(path)) for path in paths}
    missing = [path for path, known in out.items() if known is None]
    for path, found in zip(missing, _compute(root, missing), strict=True):
        if found is not None:
            store.put(digests.get(path), found)
        out[path] = found
    return out


def _known(known: Mapping[str, Fingerprint | None], digest: str | None) -> Fingerprint | None:
    return known.get(digest) if digest else None


PARALLEL_FROM = 16  # fewer images than this are fingerprinted in the calling thread


def _compute(root: Path, paths: list[str]) -> list[Fingerprint | None]:
    """Fingerprints in order, on one thread per usable core: decoding and resizing release
    the GIL, and on a cold run this is the planning's largest part (a 600 px PNG costs
    about 8 CPU-ms), done before any worker has an image to embed."""
    if len(paths) < PARALLEL_FROM:
        return [fingerprint(root / p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    from face_bench.core.cpus import usable_cpus

    first = fingerprint(root / paths[0])  # imports scipy.fft once, before the threads
    with ThreadPoolExecutor(max_workers=max(1, usable_cpus())) as pool:
        return [first, *pool.map(lambda p: fingerprint(root / p), paths[1:])]


def settle(
    samples: list[Any],
    root: Path,
    policy: str,
    say: Callable[[str], None],
    digests: Mapping[str, str | None] | None = None,
    cache_dir: Path | None = None,
    known: Mapping[str, Fingerprint | None] | None = None,
) -> tuple[list[Any], NearDuplicates]:
    """Each sample's pairs under ``--near-duplicates`` (samples: ``plan._Sample``), and the
    block for results.json. Every pair of a large sample (no pair list) keeps its pairs.

    Byte-identical images (equal ``digests``, content hashes by path) are ``--duplicates``'
    business and are left out of this check, so that each option keeps its own meaning.
    ``known``: fingerprints by content hash already at hand (``stored_prints``, filled in
    by the embedding workers); the others are read from the cache or computed here."""
    digests = digests or {}
    known = known or {}
    if policy not in POLICIES:
        raise ValueError(f"unknown near-duplicates policy {policy!r}")
    store = FingerprintStore(cache_dir)
    cache: dict[str, Fingerprint | None] = {}
    settled, listed = [], []
    excluded_total = 0
    for sample in samples:
        paths = [str(p) for p in sample.images["path"]]
        identities = [str(i) for i in sample.images["identity"]]
        cache |= _fingerprints([p for p in paths if p not in cache], root, digests, store, known)
        found = _not_byte_identical(near_pairs([cache[p] for p in paths]), paths, digests)
        pairs, excluded = _without_near_pairs(sample.pairs, found, policy)
        excluded_total += excluded
        dropped = policy == "exclude" and sample.pairs is not None
        listed += _listed(sample.spec.name, found, paths, identities, dropped)
        if found:
            say(_note(sample.spec.name, found, identities, excluded, policy, sample.pairs))
        settled.append(dataclasses.replace(sample, pairs=pairs))
    return settled, _block(policy, listed, excluded_total)


def _without_near_pairs(pairs: Pairs | None, found: list[Any], policy: str) -> tuple[Any, int]:
    """The pairs left under ``policy`` and how many were left out (a large sample without a
    pair list keeps all its pairs)."""
    if found and policy == "exclude" and pairs is not None:
        return drop_pairs(pairs, [(f.a, f.b) for f in found])
    return pairs, 0


def _block(policy: str, listed: list[NearDuplicatePair], excluded: int) -> NearDuplicates:
    genuine = sum(p.identity_a == p.identity_b for p in listed)
    return NearDuplicates(
        policy=policy,
        rule=RULE,
        n_genuine=genuine,
        n_impostor=len(listed) - genuine,
        excluded_pairs=excluded,
        pairs=listed,
    )


def _not_byte_identical(
    found: list[Any], paths: list[str], digests: Mapping[str, str | None]
) -> list[Any]:
    """Near pairs less those of two byte-identical images (``--duplicates``' business)."""
    return [
        f
        for f in found
        if digests.get(paths[f.a]) is None or digests.get(paths[f.a]) != digests.get(paths[f.b])
    ]


def _listed(
    subset: str, found: list[Any], paths: list[str], identities: list[str], dropped: bool
) -> list[NearDuplicatePair]:
    return [
        NearDuplicatePair(
            subset=subset,
            image_a=paths[f.a],
            image_b=paths[f.b],
            identity_a=identities[f.a],
            identity_b=identities[f.b],
            hash_distance=f.distance,
            correlation=round(f.correlation, 4),
            excluded=dropped,
        )
        for f in found
    ]


def _note(subset: str, found: list[Any], identities: list[str], excluded: int,
          policy: str, pairs: Pairs | None) -> str:  # fmt: skip
    same = sum(identities[f.a] == identities[f.b] for f in found)
    text = (
        f"subset {subset!r}: {len(found)} pair(s) of near-duplicate images (the same photo "
        f"resized or re-encoded: {same} of one person, {len(found) - same} across identities)"
    )
    if policy == "keep":
        return text + "; scored (--near-duplicates keep): genuine ones flatter FNMR"
    if pairs is None:
        return text + "; every pair of a large sample is scored in blocks, so they are scored"
    return text + f"; {excluded} scored pair(s) of them left out (--near-duplicates exclude)"
