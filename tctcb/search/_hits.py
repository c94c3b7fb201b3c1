"""The searcher protocol shared by every searcher of tctcb (dense, BM25, impact, hybrid), its result type, and the
adapter that lets Pyserini's own searchers stand in the same place."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tctcb._command import UserError
from tctcb.index import is_blank  # one rule for every searcher, BM25's included

__all__ = ["SearchHit", "SearchError", "Searcher", "PyseriniSearcher", "as_searcher", "hits_to_arrays", "is_blank",
           "RankedLists"]


@dataclass(slots=True)
class SearchHit:
    """One retrieved document (same fields as Pyserini's ``DenseSearchResult``)."""

    docid: str
    score: float


class SearchError(UserError, ValueError):
    """Bad input to a searcher (index/encoder mismatch, broken index directory, ...)."""


def hits_to_arrays(hits) -> tuple[np.ndarray, np.ndarray]:
    """(docids, scores) arrays from a list of hits of any searcher (ours, Pyserini's, Lucene's Java hits)."""
    if not hits:
        return np.empty(0, dtype=str), np.empty(0, dtype=np.float64)
    ids = [h.docid for h in hits]
    scores = [h.score for h in hits]
    return np.asarray(ids, dtype=str), np.asarray(scores, dtype=np.float64)




# each query's hit list as arrays: {qid: (docids, scores)}, best first
RankedLists = dict[str, tuple[np.ndarray, np.ndarray]]


class Searcher:
    """The protocol: ``search(q, k) -> list[SearchHit]`` and ``batch_search(queries, q_ids, k, threads) ->
    {qid: [SearchHit]}`` (Pyserini's signatures), built on one method a searcher implements:
    ``ranked_lists(queries, q_ids, k, threads) -> {qid: (docids, scores)}``.

    A searcher whose hits are rows of one fixed table also sets ``docids`` (row -> docid) and implements
    ``ranked_rows(queries, k, threads) -> [(rows, scores)]``: fusion then works on integer rows, not strings.
    ``blank_queries`` counts empty or whitespace-only queries, answered with no hits.
    """

    docids: Sequence[str] | None = None
    blank_queries: int = 0

    def ranked_lists(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        raise NotImplementedError

    def ranked_rows(self, queries: Sequence[str], k: int = 10, threads: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError(f"{type(self).__name__} has no row table (docids is None)")

    def batch_search(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10,
                     threads: int = 1) -> dict[str, list[SearchHit]]:
        if len(queries) != len(q_ids):
            raise ValueError(f"{len(queries)} queries but {len(q_ids)} query ids")
        lists = self.ranked_lists(list(queries), list(q_ids), k, threads)
        return {qid: [SearchHit(d, float(s)) for d, s in zip(ids.tolist(), scores.tolist())]
                for qid, (ids, scores) in lists.items()}

    def search(self, q: str, k: int = 10) -> list[SearchHit]:
        return self.batch_search([q], ["q"], k)["q"]


class PyseriniSearcher(Searcher):
    """A Pyserini searcher (``LuceneSearcher``, ``LuceneImpactSearcher``, ``FaissSearcher``, ...) in the protocol:
    hits become :class:`SearchHit`, blank queries are answered with no hits without reaching it."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.blank_queries = 0

    def ranked_lists(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        live = [(q, i) for q, i in zip(queries, q_ids) if not is_blank(q)]
        self.blank_queries += len(queries) - len(live)
        res = self.searcher.batch_search([q for q, _ in live], [i for _, i in live], k, threads) if live else {}
        return {i: hits_to_arrays(res.get(i, [])) for i in q_ids}

    def __getattr__(self, name):  # everything else is the wrapped searcher's (num_docs, close, ...)
        if name == "searcher":
            raise AttributeError(name)
        return getattr(self.searcher, name)


def as_searcher(searcher) -> Searcher:
    """``searcher`` itself when it is one of ours, else wrapped in :class:`PyseriniSearcher`."""
    return searcher if isinstance(searcher, Searcher) else PyseriniSearcher(searcher)
