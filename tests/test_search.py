"""DenseSearcher and HybridSearcher on small hand-built FAISS indexes (no models, no JVM)."""
import json
import zlib

import faiss
import numpy as np
import pytest

from tctcb.search import PyseriniSearcher, Searcher, as_searcher, DenseSearcher, HybridSearcher, SearchError, SearchHit

DIM = 8


class HashEncoder:
    """Deterministic fake query encoder: a unit vector from the query's hash."""

    def __init__(self, dim=DIM):
        self.dim = dim
        self.single_calls = 0
        self.batch_calls = 0

    def _vec(self, q):
        rng = np.random.default_rng(zlib.crc32(q.encode()))
        v = rng.normal(size=self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, q):
        self.single_calls += 1
        return self._vec(q)

    def encode_batch(self, qs):
        self.batch_calls += 1
        return np.stack([self._vec(q) for q in qs])


class NoBatchEncoder:
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def encode(self, q):
        self.calls += 1
        return self.inner.encode(q)


def make_index(path, n=50, dim=DIM, kind="flat", seed=0, docids=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 8, faiss.METRIC_INNER_PRODUCT)
    elif kind == "l2":
        index = faiss.IndexFlatL2(dim)
    index.add(x)
    path.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(path / "index"))
    ids = docids if docids is not None else [f"doc{i}" for i in range(n)]
    (path / "docid").write_text("".join(f"{d}\n" for d in ids))
    (path / "meta.json").write_text(json.dumps({"dimension": dim, "metric": "ip", "count": n}))
    return x


def brute(x, q, k):
    s = x @ q
    order = np.argsort(-s, kind="stable")[:k]
    return [f"doc{i}" for i in order], s[order]


def test_dense_search_matches_brute_force(tmp_path):
    x = make_index(tmp_path / "idx")
    enc = HashEncoder()
    ds = DenseSearcher(tmp_path / "idx", enc)
    hits = ds.search("what is dense retrieval", k=5)
    assert all(isinstance(h, SearchHit) and isinstance(h.docid, str) and isinstance(h.score, float) for h in hits)
    ids, scores = brute(x, enc._vec("what is dense retrieval"), 5)
    assert [h.docid for h in hits] == ids
    np.testing.assert_allclose([h.score for h in hits], scores, rtol=1e-5)


def test_batch_search_uses_encode_batch_and_equals_single(tmp_path):
    make_index(tmp_path / "idx")
    enc = HashEncoder()
    ds = DenseSearcher(tmp_path / "idx", enc, batch_size=2)
    qs = ["q one", "q two", "q three", "q four", "q five"]
    res = ds.batch_search(qs, ["1", "2", "3", "4", "5"], k=7, threads=1)
    assert list(res) == ["1", "2", "3", "4", "5"]
    assert enc.batch_calls == 3 and enc.single_calls == 0  # 5 queries in batches of 2
    for q, qid in zip(qs, res):
        assert [h.docid for h in res[qid]] == [h.docid for h in ds.search(q, k=7)]


def test_encoder_without_batch_path(tmp_path):
    make_index(tmp_path / "idx")
    enc = NoBatchEncoder(HashEncoder())
    ds = DenseSearcher(tmp_path / "idx", enc)
    res = ds.batch_search(["a", "b", "c"], ["1", "2", "3"], k=3)
    assert enc.calls == 3 and all(len(v) == 3 for v in res.values())


def test_blank_queries_give_no_hits_and_are_counted(tmp_path):
    make_index(tmp_path / "idx")
    enc = HashEncoder()
    ds = DenseSearcher(tmp_path / "idx", enc)
    assert ds.search("   ", k=5) == []
    res = ds.batch_search(["", "real query", "\t"], ["1", "2", "3"], k=4)
    assert res["1"] == [] and res["3"] == [] and len(res["2"]) == 4
    assert ds.blank_queries == 3


def test_dimension_mismatch_names_both(tmp_path):
    make_index(tmp_path / "idx", dim=DIM)
    ds = DenseSearcher(tmp_path / "idx", HashEncoder(dim=12))
    with pytest.raises(SearchError, match=r"12-dimensional.*8-dimensional"):
        ds.search("hello")
    with pytest.raises(SearchError, match=r"12-dimensional.*8-dimensional"):
        ds.batch_search(["hello"], ["1"])


