"""Impact (SPLADE, uniCOIL) search in the searcher protocol: Pyserini's ``LuceneImpactSearcher`` with queries
encoded a batch at a time.

Pyserini's searcher asks its query encoder for one query at a time; :class:`ImpactSearcher` encodes each batch of
queries with the encoder's ``encode_batch`` first (one forward pass per batch, on any device) and answers those
single requests from it, so the hits are Pyserini's, from the same query weights (the encoders give equal weights
batched or alone).
"""
from __future__ import annotations

from typing import Sequence

from tctcb.search._hits import PyseriniSearcher, RankedLists, is_blank

__all__ = ["ImpactSearcher"]


class _BatchEncoded:
    """A query encoder answering ``encode(q)`` from the batch encoded last (``prepare``), else encoding ``q``."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.batch: dict[str, dict[str, int]] = {}

    def prepare(self, queries: Sequence[str]) -> None:
        unique = list(dict.fromkeys(queries))
        self.batch = dict(zip(unique, self.encoder.encode_batch(unique))) if unique else {}

    def encode(self, query: str, **kwargs) -> dict[str, int]:
        weights = self.batch.get(query)
        return weights if weights is not None else self.encoder.encode(query)


class ImpactSearcher(PyseriniSearcher):
    """Search a Lucene impact index with a query encoder that has ``encode_batch(texts) -> [{term: int}]``
    (:class:`tctcb.encode.SpladeEncoder`, :class:`tctcb.encode.UniCoilQueryEncoder`)."""

    def __init__(self, index_dir, query_encoder):
        from pyserini.search.lucene import LuceneImpactSearcher

        self.query_encoder = _BatchEncoded(query_encoder)
        super().__init__(LuceneImpactSearcher(str(index_dir), self.query_encoder))

    def ranked_lists(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        self.query_encoder.prepare([q for q in queries if not is_blank(q)])
        try:
            return super().ranked_lists(queries, q_ids, k, threads)
        finally:
            self.query_encoder.batch = {}
