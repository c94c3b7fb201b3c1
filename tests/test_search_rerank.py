"""MaxSim reranking with a tiny randomly initialised ColBERT saved to a temporary folder."""
import numpy as np
import pytest

from tctcb.search import SearchHit
from tctcb.search._rerank import MaxSimReranker


@pytest.fixture(scope="module")
def tiny_colbert_dir(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from tctcb.models import ColBERT, default_backbone_dir
    from tctcb.models._colbert import ColBERTConfig

    tok = AutoTokenizer.from_pretrained(str(default_backbone_dir()))
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64))
    model = ColBERT(bert, tok, ColBERTConfig(dim=16))
    out = tmp_path_factory.mktemp("tiny-colbert")
    model.save_pretrained(out)
    return out


DOCS = {"d1": "heart disease and diet", "d2": "statins lower cholesterol", "d3": "vitamin d and bones",
        "d4": "exercise for the heart", "d5": "sleep apnea"}


def test_rerank_orders_by_maxsim_and_keeps_tail(tiny_colbert_dir):
    rr = MaxSimReranker(tiny_colbert_dir, DOCS, depth=3, batch_size=2)
    first = [SearchHit(d, 10.0 - i) for i, d in enumerate(["d1", "d2", "d3", "d4", "d5"])]
    out = rr.rerank("heart health", first)
    head_scores = rr.scores("heart health", ["d1", "d2", "d3"])
    want_head = [x for _, x in sorted(zip(-head_scores, ["d1", "d2", "d3"]))]
    assert [h.docid for h in out[:3]] == want_head
    np.testing.assert_allclose(sorted((h.score for h in out[:3]), reverse=True), np.sort(head_scores)[::-1], rtol=1e-5)
    assert [h.docid for h in out[3:]] == ["d4", "d5"]  # below depth: first-stage order, scores below the head
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True)
    # MaxSim is the model's own score of each pair
    import torch

    with torch.inference_mode():
        qv, qm = rr.model.encode_query(["heart health"])
        dv, dm = rr.model.encode_passage([DOCS["d2"]])
        assert float(rr.model.score(qv, qm, dv, dm)[0]) == pytest.approx(float(head_scores[1]), rel=1e-5)


def test_passage_cache_same_scores_fewer_encodings(tiny_colbert_dir):
    cached = MaxSimReranker(tiny_colbert_dir, DOCS, depth=5, batch_size=2, cache_size=3)
    fresh = MaxSimReranker(cached.model, DOCS, depth=5, batch_size=2, cache_size=0)
    ids = ["d1", "d2", "d3", "d4"]
    a = cached.scores("heart health", ids)
    assert cached.encoded == 4 and list(cached._cache) == ["d2", "d3", "d4"]  # LRU keeps the last 3
    b = cached.scores("statins", ["d3", "d4", "d1"])
    assert cached.encoded == 5  # only d1 (dropped from the cache) encoded again
    np.testing.assert_allclose(a, fresh.scores("heart health", ids), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, fresh.scores("statins", ["d3", "d4", "d1"]), rtol=1e-5, atol=1e-6)
    assert fresh.encoded == 7 and not fresh._cache


def test_rerank_missing_text_and_empty(tiny_colbert_dir):
    rr = MaxSimReranker(tiny_colbert_dir, DOCS, depth=2)
    assert rr.rerank("q", []) == []
    with pytest.raises(KeyError, match="nope"):
        rr.rerank("q", [SearchHit("nope", 1.0)])
    with pytest.raises(ValueError, match="depth"):
        MaxSimReranker(rr.model, DOCS, depth=0)


def test_cli_rerank_bm25_first_stage(tiny_colbert_dir, tmp_path, data_dir, cache_dir):
    from tctcb.eval import read_run
    from tctcb.search._cli import main

    base, rer = tmp_path / "bm25.trec", tmp_path / "rerank.trec"
    common = ["--topics", "adi", "--sparse-index", "adi", "--hits", "10", "--quiet"]
    assert main(common + ["--output", str(base)]) == 0
    assert main(common + ["--output", str(rer), "--rerank-with", str(tiny_colbert_dir), "--rerank-depth", "5"]) == 0
    a, b = read_run(base), read_run(rer)
    assert a.keys() == b.keys()
    for q in a:
        ra, rb = list(a[q]), list(b[q])
        assert set(ra[:5]) == set(rb[:5]) and ra[5:] == rb[5:]  # only the top 5 are reordered
