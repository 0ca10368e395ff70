"""Duplicate photos and products listed twice: candidate pairs from nearest neighbours, kinds, scores, clusters.

Photo level. Candidates are the pairs of photos whose embeddings are within cosine MIN_COS of each other,
found by a range search that never compares all pairs exactly: the vectors are first projected on their
leading principal components, where the distance of two photos is a lower bound of their full distance
(an orthogonal projection never lengthens a difference), so a block-wise product in the small space drops
every pair that cannot reach MIN_COS, and only the survivors are checked with the full vectors. Each photo
keeps at most `max_neighbours` partners (a folder of a thousand identical placeholders stays a cluster
without a million pairs). Then each pair gets a kind:

- ``exact``: the same file content (the content hash the indexer stored); score 1.
- ``near``: the same picture after a resize, a recompression, a small crop, a brightness change or a small
  overlay: the fingerprints (`core.fingerprints`) align with almost no luma and no colour left over on the
  product (a little more colour is allowed on the backdrop, where a sticker or a watermark adds it);
  score 0.9-1 by how little differs.
- ``edit``: the same shot, edited: mirrored, recoloured, retouched, more heavily cropped: the DCT hashes
  agree (mirror-aware) but the pictures differ; score 0.7-0.9. A catalogue's other colourways photographed
  once and recoloured land here, never in ``near``.

Article level (kind ``article``): pairs of articles whose photo sets match as the same product: greedy set
matching (`core.matching`) with a strict threshold s and no cap on pairs, every photo of the smaller article
matched at s or better, and no matched pair the same shot changed (laid out alike by the pHash but not the
same picture: the recoloured shot of another colourway). Unless one matched pair is an exact or near
duplicate photo, every matched pair must also reach ARTICLE_STRICT and show its subject in the same colour
(`fingerprints.same_colour`): other colourways and other products of one cut otherwise pass at 0.90.

Thresholds were chosen on the Magento test corpus (`benchmarks/duplicates_eval.py`; README "Duplicates").
Nothing here reads or writes photo files: fingerprints come in through a callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from desktop_app.core import matching
from desktop_app.core.components import components
from desktop_app.core.fingerprints import Difference, Fingerprint, compare_many, hamming, same_colour
from desktop_app.core.vectors import ArticleVectors

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]

KINDS = ("exact", "near", "edit", "article")
# Candidate stage: no duplicate of any kind measured on the corpus had a lower cosine (the least similar
# near duplicates, heavily brightened dark photos, sit at 0.82-0.88; edits at 0.93 and up).
MIN_COS = 0.85
MAX_NEIGHBOURS = 50
# near: the fingerprints agree once aligned (chosen from the measured trade-off, see the module docstring).
NEAR_MAX_HAMMING = 22
NEAR_MAX_LUMA = 0.03  # share of cells with a luma change
NEAR_MAX_CHROMA = 0.01  # share of cells with a colour change: coloured text on the backdrop is up to ~0.8%
# Of those, where both photos show the subject (Magento test corpus): a recoloured strip of a garment (the
# liner of the wsh10 shorts, another colourway of one shot) is 0.35% and more; 99% of 5% crops stay under
# 0.26%.
NEAR_MAX_SUBJECT_CHROMA = 0.003
NEAR_MIN_OVERLAP = 0.85
# edit: the same shot (DCT hashes close, mirror-aware) and a high embedding similarity.
EDIT_MIN_COS = 0.90
EDIT_MAX_HAMMING = 12
DEFAULT_MIN_SCORE = 0.9  # exact and near; 0.7 adds the edits
ARTICLE_THRESHOLD = 0.90  # s of the article level: every photo of the smaller article matched at this or more
# Without a duplicate photo among its matched pairs an article pair needs every pair at this cosine and in
# the same colour: on the untouched Magento photos 17 of the 20 pairs found at 0.90 alone were other
# colourways or other products of one cut (0.90-0.945), the 3 true ones share duplicate photos.
ARTICLE_STRICT = 0.95
PROJECTION_DIM = 96  # components of the candidate stage's range search
_BLOCK = 1024  # rows per tile of the range search
_COLUMNS = 16384  # columns per product within a tile (64 MB of float32 at most)
_THREADS = 2
_COMPARE_BATCH = 256  # pairs compared per vectorised call


@dataclass(frozen=True)
class PhotoPair:
    """Two photos (stored paths, a < b) that are duplicates of one kind."""

    a: str
    b: str
    article_a: str
    article_b: str
    kind: str
    score: float
    cos: float
    difference: Difference | None = None  # None for exact copies

    def to_dict(self) -> dict:
        out = {
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "score": round(self.score, 4),
            "article_a": self.article_a,
            "article_b": self.article_b,
            "cosine": round(self.cos, 4),
        }
        d = self.difference
        if d is not None:
            out.update(
                hamming=d.hamming,
                mirrored=d.mirrored,
                luma_changed=round(d.luma_changed, 4),
                chroma_changed=round(d.chroma_changed, 4),
                gain=round(d.gain, 3),
            )
        return out


@dataclass(frozen=True)
class ArticlePair:
    """Two articles (a < b) whose photo sets match as the same product."""

    a: str
    b: str
    score: float
    matched: tuple[tuple[str, str, float], ...]  # (photo of a, photo of b, cosine), best first
    photo_duplicates: int  # matched pairs that are exact or near photo duplicates
    kind: str = "article"

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "score": round(self.score, 4),
            "photo_duplicates": self.photo_duplicates,
            "matched": [{"a": x, "b": y, "cosine": round(c, 4)} for x, y, c in self.matched],
        }


@dataclass
class Cluster:
    """Connected pairs: every member is a duplicate of at least one other member."""

    members: list[str]
    pairs: list  # PhotoPair or ArticlePair

    @property
    def best(self) -> float:
        return max(p.score for p in self.pairs)


@dataclass
class Candidates:
    """The candidate stage's pairs (rows of an ArticleVectors, i < j) and what it cost."""

    rows_a: np.ndarray
    rows_b: np.ndarray
    cos: np.ndarray
    checked: int  # pairs checked with the full vectors after the bound
    elapsed_s: float
    cancelled: bool = False