def test_short_docid_file(tmp_path):
    make_index(tmp_path / "idx", n=20, docids=[f"d{i}" for i in range(19)])
    with pytest.raises(SearchError, match=r"19 docids but .* 20 vectors"):
        DenseSearcher(tmp_path / "idx", HashEncoder())


def test_missing_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SearchError, match="index is missing"):
        DenseSearcher(tmp_path / "empty", HashEncoder())


def test_more_hits_than_documents(tmp_path):
    make_index(tmp_path / "idx", n=4)
    ds = DenseSearcher(tmp_path / "idx", HashEncoder())
    assert len(ds.search("x", k=10)) == 4
    dt = DenseSearcher(tmp_path / "idx", HashEncoder(), backend="torch")
    assert [h.docid for h in dt.search("x", k=10)] == [h.docid for h in ds.search("x", k=10)]


@pytest.mark.parametrize("kind", ["flat", "l2"])
def test_torch_backend_equals_faiss(tmp_path, kind):
    make_index(tmp_path / "idx", n=300, kind=kind, seed=3)
    enc = HashEncoder()
    f = DenseSearcher(tmp_path / "idx", enc)
    t = DenseSearcher(tmp_path / "idx", enc, backend="torch")
    t._torch.__init__(f.index.reconstruct_n(0, 300), f.metric_ip, "cpu", shard_rows=64)  # several shards
    qs = [f"query {i}" for i in range(9)]
    a = f.batch_search(qs, [str(i) for i in range(9)], k=20)
    b = t.batch_search(qs, [str(i) for i in range(9)], k=20)
    for qid in a:
        assert [h.docid for h in a[qid]] == [h.docid for h in b[qid]]
        np.testing.assert_allclose([h.score for h in a[qid]], [h.score for h in b[qid]], rtol=1e-4, atol=1e-5)


def test_hnsw_ef_search(tmp_path):
    make_index(tmp_path / "idx", n=200, kind="hnsw")
    ds = DenseSearcher(tmp_path / "idx", HashEncoder(), ef_search=128)
    assert ds.index.hnsw.efSearch == 128
    assert len(ds.search("x", k=10)) == 10
    make_index(tmp_path / "flat", n=10)
    with pytest.raises(SearchError, match="HNSW"):
        DenseSearcher(tmp_path / "flat", HashEncoder(), ef_search=64)


class FakeSparse:
    """Sparse searcher stand-in with Pyserini's signatures: term overlap with fixed doc texts."""

    def __init__(self, docs):
        self.docs = docs

    def search(self, q, k=10):
        words = set(q.split())
        scored = [(d, float(len(words & set(t.split())))) for d, t in self.docs.items()]
        scored = [x for x in scored if x[1] > 0]
        scored.sort(key=lambda x: (-x[1], x[0]))
        return [SearchHit(d, s) for d, s in scored[:k]]

    def batch_search(self, queries, qids, k=10, threads=1):
        return {qid: self.search(q, k) for q, qid in zip(queries, qids)}


def test_hybrid_batch_equals_single_and_fusion(tmp_path):
    make_index(tmp_path / "idx", n=30)
    docs = {f"doc{i}": " ".join(f"w{j}" for j in range(i % 7, i % 7 + 3)) for i in range(30)}
    hs = HybridSearcher(DenseSearcher(tmp_path / "idx", HashEncoder()), FakeSparse(docs))
    qs, qids = ["w1 w2", "w5", "nothing here", "  "], ["a", "b", "c", "d"]
    res = hs.batch_search(qs, qids, k0=10, k=5, alpha=0.3)
    assert res["d"] == [] and hs.blank_queries == 1
    assert len(res["c"]) == 5  # sparse side empty: dense decides
    for q, qid in zip(qs[:3], qids[:3]):
        single = hs.search(q, k0=10, k=5, alpha=0.3)
        assert [(h.docid, round(h.score, 9)) for h in single] == [(h.docid, round(h.score, 9)) for h in res[qid]]
    scores = [h.score for h in res["a"]]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_rrf_and_repeated_ids(tmp_path):
    make_index(tmp_path / "idx", n=30)
    docs = {f"doc{i}": f"w{i % 5}" for i in range(30)}
    hs = HybridSearcher(DenseSearcher(tmp_path / "idx", HashEncoder()), FakeSparse(docs), fusion="rrf")
    res = hs.batch_search(["w1", "w2"], ["1", "2"], k0=10, k=10)
    assert all(len(v) == 10 for v in res.values())
    assert max(h.score for h in res["1"]) <= 2 / 61 + 1e-12
    with pytest.raises(ValueError, match="repeated"):
        hs.batch_search(["w1", "w2"], ["1", "1"], k0=10, k=10)
    with pytest.raises(ValueError, match="fusion"):
        HybridSearcher(None, None, fusion="max")


