"""Alpha tuning: near-ties on dev (below the reported four decimals) go to the first alpha of the grid."""
import pytest

from tctcb.search._hits import SearchHit
from tctcb.search._tune import tune_alpha


class _Hybrid:
    """first_stage/fuse stand-in: fusing with alpha a puts doc 'a=<a>' first, so the run names its alpha."""

    def first_stage(self, queries, qids, k0, threads):
        return {}, {}

    def fuse(self, dense, sparse, k, alpha, normalization, weight_on_dense):
        return {"q1": [SearchHit(f"a={alpha}", 1.0)]}


@pytest.fixture
def dev_scores(monkeypatch):
    scores = {}

    def evaluate(run, qrels, metrics):
        return {metrics[0]: scores[next(iter(run["q1"]))]}

    monkeypatch.setattr("tctcb.eval.evaluate", evaluate)
    return scores


def test_near_ties_go_to_the_first_alpha(dev_scores):
    # NFCorpus zero-shot + BM25 on dev as measured on one CPU: 0.06 -> 0.330404, 0.1 -> 0.330439
    dev_scores.update({"a=0.05": 0.3278, "a=0.06": 0.330404, "a=0.1": 0.330439, "a=0.12": 0.3291})
    alpha, table = tune_alpha(_Hybrid(), {"q1": "x"}, {}, grid=[0.05, 0.06, 0.1, 0.12])
    assert alpha == 0.06 and dict(table)[0.1] == 0.330439
    # a real margin (above 1e-4) still wins, and the tolerance can be turned off
    dev_scores["a=0.1"] = 0.3306
    assert tune_alpha(_Hybrid(), {"q1": "x"}, {}, grid=[0.05, 0.06, 0.1, 0.12])[0] == 0.1
    dev_scores["a=0.1"] = 0.330439
    assert tune_alpha(_Hybrid(), {"q1": "x"}, {}, grid=[0.05, 0.06, 0.1, 0.12], tie_tolerance=0.0)[0] == 0.1


def test_grid_order_decides_ties(dev_scores):
    dev_scores.update({"a=0.5": 0.3, "a=0.2": 0.3})
    assert tune_alpha(_Hybrid(), {"q1": "x"}, {}, grid=[0.5, 0.2])[0] == 0.5