@dataclass
class PhotoFindings:
    pairs: list[PhotoPair]
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # no fingerprints: photos offline
    candidates: int = 0
    # Pairs laid out alike (pHash within NEAR_MAX_HAMMING) that are not the same picture: edits, recolours.
    variants: set[tuple[str, str]] = field(default_factory=set)


# ============================================================================ candidate stage


def _projection(V: np.ndarray, dim: int, sample: int = 4096, seed: int = 0) -> np.ndarray:
    """[D, dim] orthonormal basis close to the leading principal components of a sample of V, by a few
    rounds of randomised subspace iteration (a full eigendecomposition of D x D costs seconds). Any
    orthonormal basis keeps the bound exact; a good one only makes it tighter."""
    D = V.shape[1]
    if dim >= D:
        return np.eye(D, dtype=np.float32)
    rng = np.random.default_rng(seed)
    rows = V if V.shape[0] <= sample else V[np.sort(rng.choice(V.shape[0], sample, replace=False))]
    X = rows - rows.mean(axis=0)
    Q = rng.normal(size=(D, dim + 16)).astype(np.float32)
    for _ in range(3):
        Q, _ = np.linalg.qr(X.T @ (X @ Q))
    B = X @ Q
    _, vecs = np.linalg.eigh((B.T @ B).astype(np.float64))
    basis = Q @ vecs[:, ::-1][:, :dim].astype(np.float32)
    return np.ascontiguousarray(np.linalg.qr(basis)[0], dtype=np.float32)  # orthonormal to float32 precision


