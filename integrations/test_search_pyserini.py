"""Our hybrid ranking equals Pyserini's ``HybridSearcher`` on CACM (BM25 + zero-shot MiniLM; 3,204 short abstracts,
64 queries: the collection is small so that the test command stays fast; bin/bench_search.py runs the same
comparison on NFCorpus test).

Two levels:
1. the same first-stage lists (Pyserini's ``FaissSearcher`` and ``LuceneSearcher``) fused by
   Pyserini's own ``HybridSearcher._hybrid_results`` and by ours, for several alphas, with and
   without normalisation and with ``weight_on_dense`` -- over the queries where Pyserini itself
   works (with normalisation, a one-hit BM25 list makes it divide by zero);
2. the whole pipelines: our ``HybridSearcher(DenseSearcher + our batched encoder, LuceneSearcher)``
   against Pyserini's ``HybridSearcher(FaissSearcher + AutoQueryEncoder, LuceneSearcher)``.

Rankings must agree position by position; a different docid is accepted only inside a tie (scores
equal within float32 rounding): Pyserini orders tied documents by Python's string hashing.
"""
import pytest

from side_by_side import build_setup, ranking_problems

ALPHAS = (0.05, 0.1, 0.5, 1.0)


@pytest.fixture(scope="module")
def setup(data_dir, cache_dir):
    return build_setup("cacm", "cacm")


def same_ranking(got, want, where, tol=1e-5):
    problems = ranking_problems(got, want, tol)
    assert not problems, f"{where}: {problems[:3]}"


@pytest.fixture(scope="module")
def first_stage(setup):
    s = setup
    qids = list(s.topics)
    queries = [s.topics[q] for q in qids]
    dense = s.py_dense.batch_search(queries, qids, k=100, threads=1)
    sparse = s.py_sparse.batch_search(queries, qids, k=100, threads=1)
    return qids, dense, sparse


@pytest.mark.parametrize("normalization", [False, True])
@pytest.mark.parametrize("weight_on_dense", [False, True])
def test_fusion_equals_pyserini_on_same_lists(setup, first_stage, normalization, weight_on_dense):
    from pyserini.search.hybrid import HybridSearcher as PyHybrid

    from tctcb.search import HybridSearcher
    from tctcb.search._hits import hits_to_arrays

    qids, dense, sparse = first_stage
    ours = HybridSearcher(None, None)
    alphas = (0.5, 1.0, 2.0) if weight_on_dense else ALPHAS
    one_hit = {q for q in qids if len(sparse[q]) == 1}  # with normalisation these make Pyserini divide by zero
    compared = 0
    for alpha in alphas:
        for q in qids:
            try:
                want = PyHybrid._hybrid_results(dense[q], sparse[q], alpha, 100, normalization, weight_on_dense)
            except ZeroDivisionError:
                assert normalization and q in one_hit
                continue
            got = ours.fuse({q: hits_to_arrays(dense[q])}, {q: hits_to_arrays(sparse[q])}, 100, alpha,
                            normalization, weight_on_dense)[q]
            same_ranking(got, want, where=f"{q} alpha={alpha} norm={normalization} wod={weight_on_dense}")
            compared += 1
    expected = len(alphas) * (len(qids) - (len(one_hit) if normalization else 0))
    assert compared == expected


@pytest.mark.parametrize("alpha", [0.1, 0.5])
def test_whole_pipeline_equals_pyserini(setup, alpha):
    s = setup
    qids = list(s.topics)
    queries = [s.topics[q] for q in qids]
    want = s.py_hybrid.batch_search(queries, qids, k0=100, k=100, threads=1, alpha=alpha)
    got = s.our_hybrid.batch_search(queries, qids, k0=100, k=100, threads=1, alpha=alpha)
    assert list(got) == qids
    for q in qids:
        same_ranking(got[q], want[q], where=f"{q} alpha={alpha}", tol=2e-5)


def test_dense_equals_faiss_searcher(setup):
    s = setup
    qids = list(s.topics)[:100]
    queries = [s.topics[q] for q in qids]
    want = s.py_dense.batch_search(queries, qids, k=100, threads=1)
    got = s.our_dense.batch_search(queries, qids, k=100, threads=1)
    for q in qids:
        same_ranking(got[q], want[q], where=q, tol=2e-5)
