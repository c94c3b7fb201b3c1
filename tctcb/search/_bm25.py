"""BM25 in the searcher protocol: :class:`Bm25Searcher` is :class:`tctcb.index.LuceneBm25` (the one BM25 search,
identical to Pyserini's ``LuceneSearcher``, faster) with Pyserini's method signatures and :class:`SearchHit` lists."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tctcb.index import IndexingError, LuceneBm25
from tctcb.search._hits import RankedLists, SearchError, Searcher, is_blank

__all__ = ["Bm25Searcher"]


class Bm25Searcher(LuceneBm25, Searcher):
    """BM25 search of a Lucene index (``k1``, ``b`` as Pyserini's ``set_bm25``); Pyserini's signatures."""

    def __init__(self, index_dir, k1: float = 0.9, b: float = 0.4):
        try:
            super().__init__(index_dir, k1=k1, b=b)
        except IndexingError as e:
            raise SearchError(str(e)) from None
        self.blank_queries = 0

    def ranked_rows(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
        self.blank_queries += sum(1 for q in queries if is_blank(q))
        return [self.search_rows(q, k) for q in queries]

    def ranked_lists(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        self.blank_queries += sum(1 for q in queries if is_blank(q))
        return {qid: self.search_arrays(q, k) for q, qid in zip(queries, q_ids)}
