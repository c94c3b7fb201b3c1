"""Fusion of a dense and a sparse ranked list, as pure vectorised functions.

``fuse_weighted`` is Pyserini's ``HybridSearcher._hybrid_results`` (the TCT-ColBERT paper's
dense-sparse hybrid, Lin et al. 2021): over the union of each side's top ``k0`` hits, a document
missing from one list takes that list's minimum score, and the fused score is

    alpha * sparse + dense           (default)
    sparse + alpha * dense           (weight_on_dense=True)

optionally after min-max-centring each side, ``(s - (min + max) / 2) / (max - min)``.
``fuse_rrf`` is reciprocal-rank fusion (Cormack et al., SIGIR 2009): ``sum 1 / (rrf_k + rank)``
over the lists a document appears in, rank counted from 1.  Both are the two-list cases of
``fuse_lists``, which fuses any number of lists either way, each with its own weight
(``python -m tctcb.fuse`` over run files): ``fuse_weighted`` is lists ``[dense, sparse]`` with
weights ``[1, alpha]``.

Rules where Pyserini is undefined or arbitrary (documented here, tested in tests/test_fusion.py):

- **One hit / equal scores** (normalisation range 0): Pyserini divides by zero.  Here a side
  whose top-``k0`` scores span a range of 0 normalises to 0 for every document (the centre of the
  range) -- it carries no information about relative order and so contributes nothing.
- **No hits on one side**: that side's minimum is 0 and maximum 1 (as Pyserini), so it adds the
  same constant to every document; the other side decides the order.  No hits on both sides:
  the result is empty.
- **Ties**: the order is score descending, then docid ascending (Pyserini's order of tied
  documents depends on Python's string hashing, i.e. changes from process to process).
- **A docid repeated within one list**: the last occurrence's score counts (as Pyserini's dict).

Scores are computed in float64.

>>> ids, scores = fuse_weighted(["a", "b"], [0.9, 0.8], ["b", "c"], [12.0, 10.0], alpha=0.1, k=3)
>>> ids.tolist(), [round(float(s), 4) for s in scores]
(['b', 'a', 'c'], [2.0, 1.9, 1.8])
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["fuse_weighted", "fuse_rrf", "fuse_lists", "rank_order"]


def _as_arrays(ids: Sequence[str], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "iuU":  # integer keys that sort like docids, or str
        ids_a = ids
    else:
        ids_a = np.asarray(ids, dtype=object).astype(str) if len(ids) else np.empty(0, dtype=str)
    scores_a = np.asarray(scores, dtype=np.float64).reshape(-1)
    if ids_a.shape[0] != scores_a.shape[0]:
        raise ValueError(f"{ids_a.shape[0]} docids but {scores_a.shape[0]} scores")
    return ids_a, scores_a


def rank_order(ids: np.ndarray, scores: np.ndarray, k: int | None = None) -> np.ndarray:
    """Indices that order ``(ids, scores)`` by score descending, then docid ascending; first ``k``."""
    order = np.lexsort((ids, -scores)) if len(ids) else np.empty(0, dtype=np.int64)
    return order if k is None else order[:k]


def _side(scores: np.ndarray, positions: np.ndarray, n: int, normalization: bool) -> np.ndarray:
    """One side's score for each union document: its own score, else the list's minimum."""
    col = np.full(n, np.nan, dtype=np.float64)
    col[positions] = scores  # a repeated docid: the last assignment wins, as in Pyserini's dict
    present = ~np.isnan(col)
    if present.any():
        lo, hi = float(col[present].min()), float(col[present].max())
    else:
        lo, hi = 0.0, 1.0
    col[~present] = lo
    if normalization:
        span = hi - lo
        if span > 0:
            col = (col - (lo + hi) / 2) / span
        else:
            col = np.zeros(n, dtype=np.float64)
    return col


def fuse_weighted(
    dense_ids: Sequence[str],
    dense_scores: Sequence[float],
    sparse_ids: Sequence[str],
    sparse_scores: Sequence[float],
    *,
    alpha: float = 0.1,
    k: int = 10,
    normalization: bool = False,
    weight_on_dense: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pyserini's hybrid fusion of one query's two lists; returns the top ``k`` (docids, scores)."""
    weights = (alpha, 1.0) if weight_on_dense else (1.0, alpha)
    return fuse_lists([(dense_ids, dense_scores), (sparse_ids, sparse_scores)], method="weighted",
                      weights=weights, k=k, normalization=normalization)


def fuse_rrf(
    dense_ids: Sequence[str],
    dense_scores: Sequence[float],
    sparse_ids: Sequence[str],
    sparse_scores: Sequence[float],
    *,
    k: int = 10,
    rrf_k: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal-rank fusion of one query's two lists (each taken in score order, ties by docid).

    >>> ids, scores = fuse_rrf(["a", "b"], [0.9, 0.8], ["b", "c"], [12.0, 10.0], k=3, rrf_k=60)
    >>> ids.tolist()
    ['b', 'a', 'c']
    """
    return fuse_lists([(dense_ids, dense_scores), (sparse_ids, sparse_scores)], method="rrf", k=k, rrf_k=rrf_k)


def fuse_lists(
    lists: Sequence[tuple[Sequence[str], Sequence[float]]],
    *,
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    k: int = 10,
    rrf_k: int = 60,
    normalization: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse one query's ranked lists ``[(docids, scores), ...]``; returns the top ``k``.

    ``method="weighted"``: ``sum_i weights[i] * score_i`` over the union of the lists, a document
    missing from list ``i`` taking that list's minimum (optionally min-max-centred per list, the
    same rules as :func:`fuse_weighted`).  ``method="rrf"``: ``sum_i weights[i] / (rrf_k + rank_i)``
    over the lists the document appears in.  ``weights`` default to 1 each.

    >>> ids, _ = fuse_lists([(["a", "b"], [0.9, 0.8]), (["b", "c"], [12.0, 10.0]), (["c"], [1.0])], k=3)
    >>> ids.tolist()
    ['b', 'c', 'a']
    """
    if method not in ("weighted", "rrf"):
        raise ValueError(f"unknown fusion method {method!r} (use 'weighted' or 'rrf')")
    if not lists:
        raise ValueError("nothing to fuse: no lists given")
    if weights is None:
        weights = [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"{len(weights)} weights for {len(lists)} lists")
    arrays = [_as_arrays(ids, scores) for ids, scores in lists]
    if not any(len(ids) for ids, _ in arrays):
        return np.empty(0, dtype=str), np.empty(0, dtype=np.float64)
    union, inverse = np.unique(np.concatenate([ids for ids, _ in arrays]), return_inverse=True)
    fused = np.zeros(len(union), dtype=np.float64)
    start = 0
    for (ids, scores), weight in zip(arrays, weights):
        pos = inverse[start:start + len(ids)]
        start += len(ids)
        if method == "weighted":
            fused += float(weight) * _side(scores, pos, len(union), normalization)
        elif len(pos):
            # rank within the list by its own scores (the input need not be sorted); a repeated
            # docid counts once, at its best rank
            order = np.lexsort((union[pos], -scores))
            contrib = np.zeros(len(union), dtype=np.float64)
            np.maximum.at(contrib, pos[order], 1.0 / (rrf_k + np.arange(1, len(order) + 1)))
            fused += float(weight) * contrib
    order = rank_order(union, fused, k)
    return union[order], fused[order]
