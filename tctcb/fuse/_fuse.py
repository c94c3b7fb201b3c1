"""``fuse_runs``: several runs (``dict[qid, dict[docid, score]]``) into one, query by query."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tctcb.search import fuse_lists, rank_order

__all__ = ["fuse_runs", "fuse_prepared", "prepare_runs"]

Run = dict[str, dict[str, float]]


def _top(hits: Mapping[str, float], depth: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(list(hits.keys()), dtype=object).astype(str) if hits else np.empty(0, dtype=str)
    scores = np.fromiter((float(s) for s in hits.values()), dtype=np.float64, count=len(hits))
    order = rank_order(ids, scores, depth)
    return ids[order], scores[order]


def fuse_runs(
    runs: Sequence[Mapping[str, Mapping[str, float]]],
    *,
    method: str = "rrf",
    weights: Sequence[float] | None = None,
    depth: int = 1000,
    hits: int = 1000,
    rrf_k: int = 60,
    normalization: bool = False,
) -> Run:
    """Fuse ``runs`` query by query; each run's top ``depth`` hits go in, the top ``hits`` come out.

    Queries are those of any run, in order of first appearance; a query missing from a run gets an
    empty list from it (for ``weighted``, a constant that changes no order).  See
    :func:`tctcb.search.fuse_lists` for the scoring rules.
    """
    if len(runs) < 2:
        raise ValueError(f"fusion needs at least 2 runs, got {len(runs)}")
    if depth < 1 or hits < 1:
        raise ValueError(f"depth and hits must be >= 1 (got depth {depth}, hits {hits})")
    if rrf_k < 0:
        raise ValueError(f"rrf_k must be >= 0, got {rrf_k}")
    if weights is not None:
        if len(weights) != len(runs):
            raise ValueError(f"{len(weights)} weights for {len(runs)} runs")
        if not all(np.isfinite(float(w)) for w in weights):
            raise ValueError(f"weights must be finite numbers, got {list(weights)}")
    return fuse_prepared(prepare_runs(runs, depth), method=method, weights=weights, hits=hits, rrf_k=rrf_k,
                         normalization=normalization)


def prepare_runs(runs: Sequence[Mapping[str, Mapping[str, float]]], depth: int
                 ) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{qid: [each run's top depth (docids, scores)]}``: the ranked lists fusion reads, sorted once.

    Queries are those of any run, in order of first appearance; a query missing from a run gets an
    empty list from it.
    """
    qids = dict.fromkeys(q for run in runs for q in run)
    return {qid: [_top(run.get(qid, {}), depth) for run in runs] for qid in qids}


def fuse_prepared(prepared: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]], *, method: str = "rrf",
                  weights: Sequence[float] | None = None, hits: int = 1000, rrf_k: int = 60,
                  normalization: bool = False) -> Run:
    """Fuse the lists of :func:`prepare_runs` query by query (the loop of :func:`fuse_runs`)."""
    out: Run = {}
    for qid, lists in prepared.items():
        ids, scores = fuse_lists(lists, method=method, weights=weights, k=hits, rrf_k=rrf_k,
                                 normalization=normalization)
        out[qid] = {str(d): float(s) for d, s in zip(ids, scores)}
    return out
