"""Dense + sparse hybrid search (Pyserini's ``HybridSearcher`` signatures, vectorised fusion).

Either side may be ours or Pyserini's: the dense side a :class:`~tctcb.search.DenseSearcher` or a
``pyserini.search.faiss.FaissSearcher``; the sparse side a :class:`~tctcb.search.Bm25Searcher`, a
``LuceneSearcher`` (BM25) or a ``LuceneImpactSearcher`` (learned impact weights) -- any searcher of the protocol
(:class:`~tctcb.search.Searcher`), Pyserini's through :func:`~tctcb.search.as_searcher`. When both sides have a
row table (``docids``: ours), fusion runs on integer rows.
The fusion rules (one hit, no hits, ties) are those of :mod:`tctcb.search._fusion`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from tctcb.search._fusion import fuse_rrf, fuse_weighted
from tctcb.search._hits import RankedLists, Searcher, SearchHit, as_searcher, hits_to_arrays, is_blank

__all__ = ["HybridSearcher", "RankedLists", "check_unique_ids"]


def check_unique_ids(q_ids: Sequence[str]) -> None:
    seen = set()
    for q in q_ids:
        if q in seen:
            raise ValueError(f"query id {q!r} is repeated: query ids must be unique")
        seen.add(q)


class HybridSearcher(Searcher):
    """Fuse a dense and a sparse searcher.

    ``fusion="weighted"`` (default) is Pyserini's formula; ``fusion="rrf"`` is reciprocal-rank
    fusion with constant ``rrf_k`` (``alpha``, ``normalization`` and ``weight_on_dense`` are then
    unused).  ``blank_queries`` counts empty or whitespace queries (answered with no hits).  ``k0``, ``alpha``,
    ``normalization`` and ``weight_on_dense`` given here are the defaults of :meth:`search` / :meth:`batch_search`
    (Pyserini's defaults otherwise), so a hybrid searcher also answers the plain protocol ``batch_search(queries,
    q_ids, k, threads)``.
    """

    def __init__(self, dense_searcher, sparse_searcher, *, fusion: str = "weighted", rrf_k: int = 60, k0: int = 10,
                 alpha: float = 0.1, normalization: bool = False, weight_on_dense: bool = False):
        if fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion must be 'weighted' or 'rrf', not {fusion!r}")
        self.dense_searcher = as_searcher(dense_searcher)
        self.sparse_searcher = as_searcher(sparse_searcher)
        self.fusion = fusion
        self.rrf_k = int(rrf_k)
        self.k0, self.alpha = int(k0), float(alpha)
        self.normalization, self.weight_on_dense = bool(normalization), bool(weight_on_dense)
        self.blank_queries = 0
        self._keys = None  # both sides with row tables: integer keys in docid order

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
        return self.dense_searcher.docids is not None and self.sparse_searcher.docids is not None

    # --- first stage --------------------------------------------------------------------
    def _lists(self, side: Searcher, keys, queries: list[str], q_ids: list[str], k0: int, threads: int) -> RankedLists:
        if keys is not None:
            return {qid: (keys[rows], scores) for qid, (rows, scores) in zip(q_ids, side.ranked_rows(queries, k0, threads))}
        return side.ranked_lists(queries, q_ids, k0, threads)

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
            _, d_key, s_key = self._key_space() if self._fast() else (None, None, None)
            dense.update(self._lists(self.dense_searcher, d_key, lq, lid, k0, threads))
            sparse.update(self._lists(self.sparse_searcher, s_key, lq, lid, k0, threads))
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

    # --- Pyserini's API (None: this searcher's defaults) ------------------------------------------
    def search(self, query: str, k0: int | None = None, k: int = 10, alpha: float | None = None,
               normalization: bool | None = None, weight_on_dense: bool | None = None) -> list[SearchHit]:
        return self.batch_search([query], ["q"], k0=k0, k=k, alpha=alpha, normalization=normalization,
                                 weight_on_dense=weight_on_dense)["q"]

    def batch_search(self, queries: Sequence[str], q_ids: Sequence[str], k0: int | None = None, k: int = 10,
                     threads: int = 1, alpha: float | None = None, normalization: bool | None = None,
                     weight_on_dense: bool | None = None) -> dict[str, list[SearchHit]]:
        pick = lambda given, default: default if given is None else given  # noqa: E731
        dense, sparse = self.first_stage(queries, q_ids, pick(k0, self.k0), threads)
        return self.fuse(dense, sparse, k, pick(alpha, self.alpha), pick(normalization, self.normalization),
                         pick(weight_on_dense, self.weight_on_dense))

    def ranked_lists(self, queries: Sequence[str], q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        """The protocol's arrays (so a hybrid searcher can itself stand on one side of another)."""
        return {qid: hits_to_arrays(hits) for qid, hits in self.batch_search(queries, q_ids, k=k, threads=threads).items()}
