"""Fusion rules: hand-computed examples, the documented edge cases, and Pyserini's own formula."""
import numpy as np
import pytest

from tctcb.search import fuse_rrf, fuse_weighted


def test_weighted_hand_computed():
    # union {a,b,c}; dense min 0.8 (c missing), sparse min 10 (a missing)
    ids, scores = fuse_weighted(["a", "b"], [0.9, 0.8], ["b", "c"], [12.0, 10.0], alpha=0.1, k=10)
    assert ids.tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(scores, [0.1 * 12 + 0.8, 0.1 * 10 + 0.9, 0.1 * 10 + 0.8])


def test_weight_on_dense():
    ids, scores = fuse_weighted(["a", "b"], [0.9, 0.8], ["b", "c"], [12.0, 10.0], alpha=2.0, k=10,
                                weight_on_dense=True)
    assert dict(zip(ids.tolist(), scores)) == pytest.approx({"b": 12 + 1.6, "a": 10 + 1.8, "c": 10 + 1.6})
    assert ids.tolist() == ["b", "a", "c"]


def test_normalization_hand_computed():
    ids, scores = fuse_weighted(["a", "b", "c"], [1.0, 0.5, 0.0], ["c", "d"], [4.0, 2.0], alpha=1.0, k=10,
                                normalization=True)
    # dense: centre 0.5, range 1 -> a .5, b 0, c -.5, d(min) -.5 ; sparse: centre 3, range 2 -> c .5, d -.5, a,b -.5
    got = dict(zip(ids.tolist(), scores))
    assert got == pytest.approx({"a": 0.0, "b": -0.5, "c": 0.0, "d": -1.0})
    assert ids.tolist() == ["a", "c", "b", "d"]  # a and c tie at 0.0: docid order


def test_one_hit_normalised_contributes_nothing():
    # Pyserini divides by zero here; our rule: a side with range 0 normalises to 0 everywhere
    ids, scores = fuse_weighted(["a", "b"], [0.9, 0.1], ["b"], [7.0], alpha=1.0, k=10, normalization=True)
    assert np.isfinite(scores).all()
    assert ids.tolist() == ["a", "b"]
    np.testing.assert_allclose(scores, [0.5, -0.5])
    # the same with all-equal scores on the dense side
    ids, scores = fuse_weighted(["a", "b"], [0.3, 0.3], ["b", "c"], [7.0, 5.0], alpha=1.0, k=10, normalization=True)
    assert ids.tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(scores, [0.5, -0.5, -0.5])


def test_no_hits_one_side_and_both():
    ids, scores = fuse_weighted([], [], ["x", "y"], [3.0, 5.0], alpha=0.5, k=10)
    assert ids.tolist() == ["y", "x"]
    np.testing.assert_allclose(scores, [2.5, 1.5])  # dense side: min 0 for everyone
    ids, scores = fuse_weighted([], [], ["x", "y"], [3.0, 5.0], alpha=0.5, k=10, normalization=True)
    assert ids.tolist() == ["y", "x"]
    ids, scores = fuse_weighted([], [], [], [], k=10)
    assert len(ids) == 0 and len(scores) == 0
    ids, _ = fuse_rrf([], [], [], [], k=10)
    assert len(ids) == 0


def test_ties_by_docid_and_k():
    ids, scores = fuse_weighted(["z", "m", "a"], [1.0, 1.0, 1.0], [], [], alpha=0.1, k=2)
    assert ids.tolist() == ["a", "m"]
    assert len(scores) == 2


def test_repeated_docid_last_wins():
    ids, scores = fuse_weighted(["a", "a", "b"], [0.1, 0.9, 0.5], [], [], alpha=0.0, k=10)
    assert ids.tolist() == ["a", "b"]
    np.testing.assert_allclose(scores, [0.9, 0.5])


def test_rrf_hand_computed():
    ids, scores = fuse_rrf(["a", "b"], [0.9, 0.8], ["b", "c"], [12.0, 10.0], k=10, rrf_k=60)
    got = dict(zip(ids.tolist(), scores))
    assert got == pytest.approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61, "c": 1 / 62})
    assert ids.tolist() == ["b", "a", "c"]
    # unsorted input is ranked by its scores
    ids2, scores2 = fuse_rrf(["b", "a"], [0.8, 0.9], ["c", "b"], [10.0, 12.0], k=10, rrf_k=60)
    assert ids2.tolist() == ids.tolist()
    np.testing.assert_allclose(scores2, scores)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 docids but 1 scores"):
        fuse_weighted(["a", "b"], [1.0], [], [])


def _pyserini_formula(dense, sparse, alpha, k, normalization, weight_on_dense):
    """Pyserini 1.6.0's HybridSearcher._hybrid_results, re-stated (importing it would start the JVM)."""
    dmin, dmax = (min(dense.values()), max(dense.values())) if dense else (0, 1)
    smin, smax = (min(sparse.values()), max(sparse.values())) if sparse else (0, 1)
    out = {}
    for doc in set(dense) | set(sparse):
        d, s = dense.get(doc, dmin), sparse.get(doc, smin)
        if normalization:
            s = (s - (smin + smax) / 2) / (smax - smin)
            d = (d - (dmin + dmax) / 2) / (dmax - dmin)
        out[doc] = alpha * s + d if not weight_on_dense else s + alpha * d
    return sorted(out.items(), key=lambda x: -x[1])[:k]


@pytest.mark.parametrize("normalization", [False, True])
@pytest.mark.parametrize("weight_on_dense", [False, True])
def test_matches_pyserini_formula_random(normalization, weight_on_dense):
    rng = np.random.default_rng(0)
    docs = [f"d{i}" for i in range(60)]
    for trial in range(50):
        nd, ns = rng.integers(2, 30, size=2)
        dense = dict(zip(rng.choice(docs, nd, replace=False), rng.normal(size=nd)))
        sparse = dict(zip(rng.choice(docs, ns, replace=False), rng.gamma(2.0, 5.0, size=ns)))
        alpha = float(rng.choice([0.05, 0.1, 0.5, 1.0, 2.0]))
        want = _pyserini_formula(dense, sparse, alpha, None, normalization, weight_on_dense)
        # exact ties exist (a dense-only doc at the dense minimum and a sparse-only doc at the sparse
        # minimum score the same): put Pyserini's arbitrary tie order into ours, then cut at k
        want = sorted(want, key=lambda x: (-x[1], x[0]))[:20]
        ids, scores = fuse_weighted(list(dense), list(dense.values()), list(sparse), list(sparse.values()),
                                    alpha=alpha, k=20, normalization=normalization, weight_on_dense=weight_on_dense)
        assert ids.tolist() == [d for d, _ in want]  # continuous random scores: ties put in docid order above
        np.testing.assert_allclose(scores, [s for _, s in want], rtol=1e-12)
