"""Bm25Searcher returns exactly Pyserini's LuceneSearcher hits (docids, scores, order) on ADI and CACM."""
import numpy as np
import pytest

from tctcb.index._bm25 import adjust_ties, adjust_ties_reference


def test_adjust_ties_rule():
    # Anserini's example: round to 1e-4, subtract 1e-6 per tie
    out = adjust_ties([23.439316, 22.087432, 22.087432, 21.602508])
    np.testing.assert_allclose(out, [23.4393, 22.0874, 22.0874 - 1e-6, 21.6025], rtol=0, atol=2e-6)
    assert out.dtype == np.float32
    assert adjust_ties([]).size == 0
    # three-way tie: 1e-6, 2e-6 below
    out = adjust_ties([5.0, 5.0, 5.0])
    np.testing.assert_allclose(out, [5.0, 5.0 - 1e-6, 5.0 - 2e-6], rtol=0, atol=5e-7)


@pytest.mark.parametrize("seed", range(6))
def test_adjust_ties_vectorised_equals_one_pass(seed):
    # score lists sorted descending with tie runs of every length, near-ties closer than the 1e-4
    # threshold, and runs long enough (> 100) that the accumulated 1e-6 steps cross the threshold
    rng = np.random.default_rng(seed)
    levels = np.sort(rng.uniform(1, 30, size=60))[::-1]
    runs = rng.choice([1, 1, 2, 3, 7, 40, 150], size=len(levels))
    scores = np.repeat(levels, runs).astype(np.float32)
    scores += rng.choice([0, 0, 0, 3e-5, -4e-5], size=len(scores)).astype(np.float32)
    scores = np.sort(scores)[::-1]
    want = adjust_ties_reference(scores)
    for rounds in (4, 1, 0):  # 0 rounds: straight to the one-pass loop
        got = adjust_ties(scores, max_rounds=rounds)
        assert got.dtype == np.float32
        assert got.tobytes() == want.tobytes()


def test_adjust_ties_long_run_reaches_the_next_score():
    # after 150 ties the adjusted score (5.0 - 1.49e-4) is within 1e-4 of the next, lower score,
    # which therefore continues the run although it differs from 5.0 by more than the threshold
    scores = np.array([5.0] * 150 + [4.9998, 4.9996, 3.0], dtype=np.float32)
    want = adjust_ties_reference(scores)
    assert want[150] < np.float32(4.9998)  # the run went on
    for rounds in (4, 2, 1):
        assert adjust_ties(scores, max_rounds=rounds).tobytes() == want.tobytes()


@pytest.fixture(scope="module")
def searchers(data_dir, cache_dir):
    from tctcb import java
    from tctcb.index import build_lucene_index
    from tctcb.search import Bm25Searcher

    out = {}
    for name in ("adi", "cacm"):
        idx = build_lucene_index(name)
        java.start()
        from pyserini.search.lucene import LuceneSearcher

        py = LuceneSearcher(str(idx))
        py.set_bm25(0.9, 0.4)
        out[name] = (Bm25Searcher(idx, k1=0.9, b=0.4), py)
    return out


@pytest.mark.parametrize("name", ["adi", "cacm"])
def test_equals_pyserini_lucene_searcher(searchers, name):
    from tctcb.data import get_topics

    ours, py = searchers[name]
    topics = get_topics(name)
    qids = list(topics)
    queries = [topics[q] for q in qids]
    a = ours.batch_search(queries, qids, k=200)
    b = py.batch_search(queries, qids, k=200, threads=1)
    assert sum(len(v) for v in a.values()) > 20 * len(qids)
    for q in qids:
        assert [(h.docid, h.score) for h in a[q]] == [(h.docid, h.score) for h in b[q]], q
    h1 = ours.search(queries[0], k=5)
    assert [(h.docid, h.score) for h in h1] == [(h.docid, h.score) for h in py.search(queries[0], k=5)]


def test_blank_and_no_match(searchers):
    ours, _ = searchers["adi"]
    assert ours.search("  ", k=10) == []
    assert ours.search("zzzqqqxxyy", k=10) == []
    res = ours.batch_search(["", "information retrieval"], ["a", "b"], k=3)
    assert res["a"] == [] and len(res["b"]) == 3


def test_not_an_index(tmp_path):
    from tctcb.search import Bm25Searcher, SearchError

    with pytest.raises(SearchError, match="not a Lucene index"):
        Bm25Searcher(tmp_path)
