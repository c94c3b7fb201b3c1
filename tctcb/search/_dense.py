"""Dense retrieval over a FAISS index directory (Pyserini's layout: ``index``, ``docid``, ``meta.json``).

:class:`DenseSearcher` has the method signatures of Pyserini's ``FaissSearcher`` (``search(q, k)``,
``batch_search(queries, q_ids, k, threads)``) and differs where Pyserini is slow or silent:

- queries are encoded in batches through the encoder's ``encode_batch`` when it has one;
- a dimension mismatch between encoder and index, or a ``docid`` file whose line count differs
  from the index's vector count, raises :class:`SearchError` naming both numbers;
- an empty or whitespace-only query returns no hits (and is counted in ``blank_queries``);
- ``backend="torch"`` searches exactly with a matrix product and top-k over shards of the vectors
  in torch, on any device (on a CUDA machine: no faiss-gpu needed).  It is the default when
  ``device`` is a CUDA device and the index stores exact vectors (flat or HNSW-flat).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from tctcb.index import ExactTopK
from tctcb.search._hits import RankedLists, SearchError, Searcher, SearchHit, is_blank

__all__ = ["DenseSearcher", "load_docids"]


def load_docids(path: Path) -> list[str]:
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise SearchError(f"{path}: not UTF-8 text (byte {e.start}): not a docid file") from None
    return text.splitlines()


class DenseSearcher(Searcher):
    """Search a FAISS index directory with a query encoder (anything with ``.encode(q) -> np.ndarray``).

    Parameters
    ----------
    index_dir : directory with ``index`` (faiss) and ``docid`` (one id per line), optionally ``meta.json``.
    query_encoder : object with ``encode(query) -> np.ndarray`` and optionally ``encode_batch(queries)``.
    device : ``"cpu"`` or ``"cuda[:N]"``; decides the default backend.
    backend : ``"faiss"`` or ``"torch"`` (exact search in torch); default torch on CUDA, else faiss.
    ef_search : HNSW search depth (only for HNSW indexes).
    batch_size : queries per ``encode_batch`` call (encoders with ``plans_batches`` get all at once).
    """

    def __init__(self, index_dir, query_encoder, *, device: str = "cpu", backend: str | None = None,
                 ef_search: int | None = None, batch_size: int = 64):
        import faiss

        self.index_dir = Path(index_dir)
        self.query_encoder = query_encoder
        self.batch_size = int(batch_size)
        self.blank_queries = 0
        index_path, docid_path = self.index_dir / "index", self.index_dir / "docid"
        for p in (index_path, docid_path):
            if not p.is_file():
                raise SearchError(f"{self.index_dir} is not a dense index directory: {p.name} is missing "
                                  "(expected files: index, docid, meta.json)")
        try:
            self.index = faiss.read_index(str(index_path))
        except RuntimeError as e:  # faiss: truncated, or not an index at all
            raise SearchError(f"{index_path}: not a readable FAISS index (truncated or another format?): "
                              f"{str(e).strip().splitlines()[-1][:200]}") from None
        self.docids = load_docids(docid_path)
        self.dimension = int(self.index.d)
        self.num_docs = int(self.index.ntotal)
        if len(self.docids) != self.num_docs:
            raise SearchError(f"{docid_path} lists {len(self.docids)} docids but {index_path} holds "
                              f"{self.num_docs} vectors: the index directory is incomplete or mismatched")
        self._docid_array = np.asarray(self.docids, dtype=object)
        meta_path = self.index_dir / "meta.json"
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise SearchError(f"{meta_path}: not readable JSON ({e})") from None
        if "dimension" in self.meta and int(self.meta["dimension"]) != self.dimension:
            raise SearchError(f"{meta_path} says dimension {self.meta['dimension']} but {index_path} "
                              f"holds {self.dimension}-dimensional vectors")
        self.metric_ip = int(self.index.metric_type) == faiss.METRIC_INNER_PRODUCT
        if ef_search is not None:
            self.set_hnsw_ef_search(ef_search)
        if backend is None:
            backend = "torch" if str(device).startswith("cuda") and self._exact_vectors() else "faiss"
        if backend not in ("faiss", "torch"):
            raise ValueError(f"backend must be 'faiss' or 'torch', not {backend!r}")
        self.backend, self.device = backend, str(device)
        self._torch = None
        if backend == "torch":
            if not self._exact_vectors():
                raise SearchError(f"{index_path} is a {type(self.index).__name__}: the torch backend needs "
                                  "an index that stores exact vectors (flat or HNSW-flat)")
            vectors = self.index.reconstruct_n(0, self.num_docs) if self.num_docs else np.zeros((0, self.dimension))
            self._torch = ExactTopK(vectors, self.metric_ip, self.device)

    # --- index properties -------------------------------------------------------------------
    def _exact_vectors(self) -> bool:
        import faiss

        return isinstance(self.index, (faiss.IndexFlat, faiss.IndexHNSWFlat))

    def set_hnsw_ef_search(self, ef_search: int) -> None:
        if not hasattr(self.index, "hnsw"):
            raise SearchError(f"ef_search applies to HNSW indexes; {self.index_dir / 'index'} is a "
                              f"{type(self.index).__name__}")
        self.index.hnsw.efSearch = int(ef_search)

    # --- encoding -------------------------------------------------------------------------
    def _check_dim(self, m: int) -> None:
        if m != self.dimension:
            raise SearchError(f"the query encoder produces {m}-dimensional vectors but the index "
                              f"{self.index_dir} holds {self.dimension}-dimensional vectors")

    def encode(self, queries: Sequence[str]) -> np.ndarray:
        """Encode text queries to a float32 matrix (n, dimension), in batches when the encoder can."""
        if not len(queries):
            return np.zeros((0, self.dimension), dtype=np.float32)
        enc = self.query_encoder
        if hasattr(enc, "encode_batch"):
            # our encoders sort by length and batch by budget themselves: give them every query at once
            step = len(queries) if getattr(enc, "plans_batches", False) else self.batch_size
            parts = [np.asarray(enc.encode_batch(list(queries[i:i + step])))
                     for i in range(0, len(queries), step)]
            parts = [p.reshape(-1, p.shape[-1]) for p in parts]
        else:
            parts = [np.asarray(enc.encode(q)).reshape(1, -1) for q in queries]
        self._check_dim(int(parts[0].shape[-1]))
        out = np.concatenate(parts).astype(np.float32, copy=False)
        if out.shape[0] != len(queries):
            raise SearchError(f"the query encoder returned {out.shape[0]} vectors for {len(queries)} queries")
        return out

    # --- search ---------------------------------------------------------------------------
    def search_vectors(self, q_embs: np.ndarray, k: int = 10, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Raw search of a (n, d) query matrix: (scores, row indices), -1 where fewer than k exist."""
        q_embs = np.asarray(q_embs, dtype=np.float32)
        if q_embs.ndim == 1:
            q_embs = q_embs.reshape(1, -1)
        self._check_dim(q_embs.shape[1])
        if len(q_embs) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        if self._torch is not None:
            return self._torch.search(q_embs, k)
        import faiss

        faiss.omp_set_num_threads(max(1, int(threads)))
        return self.index.search(np.ascontiguousarray(q_embs), k)

    def _hits(self, scores: np.ndarray, rows: np.ndarray) -> list[SearchHit]:
        keep = rows >= 0
        ids = self._docid_array[rows[keep]].tolist()
        return [SearchHit(d, s) for d, s in zip(ids, scores[keep].astype(np.float64).tolist())]

    def search(self, query, k: int = 10, threads: int = 1) -> list[SearchHit]:
        """Top ``k`` hits for one query (text, or an embedding vector)."""
        if is_blank(query):
            self.blank_queries += 1
            return []
        emb = self.encode([query]) if isinstance(query, str) else np.asarray(query, dtype=np.float32).reshape(1, -1)
        D, I = self.search_vectors(emb, k, threads)
        return self._hits(D[0], I[0])

    def batch_search_arrays(self, queries, k: int = 10, threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, rows, blank mask) for a list of text queries (or a query matrix); blank queries get rows -1."""
        if isinstance(queries, np.ndarray):
            D, I = self.search_vectors(queries, k, threads)
            return D, I, np.zeros(len(queries), dtype=bool)
        blank = np.array([is_blank(q) for q in queries], dtype=bool)
        self.blank_queries += int(blank.sum())
        live = [q for q, b in zip(queries, blank) if not b]
        D = np.full((len(queries), k), -np.inf, dtype=np.float32)
        I = np.full((len(queries), k), -1, dtype=np.int64)
        if live:
            d, i = self.search_vectors(self.encode(live), k, threads)
            D[~blank], I[~blank] = d, i
        return D, I, blank

    def batch_search(self, queries, q_ids: Sequence[str], k: int = 10, threads: int = 1) -> dict[str, list[SearchHit]]:
        """Search many queries at once: ``{qid: [hits]}`` (Pyserini's ``FaissSearcher.batch_search``)."""
        if len(queries) != len(q_ids):
            raise ValueError(f"{len(queries)} queries but {len(q_ids)} query ids")
        D, I, _ = self.batch_search_arrays(queries, k, threads)
        return {qid: self._hits(d, i) for qid, d, i in zip(q_ids, D, I)}

    def ranked_rows(self, queries, k: int = 10, threads: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
        D, I, _ = self.batch_search_arrays(queries, k, threads)
        return [(i[i >= 0], d[i >= 0].astype(np.float64)) for d, i in zip(D, I)]

    def ranked_lists(self, queries, q_ids: Sequence[str], k: int = 10, threads: int = 1) -> RankedLists:
        return {qid: (self.docid_of(rows).astype(str), scores)
                for qid, (rows, scores) in zip(q_ids, self.ranked_rows(queries, k, threads))}

    def docid_of(self, rows: np.ndarray) -> np.ndarray:
        return self._docid_array[rows]

    def __repr__(self) -> str:
        return (f"DenseSearcher({str(self.index_dir)!r}, {type(self.query_encoder).__name__}, "
                f"backend={self.backend!r}, docs={self.num_docs}, dim={self.dimension})")

