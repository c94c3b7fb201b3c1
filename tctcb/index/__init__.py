"""Indexes: Lucene (BM25, through Pyserini's Anserini) and FAISS (dense).

Importing this package starts nothing; the JVM starts on the first Lucene call, and the FAISS side
(``build_faiss_index``, ``FaissIndexError``, ``INDEX_TYPES``) loads on first use.
"""
from tctcb.index._bm25 import LuceneBm25, adjust_ties, bm25_run, is_blank
from tctcb.index._lucene import IndexingError, build_lucene_index, count_lucene_docs, lucene_index_dir
from tctcb.index._exact import ExactTopK
from tctcb.index._impact import build_impact_index

__all__ = ["ExactTopK", "LuceneBm25", "adjust_ties", "is_blank", "build_impact_index", "IndexingError", "bm25_run", "build_lucene_index", "count_lucene_docs", "lucene_index_dir",
           "FaissIndexError", "INDEX_TYPES", "build_faiss_index"]

_FAISS_NAMES = {"FaissIndexError", "INDEX_TYPES", "build_faiss_index"}



def __getattr__(name):
    if name in _FAISS_NAMES:
        from tctcb.index import _faiss

        return getattr(_faiss, name)
    raise AttributeError(f"module 'tctcb.index' has no attribute {name!r}")
