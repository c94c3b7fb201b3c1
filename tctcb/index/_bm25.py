"""BM25 over a Lucene index, returning exactly what Pyserini's ``LuceneSearcher`` returns, faster: the one BM25
search of tctcb (``tctcb.search.Bm25Searcher`` wraps it in the searcher protocol; :func:`bm25_run`, which mines
training negatives and writes BM25 runs, calls it).

Pyserini's ``LuceneSearcher.search`` (Anserini's ``SimpleSearcher``) loads every hit's stored
document (with its raw text) just to read the collection docid, and wraps each hit in a Java object:
on NFCorpus with 1,000 hits that costs most of the search time.  :class:`LuceneBm25` runs the same
Lucene query (Anserini's bag-of-words query with the searcher's own analyzer and BM25 similarity,
sorted by score then docid as Anserini sorts) and maps Lucene's internal ids to docids through a
table read once.  Scores then go through Anserini's ``ScoreTiesAdjusterReranker`` rule, restated
in :func:`adjust_ties` (round to 1e-4, subtract 1e-6 per tie), so the hit lists are
identical to Pyserini's (checked in tests/test_search_bm25.py and integrations/).
Anserini's own ``SimpleSearcher.batch_search`` (which tctcb called before) gives the same lists; it is slower.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from tctcb.index._lucene import IndexingError

__all__ = ["LuceneBm25", "adjust_ties", "adjust_ties_reference", "bm25_run", "is_blank"]

_F = np.float32


def _round_scores(scores: Sequence[float]) -> np.ndarray:
    # Anserini 1.x: scores rounded in double precision, (float) (Math.round(score * 1e4) / 1e4)
    # (Math.round(double) = floor(x + 0.5)); checked against Pyserini on NFCorpus, where 1.53195f
    # becomes 1.5319 (float arithmetic would give 1.532).
    s = np.asarray(scores, dtype=_F).reshape(-1)
    return (np.floor(s.astype(np.float64) * 1e4 + 0.5) / 1e4).astype(_F)


_THR = _F(1e-4)
_EPS = _F(1e-6)


def adjust_ties_reference(scores: Sequence[float]) -> np.ndarray:
    """:func:`adjust_ties` as Anserini writes it: one pass, a document at a time (the test oracle)."""
    out = _round_scores(scores)
    dup = 0
    for i in range(1, len(out)):
        if _F(out[i - 1] - out[i]) > _THR:  # out[i - 1] already adjusted, out[i] still rounded
            dup = 0
        else:
            dup += 1
            out[i] = _F(out[i] - _F(_EPS * _F(dup)))
    return out


def adjust_ties(scores: Sequence[float], max_rounds: int = 4) -> np.ndarray:
    """Anserini's ScoreTiesAdjusterReranker on a score-sorted list (Java's float/double arithmetic).

    Vectorised: guess where the tie runs restart, compute the whole list from the guess, and check
    the guess against the list it produced.  A guess that reproduces itself at every position is
    the sequential result (by induction over positions); otherwise the new restarts are the next
    guess, and after ``max_rounds`` the one-pass loop decides.

    >>> adjust_ties([23.439316, 22.087432, 22.087432, 21.602508]).tolist()  # doctest: +ELLIPSIS
    [23.43..., 22.087..., 22.087..., 21.60...]
    """
    r = _round_scores(scores)
    n = len(r)
    if n < 2:
        return r
    pos = np.arange(n)
    restart = np.empty(n, dtype=bool)
    restart[0] = True
    restart[1:] = (r[:-1] - r[1:]) > _THR
    for _ in range(max_rounds):
        dup = (pos - np.maximum.accumulate(np.where(restart, pos, 0))).astype(_F)
        out = np.where(restart, r, r - _EPS * dup)
        again = np.empty(n, dtype=bool)
        again[0] = True
        again[1:] = (out[:-1] - r[1:]) > _THR
        if np.array_equal(again, restart):
            return out
        restart = again
    return adjust_ties_reference(scores)


def is_blank(query) -> bool:
    """An empty or whitespace-only text query (searched as no hits, by every searcher of tctcb)."""
    return isinstance(query, str) and not query.strip()


class LuceneBm25:
    """BM25 search of a Lucene index (``k1``, ``b`` as Pyserini's ``set_bm25``): docids and scores as arrays.
    A missing or unreadable index raises :class:`IndexingError`; a blank query has no hits."""

    def __init__(self, index_dir, k1: float = 0.9, b: float = 0.4):
        from tctcb import java

        self.index_dir = Path(index_dir)
        if not self.index_dir.is_dir() or not (any(self.index_dir.glob("segments_*"))):
            raise IndexingError(f"{self.index_dir} is not a Lucene index (no segments_N file)")
        java.start()
        import jnius

        self._jnius = jnius
        SimpleSearcher = jnius.autoclass("io.anserini.search.SimpleSearcher")
        try:
            self._simple = SimpleSearcher(str(self.index_dir))
        except jnius.JavaException as e:
            raise IndexingError(f"{self.index_dir}: not a readable Lucene index ({str(e).splitlines()[0][:160]})") from None
        self._simple.set_bm25(float(k1), float(b))
        self.k1, self.b = float(k1), float(b)
        self.analyzer = self._simple.get_analyzer()
        File = jnius.autoclass("java.io.File")
        FSDirectory = jnius.autoclass("org.apache.lucene.store.FSDirectory")
        DirectoryReader = jnius.autoclass("org.apache.lucene.index.DirectoryReader")
        IndexSearcher = jnius.autoclass("org.apache.lucene.search.IndexSearcher")
        self._reader = DirectoryReader.open(FSDirectory.open(File(str(self.index_dir)).toPath()))
        self._searcher = IndexSearcher(jnius.cast("org.apache.lucene.index.IndexReader", self._reader))
        self._searcher.setSimilarity(self._simple.get_similarity())
        Sort = jnius.autoclass("org.apache.lucene.search.Sort")
        SortField = jnius.autoclass("org.apache.lucene.search.SortField")
        SortType = jnius.autoclass("org.apache.lucene.search.SortField$Type")
        self._sort = Sort(SortField.FIELD_SCORE, SortField("id", SortType.STRING_VAL))
        self._generator = jnius.autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        self.num_docs = int(self._reader.maxDoc())
        self._docids = self._read_docids()

    def _read_docids(self) -> np.ndarray:
        """Collection docid of every Lucene document (stored field ``id``), read once."""
        stored = self._reader.storedFields()
        out = np.empty(self.num_docs, dtype=object)
        for i in range(self.num_docs):
            doc = stored.document(i)
            out[i] = doc.get("id") if doc is not None else None
        return out

    def search_rows(self, query: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(Lucene internal ids, scores) of one query; ``docids[rows]`` are the collection docids."""
        if is_blank(query):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        q = self._generator.buildQuery("contents", self.analyzer, query)
        hits = self._searcher.search(q, int(k), self._sort, True).scoreDocs
        if not len(hits):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        rows = np.fromiter((h.doc for h in hits), dtype=np.int64, count=len(hits))
        scores = np.fromiter((h.score for h in hits), dtype=np.float32, count=len(hits))
        return rows, adjust_ties(scores).astype(np.float64)

    @property
    def docids(self) -> np.ndarray:
        """Collection docid of each Lucene internal id."""
        return self._docids

    def search_arrays(self, query: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(docids, scores) of one query, as Pyserini's ``LuceneSearcher.search`` would return them."""
        rows, scores = self.search_rows(query, k)
        return self._docids[rows].astype(str) if len(rows) else np.empty(0, dtype=str), scores

    def close(self) -> None:
        self._reader.close()
        self._simple.close()


def bm25_run(index_dir, topics, k: int = 1000, k1: float = 0.9, b: float = 0.4, remove_query: bool = False,
             progress: bool | None = None) -> dict[str, dict[str, float]]:
    """BM25 top-``k`` for each topic: ``{qid: {docid: score}}`` in rank order (:class:`LuceneBm25`'s lists).

    ``remove_query`` drops a hit whose docid equals the qid (Pyserini's ``--remove-query``, used in its BEIR
    regressions). ``progress``: a tqdm bar over the queries (default: when stderr is a TTY)."""
    import sys

    from tqdm import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    searcher = LuceneBm25(index_dir, k1=k1, b=b)
    try:
        run: dict[str, dict[str, float]] = {}
        for qid in tqdm([str(q) for q in topics], desc="BM25", unit="query", disable=not progress):
            ids, scores = searcher.search_arrays(topics[qid], k)
            run[qid] = {d: s for d, s in zip(ids.tolist(), scores.tolist()) if not (remove_query and d == qid)}
    finally:
        searcher.close()
    return run
