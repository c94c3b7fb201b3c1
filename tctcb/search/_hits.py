"""The result type shared by our searchers, and helpers to read hits from any searcher."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tctcb._command import UserError

__all__ = ["SearchHit", "SearchError", "hits_to_arrays", "is_blank"]


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


def is_blank(query) -> bool:
    """An empty or whitespace-only text query (searched as no hits)."""
    return isinstance(query, str) and not query.strip()