def candidate_pairs(
    V: np.ndarray,
    min_cos: float = MIN_COS,
    max_neighbours: int = MAX_NEIGHBOURS,
    dim: int = PROJECTION_DIM,
    progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> Candidates:
    """Every pair of rows of V (L2-normalised) with cosine >= min_cos, each row keeping its best
    `max_neighbours` partners; exact (no pair is lost to the projection).

    Tiles of the upper triangle run on a small thread pool with BLAS kept to one thread per call: on a
    busy two-core machine BLAS's own threads spin against other processes (a 1280 x 112 QR took a second
    instead of 25 ms here), while numpy releases the GIL in every step of a tile."""
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    n = V.shape[0]
    V = np.ascontiguousarray(V, dtype=np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        Z = V @ _projection(V, dim) if n > 2 * _BLOCK else V
        sq = np.einsum("ij,ij->i", Z, Z)[:, None]
        ones = np.ones_like(sq)
        # |z_i - z_j|^2 = [z_i, |z_i|^2, 1] . [-2 z_j, 1, |z_j|^2]: one product gives the squared distances.
        left = np.hstack([Z, sq, ones])
        right = np.ascontiguousarray(np.hstack([-2.0 * Z, ones, sq]).T)
        # Squared distance bound, with slack for float32 rounding of the products.
        limit = 2.0 - 2.0 * min_cos + 1e-4

        def tile(s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
            e = min(s + _BLOCK, n)
            parts, checked = [], 0
            for c in range(s, n, _COLUMNS):
                ii, jj = np.nonzero(left[s:e] @ right[:, c : c + _COLUMNS] <= limit)
                ii += s
                jj += c
                keep = jj > ii
                ii, jj = ii[keep], jj[keep]
                checked += ii.size
                cos = np.einsum("ij,ij->i", V[ii], V[jj])
                ok = cos >= min_cos
                parts.append((ii[ok], jj[ok], cos[ok]))
            return (*(np.concatenate([p[k] for p in parts]) for k in range(3)), checked)

        found: list[tuple] = []
        starts = list(range(0, n, _BLOCK))
        with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="lookalike-candidates") as pool:
            for done, result in enumerate(pool.map(tile, starts), start=1):
                found.append(result)
                if progress is not None:
                    progress(done, len(starts), "comparing photo vectors")
                if should_cancel is not None and should_cancel():
                    pool.shutdown(cancel_futures=True)
                    return Candidates(*_empty_pairs(), 0, time.perf_counter() - t0, cancelled=True)
    a, b, c = (np.concatenate([f[k] for f in found]) if found else _empty_pairs()[k] for k in range(3))
    a, b, c = _cap_neighbours(a, b, c, max_neighbours)
    return Candidates(a, b, c.astype(np.float32), sum(f[3] for f in found), time.perf_counter() - t0)


def _empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)


def _cap_neighbours(a: np.ndarray, b: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Keep a pair when it is among the k most similar pairs of either of its photos."""
    if a.size == 0:
        return a, b, c
    ends = np.concatenate([a, b])
    sims = np.concatenate([c, c])
    pair = np.concatenate([np.arange(a.size), np.arange(a.size)])
    order = np.lexsort((-sims, ends))
    sorted_ends = ends[order]
    first = np.searchsorted(sorted_ends, sorted_ends, side="left")
    rank = np.arange(order.size) - first
    keep = np.zeros(a.size, dtype=bool)
    keep[pair[order[rank < k]]] = True
    return a[keep], b[keep], c[keep]


# ============================================================================ kinds and scores


def classify(cos: float, diff: Difference) -> tuple[str | None, float]:
    """(kind, score) of a pair of different files, or (None, 0) when it is no duplicate."""
    if (
        not diff.mirrored
        and diff.hamming <= NEAR_MAX_HAMMING
        and diff.luma_changed <= NEAR_MAX_LUMA
        and diff.chroma_changed <= NEAR_MAX_CHROMA
        and diff.subject_chroma_changed <= NEAR_MAX_SUBJECT_CHROMA
        and diff.overlap >= NEAR_MIN_OVERLAP
    ):
        worst = max(
            diff.luma_changed / NEAR_MAX_LUMA,
            diff.chroma_changed / NEAR_MAX_CHROMA,
            diff.subject_chroma_changed / NEAR_MAX_SUBJECT_CHROMA,
            diff.hamming / (NEAR_MAX_HAMMING + 1),
        )
        return "near", min(0.999, 0.9 + 0.099 * (1.0 - worst))
    if cos >= EDIT_MIN_COS and diff.hamming <= EDIT_MAX_HAMMING:
        return "edit", 0.7 + 0.19 * (1.0 - diff.hamming / (EDIT_MAX_HAMMING + 1))
    return None, 0.0


def same_shot(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two photos are one shot, perhaps edited (their DCT hashes close, mirror-aware): on the
    Magento photos 85% of the pairs of main photos of one style's colours are, and 1.2% of pairs of
    different styles (`benchmarks/same_shot_rate.py`)."""
    return min(hamming(a.phash, b.phash), hamming(a.phash, b.phash_mirror)) <= EDIT_MAX_HAMMING


def photo_duplicates(
    av: ArticleVectors,
    candidates: Candidates,
    content_hash: Mapping[str, str | None],
    fingerprints: Mapping[str, Fingerprint | None],
    progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> PhotoFindings:
    """Kinds and scores of the candidate pairs, plus exact copies that share a content hash; every kind,
    best first (callers filter by score).

    content_hash: stored path -> content hash; fingerprints: path -> fingerprint (None: its photo could not be
    read, so its pairs are reported as unchecked rather than guessed).
    """
    paths = av.paths
    out: dict[tuple[str, str], PhotoPair] = {}
    for i, j in _exact_pairs(paths, content_hash):
        pair = _photo_pair(av, i, j, "exact", 1.0, 1.0)
        out[(pair.a, pair.b)] = pair
    todo, unchecked = _pairs_to_compare(paths, candidates, fingerprints, out)
    variants: set[tuple[str, str]] = set()
    for start in range(0, len(todo), _COMPARE_BATCH):
        if progress is not None:
            progress(start, len(todo), "checking candidate pairs")
        if should_cancel is not None and should_cancel():
            break
        _compare_batch(av, todo[start : start + _COMPARE_BATCH], fingerprints, out, variants)
    if progress is not None and todo:
        progress(len(todo), len(todo), "checking candidate pairs")
    pairs = sorted(out.values(), key=lambda p: (-p.score, p.a, p.b))
    return PhotoFindings(pairs, unchecked, int(candidates.rows_a.size), variants)


def _photo_pair(
    av: ArticleVectors, i: int, j: int, kind: str, score: float, cos: float, diff: Difference | None = None
) -> PhotoPair:
    """The pair of rows i and j, its paths in order."""
    paths, art = av.paths, av.article_of_row
    a, b = (i, j) if paths[i] <= paths[j] else (j, i)
    return PhotoPair(paths[a], paths[b], av.articles[art[a]], av.articles[art[b]], kind, score, cos, diff)


def _pairs_to_compare(
    paths: Sequence[str],
    candidates: Candidates,
    fingerprints: Mapping[str, Fingerprint | None],
    found: Mapping[tuple[str, str], PhotoPair],
) -> tuple[list[tuple[int, int, float]], list[tuple[str, str]]]:
    """The candidate pairs worth comparing in full (not found already, laid out alike), and the pairs that
    cannot be checked because a photo has no fingerprint."""
    todo: list[tuple[int, int, float]] = []
    unchecked: list[tuple[str, str]] = []
    for i, j, cos in zip(candidates.rows_a.tolist(), candidates.rows_b.tolist(), candidates.cos.tolist()):
        pa, pb = paths[i], paths[j]
        if (min(pa, pb), max(pa, pb)) in found:
            continue
        fa, fb = fingerprints.get(pa), fingerprints.get(pb)
        if fa is None or fb is None:
            unchecked.append((min(pa, pb), max(pa, pb)))
        elif min(hamming(fa.phash, fb.phash), hamming(fa.phash, fb.phash_mirror)) <= NEAR_MAX_HAMMING:
            todo.append((i, j, cos))  # else no kind is possible: the pictures are laid out differently
    return todo, unchecked


def _compare_batch(
    av: ArticleVectors,
    part: list[tuple[int, int, float]],
    fingerprints: Mapping[str, Fingerprint | None],
    out: dict[tuple[str, str], PhotoPair],
    variants: set[tuple[str, str]],
) -> None:
    """Compare a batch of pairs in full: duplicates go to `out`, pairs that are not the same picture to
    `variants`."""
    paths = av.paths
    judged = judge([(fingerprints[paths[i]], fingerprints[paths[j]], cos) for i, j, cos in part])
    for (i, j, cos), (kind, score, diff) in zip(part, judged):
        if kind is not None:
            pair = _photo_pair(av, i, j, kind, score, cos, diff)
            out[(pair.a, pair.b)] = pair
        if kind != "near":
            variants.add((min(paths[i], paths[j]), max(paths[i], paths[j])))


def judge(
    pairs: Sequence[tuple[Fingerprint, Fingerprint, float]],
) -> list[tuple[str | None, float, Difference]]:
    """(kind, score, difference) of pairs of different files given as (fingerprint, fingerprint, cosine).

    A pair that is no duplicate as it is cannot become one mirrored (a mirrored pair is at most an edit, and
    the test for an edit does not look at the pictures), so only pairs with a kind as they are are also
    compared mirrored, to report the closer orientation; the rest are compared once."""
    diffs = compare_many(
        [(a, b) for a, b, _ in pairs],
        mirror_wanted=lambda k, as_is: classify(pairs[k][2], as_is)[0] is not None,
    )
    return [(*classify(cos, d), d) for (_, _, cos), d in zip(pairs, diffs)]


def _exact_pairs(paths: Sequence[str], content_hash: Mapping[str, str | None]) -> list[tuple[int, int]]:
    """Rows with the same content: every pair in a small group, a star around the first in a large one."""
    groups: dict[str, list[int]] = {}
    for row, p in enumerate(paths):
        h = content_hash.get(p)
        if h:
            groups.setdefault(h, []).append(row)
    out: list[tuple[int, int]] = []
    for rows in groups.values():
        if len(rows) <= MAX_NEIGHBOURS + 1:
            out.extend((rows[x], rows[y]) for x in range(len(rows)) for y in range(x + 1, len(rows)))
        else:
            out.extend((rows[0], r) for r in rows[1:])
    return out


# ============================================================================ articles


def article_duplicates(
    av: ArticleVectors,
    candidates: Candidates,
    photo_pairs: Sequence[PhotoPair],
    threshold: float = ARTICLE_THRESHOLD,
    variants: set[tuple[str, str]] | None = None,
    prints: Mapping[str, Fingerprint] | None = None,
) -> list[ArticlePair]:
    """Articles whose photo sets match as the same product (see the module docstring).

    variants: photo pairs (a < b) laid out alike that are not the same picture (a recoloured or otherwise
    edited shot): an article pair whose matching uses one is another colourway, not the same product.
    prints: fingerprints by photo path, for the colour check of pairs without a duplicate photo.
    """
    art = av.article_of_row
    wanted: set[tuple[int, int]] = set()
    for i, j, c in zip(candidates.rows_a.tolist(), candidates.rows_b.tolist(), candidates.cos.tolist()):
        if c >= threshold and art[i] != art[j]:
            wanted.add((min(art[i], art[j]), max(art[i], art[j])))
    index = {a: k for k, a in enumerate(av.articles)}
    dup_photos = {(p.a, p.b) for p in photo_pairs if p.kind in ("exact", "near")}
    for p in photo_pairs:
        if p.article_a != p.article_b and p.kind in ("exact", "near"):
            x, y = index[p.article_a], index[p.article_b]
            wanted.add((min(x, y), max(x, y)))
    variants = variants or set()
    out = []
    for x, y in sorted(wanted):
        found = _same_product(av, x, y, threshold, dup_photos, variants)
        if found is not None and (found.photo_duplicates or _same_look(found, prints or {})):
            out.append(found)
    return sorted(out, key=lambda p: (-p.score, p.a, p.b))


def _same_product(
    av: ArticleVectors,
    x: int,
    y: int,
    threshold: float,
    dup_photos: set[tuple[str, str]],
    variants: set[tuple[str, str]],
) -> ArticlePair | None:
    rx, ry = av.rows_of(x), av.rows_of(y)
    S = av.vectors[rx] @ av.vectors[ry].T
    result = matching.greedy(S, threshold=threshold, max_matches=None)
    if result.passed < min(S.shape):
        return None  # a photo of the smaller article has no counterpart at s
    matched = []
    dups = 0
    for p in result.pairs:
        pa, pb = av.paths[rx.start + p.row], av.paths[ry.start + p.col]
        key = (min(pa, pb), max(pa, pb))
        if key in variants:
            return None
        dups += key in dup_photos
        matched.append((pa, pb, float(p.sim)))
    a, b = av.articles[x], av.articles[y]
    if a > b:
        a, b = b, a
        matched = [(q, p, c) for p, q, c in matched]
    return ArticlePair(a, b, float(result.score), tuple(matched), dups)


def _same_look(pair: ArticlePair, prints: Mapping[str, Fingerprint]) -> bool:
    """Two articles with no duplicate photo between them: the same product only when every matched pair is
    at ARTICLE_STRICT and shows its subject in the same colour (other shots of one product)."""
    for pa, pb, cos in pair.matched:
        fa, fb = prints.get(pa), prints.get(pb)
        if cos < ARTICLE_STRICT or fa is None or fb is None or not same_colour(fa, fb):
            return False
    return True


# ============================================================================ clusters


def clusters(pairs: Sequence[PhotoPair] | Sequence[ArticlePair]) -> list[Cluster]:
    """Connected pairs, largest first (then by best score, then by first member)."""
    root = components((p.a, p.b) for p in pairs)
    groups: dict[str, Cluster] = {}
    for p in pairs:
        c = groups.setdefault(root[p.a], Cluster([], []))
        c.pairs.append(p)
    for c in groups.values():
        c.members = sorted({m for p in c.pairs for m in (p.a, p.b)})
    return sorted(groups.values(), key=lambda c: (-len(c.members), -c.best, c.members[0]))
