"""Dense + sparse hybrid search (Pyserini's ``HybridSearcher`` signatures, vectorised fusion).

Either side may be ours or Pyserini's: the dense side a :class:`~tctcb.search.DenseSearcher` or a
``pyserini.search.faiss.FaissSearcher``; the sparse side a ``LuceneSearcher`` (BM25) or a
``LuceneImpactSearcher`` (learned impact weights) -- anything with ``search(q, k)`` and
``batch_search(queries, qids, k, threads)`` returning hits with ``.docid`` and ``.score``.
The fusion rules (one hit, no hits, ties) are those of :mod:`tctcb.search._fusion`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tctcb.search._fusion import fuse_rrf, fuse_weighted
from tctcb.search._hits import SearchHit, hits_to_arrays, is_blank

__all__ = ["HybridSearcher", "RankedLists", "check_unique_ids"]

# one query's hit list as arrays: (docids, scores)
RankedLists = dict[str, tuple[np.ndarray, np.ndarray]]


def check_unique_ids(q_ids: Sequence[str]) -> None:
    seen = set()
    for q in q_ids:
        if q in seen:
            raise ValueError(f"query id {q!r} is repeated: query ids must be unique")
        seen.add(q)


class HybridSearcher:
    """Fuse a dense and a sparse searcher.

    ``fusion="weighted"`` (default) is Pyserini's formula; ``fusion="rrf"`` is reciprocal-rank
    fusion with constant ``rrf_k`` (``alpha``, ``normalization`` and ``weight_on_dense`` are then
    unused).  ``blank_queries`` counts empty or whitespace queries (answered with no hits).
    """

    def __init__(self, dense_searcher, sparse_searcher, *, fusion: str = "weighted", rrf_k: int = 60):
        if fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion must be 'weighted' or 'rrf', not {fusion!r}")
        self.dense_searcher = dense_searcher
        self.sparse_searcher = sparse_searcher
        self.fusion = fusion
        self.rrf_k = int(rrf_k)
        self.blank_queries = 0
        self._keys = None  # fast path (our DenseSearcher + our Bm25Searcher): integer keys in docid order

    def _key_space(self):
        """Sorted union of both sides' docids and each side's row -> key map, built once.

        Keys sort like the docids, so fusing integer keys gives the same order (ties by docid) as
        fusing the docid strings, without string work per query."""
        if self._keys is None:
            d_ids = np.asarray(self.dense_searcher.docids, dtype=object).astype(str)
            s_ids = np.asarray(self.sparse_searcher.docids, dtype=object).astype(str)
            all_ids = np.unique(np.concatenate([d_ids, s_ids]))
            self._keys = (all_ids, np.searchsorted(all_ids, d_ids), np.searchsorted(all_ids, s_ids))
        return self._keys

    def _fast(self) -> bool:
        return hasattr(self.dense_searcher, "batch_search_arrays") and hasattr(self.sparse_searcher, "search_rows")

    # --- first stage --------------------------------------------------------------------
    def _dense_lists(self, queries: list[str], q_ids: list[str], k0: int, threads: int) -> RankedLists:
        ds = self.dense_searcher
        if self._fast():
            _, d_key, _ = self._key_space()
            D, I, _ = ds.batch_search_arrays(queries, k0, threads)
            return {qid: (d_key[i[i >= 0]], d[i >= 0].astype(np.float64)) for qid, d, i in zip(q_ids, D, I)}
        if hasattr(ds, "batch_search_arrays"):  # ours: skip building hit objects
            D, I, _ = ds.batch_search_arrays(queries, k0, threads)
            out = {}
            for qid, d, i in zip(q_ids, D, I):
                keep = i >= 0
                out[qid] = (ds.docid_of(i[keep]).astype(str), d[keep].astype(np.float64))
            return out
        res = ds.batch_search(queries, q_ids, k0, threads)
        return {qid: hits_to_arrays(res.get(qid, [])) for qid in q_ids}

    def _sparse_lists(self, queries: list[str], q_ids: list[str], k0: int, threads: int) -> RankedLists:
        if self._fast():
            _, _, s_key = self._key_space()
            out = {}
            for q, qid in zip(queries, q_ids):
                rows, scores = self.sparse_searcher.search_rows(q, k0)
                out[qid] = (s_key[rows], scores)
            return out
        if hasattr(self.sparse_searcher, "batch_search_lists"):  # our Bm25Searcher: arrays directly
            return self.sparse_searcher.batch_search_lists(queries, q_ids, k0, threads)
        res = self.sparse_searcher.batch_search(queries, q_ids, k0, threads)
        return {qid: hits_to_arrays(res.get(qid, []) if hasattr(res, "get") else res[qid]) for qid in q_ids}

    def first_stage(self, queries: Sequence[str], q_ids: Sequence[str], k0: int = 10,
                    threads: int = 1) -> tuple[RankedLists, RankedLists]:
        """Each side's top ``k0`` per query, as arrays (blank queries: empty on both sides)."""
        queries, q_ids = list(queries), list(q_ids)
        if len(queries) != len(q_ids):
            raise ValueError(f"{len(queries)} queries but {len(q_ids)} query ids")
        check_unique_ids(q_ids)
        live = [n for n, q in enumerate(queries) if not is_blank(q)]
        self.blank_queries += len(queries) - len(live)
        lq, lid = [queries[n] for n in live], [q_ids[n] for n in live]
        empty = (np.empty(0, dtype=str), np.empty(0, dtype=np.float64))
        if self._fast():
            empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
        dense = {q: empty for q in q_ids}
        sparse = {q: empty for q in q_ids}
        if lq:
            dense.update(self._dense_lists(lq, lid, k0, threads))
            sparse.update(self._sparse_lists(lq, lid, k0, threads))
        return dense, sparse

    # --- fusion ---------------------------------------------------------------------------
    def fuse(self, dense: RankedLists, sparse: RankedLists, k: int = 10, alpha: float = 0.1, normalization: bool = False,
             weight_on_dense: bool = False) -> dict[str, list[SearchHit]]:
        out = {}
        for qid, (d_ids, d_scores) in dense.items():
            s_ids, s_scores = sparse[qid]
            if self.fusion == "rrf":
                ids, scores = fuse_rrf(d_ids, d_scores, s_ids, s_scores, k=k, rrf_k=self.rrf_k)
            else:
                ids, scores = fuse_weighted(d_ids, d_scores, s_ids, s_scores, alpha=alpha, k=k,
                                            normalization=normalization, weight_on_dense=weight_on_dense)
            if ids.dtype.kind in "iu":  # integer keys (fast path): back to docids
                ids = self._key_space()[0][ids]
            out[qid] = [SearchHit(d, s) for d, s in zip(ids.tolist(), scores.tolist())]
        return out

    # --- Pyserini's API ---------------------------------------------------------------------
    def search(self, query: str, k0: int = 10, k: int = 10, alpha: float = 0.1, normalization: bool = False,
               weight_on_dense: bool = False) -> list[SearchHit]:
        if is_blank(query):
            self.blank_queries += 1
            return []
        dense = {"q": hits_to_arrays(self.dense_searcher.search(query, k0))}
        sparse = {"q": hits_to_arrays(self.sparse_searcher.search(query, k0))}
        return self.fuse(dense, sparse, k, alpha, normalization, weight_on_dense)["q"]

    def batch_search(self, queries: Sequence[str], q_ids: Sequence[str], k0: int = 10, k: int = 10,
                     threads: int = 1, alpha: float = 0.1, normalization: bool = False,
                     weight_on_dense: bool = False) -> dict[str, list[SearchHit]]:
        dense, sparse = self.first_stage(queries, q_ids, k0, threads)
        return self.fuse(dense, sparse, k, alpha, normalization, weight_on_dense)
