"""Choose the hybrid weight ``alpha`` on a dev topic set (grid search; first-stage lists computed once)."""
from __future__ import annotations

from typing import Mapping, Sequence

__all__ = ["DEFAULT_ALPHA_GRID", "DEFAULT_ALPHA_GRID_NORMALISED", "TIE_TOLERANCE", "tune_alpha", "to_run"]

# dev scores closer than this are ties (first alpha of the grid wins): see tune_alpha
TIE_TOLERANCE = 1e-4

# BM25 scores are ~10x cosine similarities: alpha * bm25 + dense wants small alphas ...
DEFAULT_ALPHA_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)
# ... while normalised sides are on the same scale.
DEFAULT_ALPHA_GRID_NORMALISED = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0)


def to_run(results: Mapping[str, Sequence]) -> dict[str, dict[str, float]]:
    """``{qid: [hits]}`` -> ``{qid: {docid: score}}`` (the run form tctcb.eval reads and writes)."""
    return {qid: {h.docid: float(h.score) for h in hits} for qid, hits in results.items()}


def tune_alpha(hybrid, topics: Mapping[str, str], qrels, *, grid: Sequence[float] | None = None, k0: int = 1000,
               k: int = 1000, normalization: bool = False, weight_on_dense: bool = False,
               metric: str = "nDCG@10", threads: int = 1,
               tie_tolerance: float = TIE_TOLERANCE) -> tuple[float, list[tuple[float, float]]]:
    """Best ``alpha`` on ``topics``/``qrels`` by ``metric``; returns (alpha, [(alpha, value), ...]).

    Values within ``tie_tolerance`` of the best are ties, and ties go to the first alpha of the grid (the
    grid is searched in order).  The default 1e-4 is below the four decimals every report shows; without
    it, two alphas 0.00004 apart on dev (NFCorpus: 0.06 and 0.1 for the zero-shot hybrid) swap places with
    the float rounding of different CPUs and the test score moves by 0.001.
    """
    from tctcb.eval import evaluate

    if grid is None:
        grid = DEFAULT_ALPHA_GRID_NORMALISED if normalization else DEFAULT_ALPHA_GRID
    if not len(grid):
        raise ValueError("empty alpha grid")
    qids = list(topics)
    dense, sparse = hybrid.first_stage([topics[q] for q in qids], qids, k0, threads)
    table = []
    for alpha in grid:
        res = hybrid.fuse(dense, sparse, k, float(alpha), normalization, weight_on_dense)
        run = {q: v for q, v in to_run(res).items() if v}
        value = evaluate(run, qrels, [metric])[metric]
        table.append((float(alpha), value))
    top = max(v for _, v in table)
    best = next(a for a, v in table if v >= top - tie_tolerance)
    return best, table
