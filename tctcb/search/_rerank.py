"""MaxSim reranking of a first-stage ranking with the ColBERT teacher (``tctcb.models.ColBERT``).

The top ``depth`` hits of each query are rescored by MaxSim and sorted (score descending, then
docid); hits below ``depth`` keep their first-stage order after them, with scores set strictly
below the lowest reranked score (``min - 1 - i`` for the ``i``-th of them) so that any tool that
sorts by score keeps the same order.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tctcb.search._hits import SearchHit

__all__ = ["MaxSimReranker"]


class MaxSimReranker:
    """Rerank with a ColBERT model (a directory for ``ColBERT.from_pretrained`` or a loaded model).

    ``docs`` maps docid -> passage text (what the teacher reads); a docid it lacks raises KeyError
    naming it.
    """

    def __init__(self, model, docs: Mapping[str, str], depth: int = 100, batch_size: int = 32,
                 device: str = "cpu", cache_size: int = 8192):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from tctcb.models import ColBERT

            model = ColBERT.from_pretrained(model, device=device)
        self.model = model
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.docs = docs
        self.depth = int(depth)
        self.batch_size = int(batch_size)
        if self.depth < 1:
            raise ValueError(f"rerank depth must be >= 1, got {depth}")
        # Passage token vectors (only the matchable tokens) of the last ``cache_size`` passages, least
        # recently used dropped first: queries of one topic set share many candidates, and encoding
        # passages is the whole cost of reranking (NFCorpus test: 32,300 pairs, ~3,000 distinct passages).
        from tctcb.models import PassageVectorCache

        self.cache_size = int(cache_size)
        self._cache = PassageVectorCache(self.model, max_items=self.cache_size, batch_size=self.batch_size)

    @property
    def encoded(self) -> int:
        """Passages encoded so far (cache misses)."""
        return self._cache.misses

    def _passage_vectors(self, docids: Sequence[str]) -> list:
        """Matchable token vectors [n_i, dim] for each docid, encoding only the ones not cached."""
        return self._cache.get(docids, [self.docs[d] for d in docids])

    def scores(self, query: str, docids: Sequence[str]) -> np.ndarray:
        """MaxSim of ``query`` against each docid's passage."""
        import torch

        missing = [d for d in docids if d not in self.docs]
        if missing:
            raise KeyError(f"no passage text for docid {missing[0]!r} ({len(missing)} missing): "
                           "is the collection the one the index was built from?")
        if not len(docids):
            return np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            return self.model.maxsim_scores(query, self._passage_vectors(docids)).cpu().numpy()

    def rerank(self, query: str, hits: Sequence) -> list[SearchHit]:
        """One query's hits (any objects with ``.docid``/``.score``), reranked to ``depth``."""
        if not hits:
            return []
        head, tail = list(hits[: self.depth]), list(hits[self.depth:])
        ids = np.asarray([h.docid for h in head], dtype=str)
        s = self.scores(query, ids.tolist()).astype(np.float64)
        order = np.lexsort((ids, -s))
        out = [SearchHit(str(ids[i]), float(s[i])) for i in order]
        low = float(s.min())
        out.extend(SearchHit(str(h.docid), low - 1.0 - i) for i, h in enumerate(tail))
        return out

    def rerank_all(self, queries: Mapping[str, str], results: Mapping[str, Sequence], progress=None) -> dict[str, list[SearchHit]]:
        """``{qid: hits}`` reranked; ``queries`` maps qid -> text."""
        out = {}
        for qid, hits in results.items():
            out[qid] = self.rerank(queries[qid], hits)
            if progress is not None:
                progress.update(1)
        return out
