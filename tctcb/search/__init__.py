"""Search: :class:`DenseSearcher` (FAISS or exact torch), :class:`HybridSearcher` (dense + Lucene
BM25/impact fusion), fusion functions, MaxSim reranking, and the runner ``python -m tctcb.search``.

Importing this package starts no JVM and loads no model.
"""
from importlib import import_module

from tctcb.search._dense import DenseSearcher
from tctcb.search._fusion import fuse_lists, fuse_rrf, fuse_weighted, rank_order
from tctcb.search._hits import PyseriniSearcher, SearchError, Searcher, SearchHit, as_searcher
from tctcb.search._hybrid import HybridSearcher

__all__ = [
    "DenseSearcher", "HybridSearcher", "Searcher", "PyseriniSearcher", "as_searcher", "SearchHit", "SearchError", "fuse_weighted", "fuse_rrf", "fuse_lists", "rank_order", "TIE_TOLERANCE",
    "Bm25Searcher", "ImpactSearcher", "MaxSimReranker", "tune_alpha", "main",
]

_LAZY = {
    "Bm25Searcher": "._bm25",
    "ImpactSearcher": "._impact",
    "MaxSimReranker": "._rerank",
    "tune_alpha": "._tune",
    "TIE_TOLERANCE": "._tune",
    "main": "._cli",
}


def __getattr__(name):  # heavier parts load on first use
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