class RowSparse(Searcher):
    """FakeSparse in the protocol with a row table: HybridSearcher then fuses integer rows (the fast path)."""

    def __init__(self, docs):
        self.fake, self.docids = FakeSparse(docs), list(docs)
        self.row = {d: i for i, d in enumerate(self.docids)}

    def ranked_rows(self, queries, k=10, threads=1):
        out = []
        for q in queries:
            hits = self.fake.search(q, k)
            out.append((np.array([self.row[h.docid] for h in hits], dtype=np.int64), np.array([h.score for h in hits])))
        return out

    def ranked_lists(self, queries, q_ids, k=10, threads=1):
        return {i: (np.asarray(self.docids, dtype=str)[r], s) for i, (r, s) in zip(q_ids, self.ranked_rows(queries, k))}


def test_one_protocol_for_every_searcher(tmp_path):
    """Ours and Pyserini-like searchers answer the same protocol; a hybrid of row-table sides (fast path) gives the
    same lists as one whose sparse side is a Pyserini-like searcher (wrapped), and the plain protocol call uses the
    fusion settings given at construction."""
    make_index(tmp_path / "idx", n=30)
    docs = {f"doc{i}": " ".join(f"w{j}" for j in range(i % 7, i % 7 + 3)) for i in range(30)}
    dense = DenseSearcher(tmp_path / "idx", HashEncoder())
    wrapped = as_searcher(FakeSparse(docs))
    assert isinstance(wrapped, PyseriniSearcher) and as_searcher(dense) is dense and isinstance(dense, Searcher)
    assert [(h.docid, h.score) for h in wrapped.search("w1 w2", 4)] == \
        [(h.docid, h.score) for h in FakeSparse(docs).search("w1 w2", 4)]
    assert wrapped.batch_search(["  ", "w3"], ["b", "a"], 3)["b"] == [] and wrapped.blank_queries == 1
    qs, qids = ["w1 w2", "w5", "nothing here", "w3 w4 w6"], ["a", "b", "c", "d"]
    slow = HybridSearcher(dense, FakeSparse(docs), k0=12, alpha=0.3, normalization=True)
    fast = HybridSearcher(dense, RowSparse(docs), k0=12, alpha=0.3, normalization=True)
    assert fast._fast() and not slow._fast()
    got_fast, got_slow = fast.batch_search(qs, qids, k=6), slow.batch_search(qs, qids, k=6)
    assert got_fast == got_slow
    assert got_fast == fast.batch_search(qs, qids, k0=12, k=6, alpha=0.3, normalization=True)
    assert got_fast != fast.batch_search(qs, qids, k=6, alpha=0.9)
    nested = HybridSearcher(fast, FakeSparse(docs), k0=6, alpha=0.0)  # a hybrid on one side of another
    hits = nested.search("w1 w2", k=6)
    assert len(hits) == 6 and hits[0].docid == got_fast["a"][0].docid


def test_ranking_problems_accepts_only_ties():
    from side_by_side import ranking_problems

    H = SearchHit
    a = [H("x", 3.0), H("y", 2.0), H("z", 2.0), H("w", 1.0)]
    assert ranking_problems(a, [H("x", 3.0), H("z", 2.0), H("y", 2.0), H("w", 1.0)]) == []  # tie swapped
    assert ranking_problems(a, [H("y", 3.0), H("x", 2.0), H("z", 2.0), H("w", 1.0)])  # not a tie
    assert ranking_problems(a, [H("x", 3.0), H("y", 2.5), H("z", 2.0), H("w", 1.0)])  # score differs
    assert ranking_problems(a, a[:3]) == ["4 hits vs 3"]
    # a different document at the cut-off, tied with the last one: accepted
    assert ranking_problems([H("x", 3.0), H("y", 1.0)], [H("x", 3.0), H("q", 1.0)]) == []
