"""Side-by-side setup of our searchers and Pyserini's on a collection (NFCorpus by default), for the equality
tests and the benchmark.

BM25: the Lucene index of ``tctcb.index.build_lucene_index(collection)`` (k1 0.9, b 0.4), searched
by Pyserini's ``LuceneSearcher`` on Pyserini's side and by our ``Bm25Searcher`` on ours.  Dense: zero-shot all-MiniLM-L6-v2 in sentence-transformers
format (the offline backbone), flat inner-product index built in the cache once; Pyserini's side
queries it with ``FaissSearcher`` + ``AutoQueryEncoder(pooling="mean", l2_norm=True)`` (what
Pyserini uses for sentence-transformers models), ours with :class:`DenseSearcher` +
``tctcb.encode.SentenceTransformerEncoder``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Setup", "minilm_dense_index", "build_setup", "ranking_problems"]


def minilm_dense_index(collection: str = "nfcorpus", progress: bool = False) -> Path:
    """Flat index of ``collection`` with the offline MiniLM (sentence-transformers pooling), in the cache."""
    from tctcb.data import cache_dir
    from tctcb.encode import encode_corpus
    from tctcb.index import build_faiss_index

    root = Path(cache_dir()) / "indexes"
    index_dir = root / f"faiss-flat.minilm-st.{collection}"
    if (index_dir / "meta.json").is_file():
        return index_dir
    emb = root / f".emb-minilm-st.{collection}"
    encode_corpus(emb, collection=collection, pooling="st", resume=emb.exists(), progress=progress)
    build_faiss_index(emb, index_dir, "flat", overwrite=True, progress=progress)
    return index_dir


@dataclass
class Setup:
    topics: dict
    encoder_dir: Path
    dense_index: Path
    sparse_index: Path
    py_dense: object
    py_sparse: object
    py_hybrid: object
    our_dense: object
    our_sparse: object
    our_hybrid: object


def build_setup(topics: str = "nfcorpus-test", collection: str = "nfcorpus", batch_size: int = 64) -> Setup:
    from tctcb import java
    from tctcb.data import get_topics
    from tctcb.encode import SentenceTransformerEncoder
    from tctcb.index import build_lucene_index
    from tctcb.models import default_backbone_dir
    from tctcb.search import Bm25Searcher, DenseSearcher, HybridSearcher

    encoder_dir = Path(default_backbone_dir())
    dense_index = minilm_dense_index(collection)
    sparse_index = build_lucene_index(collection)
    java.start()
    from pyserini.encode import AutoQueryEncoder
    from pyserini.search.faiss import FaissSearcher
    from pyserini.search.hybrid import HybridSearcher as PyHybridSearcher
    from pyserini.search.lucene import LuceneSearcher

    sparse = LuceneSearcher(str(sparse_index))
    sparse.set_bm25(0.9, 0.4)
    py_dense = FaissSearcher(str(dense_index), AutoQueryEncoder(str(encoder_dir), pooling="mean", l2_norm=True))
    our_dense = DenseSearcher(dense_index, SentenceTransformerEncoder(encoder_dir), batch_size=batch_size)
    our_sparse = Bm25Searcher(sparse_index, k1=0.9, b=0.4)
    return Setup(get_topics(topics), encoder_dir, dense_index, Path(sparse_index), py_dense, sparse,
                 PyHybridSearcher(py_dense, sparse), our_dense, our_sparse, HybridSearcher(our_dense, our_sparse))


def ranking_problems(got, want, tol: float = 1e-5) -> list[str]:
    """Differences between two hit lists beyond ties: [] when they are the same ranking.

    Position by position the scores must agree within ``tol`` (relative to max(1, |score|)); a
    different docid at a position is accepted when the two documents' scores are within ``tol`` of
    each other in both lists (a tie that the two sides ordered differently), or when the position
    lies in the tie group at the cut-off.
    """
    problems = []
    if len(got) != len(want):
        return [f"{len(got)} hits vs {len(want)}"]
    g_score = {h.docid: float(h.score) for h in got}
    w_score = {h.docid: float(h.score) for h in want}
    last_got = float(got[-1].score) if got else 0.0
    last_want = float(want[-1].score) if want else 0.0

    def close(a, b):
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))

    for i, (g, w) in enumerate(zip(got, want)):
        gs, ws = float(g.score), float(w.score)
        if not close(gs, ws):
            problems.append(f"rank {i + 1}: score {gs:.6f} vs {ws:.6f}")
        elif g.docid != w.docid:
            ok_w = close(g_score[w.docid], gs) if w.docid in g_score else close(ws, last_got)
            ok_g = close(w_score[g.docid], ws) if g.docid in w_score else close(gs, last_want)
            if not (ok_w and ok_g):
                problems.append(f"rank {i + 1}: {g.docid} ({gs:.6f}) vs {w.docid} ({ws:.6f})")
    return problems
