"""FAISS index building from encoded shards; Pyserini's FaissSearcher opens our index and agrees with
a direct faiss search using our query encoder."""
import json

import faiss
import numpy as np
import pytest

from tctcb.encode import TctColBertQueryEncoder, encode_corpus
from tctcb.index._faiss import FaissIndexError, build_faiss_index, main as faiss_main


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel

    from tctcb.models import load_backbone

    torch.manual_seed(1)
    _, tok = load_backbone()
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64)
    d = tmp_path_factory.mktemp("tiny-bert")
    BertModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def emb_dir(tiny_bert, tmp_path_factory):
    root = tmp_path_factory.mktemp("faiss")
    words = "statin cancer vitamin diet heart fish oil sugar salt milk".split()
    corpus = root / "c.jsonl"
    with open(corpus, "w") as f:
        for i in range(300):
            f.write(json.dumps({"id": f"doc{i}", "contents": " ".join(words[(i * j) % 10] for j in range(1, 2 + i % 17))}) + "\n")
    for s in range(2):
        encode_corpus(root / "emb", tiny_bert, corpus=corpus, shard_id=s, shard_num=2, chunk_size=64, progress=False)
    return root / "emb"


def test_flat_index_layout_and_pyserini_faiss_searcher(tiny_bert, emb_dir, tmp_path):
    import tctcb.java

    out = tmp_path / "idx"
    assert faiss_main(["--input", str(emb_dir), "--output", str(out), "--type", "flat", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["docid", "index", "meta.json"]
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["count"], meta["dimension"], meta["type"], meta["metric"], meta["pooling"]) == (300, 32, "flat", "inner_product", "tct")
    assert {"encoder", "corpus", "version"} <= set(meta)
    docids = (out / "docid").read_text().splitlines()
    assert docids == [f"doc{i}" for i in range(300)]

    tctcb.java.start()
    from pyserini.search.faiss import FaissSearcher

    qenc = TctColBertQueryEncoder(tiny_bert)
    searcher = FaissSearcher(str(out), qenc)
    index = faiss.read_index(str(out / "index"))
    for q in ["statin cancer", "fish oil and heart", "milk"]:
        hits = searcher.search(q, k=10)
        scores, rows = index.search(qenc.encode_batch([q]), 10)
        assert [h.docid for h in hits] == [docids[r] for r in rows[0]]
        np.testing.assert_allclose([h.score for h in hits], scores[0], rtol=1e-6)
    batch = searcher.batch_search(["statin cancer", "milk"], ["q1", "q2"], k=5)
    assert [h.docid for h in batch["q2"]] == [h.docid for h in searcher.search("milk", k=5)]


@pytest.mark.parametrize("kind,extra", [("hnsw", ["--hnsw-m", "16", "--ef-construction", "40"]),
                                        ("pq", ["--pq-m", "8", "--pq-nbits", "4"]), ("sq8", [])])
def test_other_index_types(emb_dir, tmp_path, kind, extra):
    out = tmp_path / kind
    assert faiss_main(["--input", str(emb_dir), "--output", str(out), "--type", kind, "--quiet"] + extra) == 0
    index = faiss.read_index(str(out / "index"))
    assert index.ntotal == 300 and index.metric_type == faiss.METRIC_INNER_PRODUCT
    assert json.loads((out / "meta.json").read_text())["type"] == kind
    flat = faiss.IndexFlatIP(32)
    x = np.concatenate([np.load(p) for p in sorted(emb_dir.glob("shard-*/*.npy"))])
    flat.add(x)
    _, exact = flat.search(x[:20], 1)
    _, approx = index.search(x[:20], 10)
    assert np.mean([exact[i, 0] in approx[i] for i in range(20)]) >= 0.7  # a sane approximation


def test_refusals(emb_dir, tmp_path, capsys):
    out = tmp_path / "idx"
    build_faiss_index(emb_dir, out, progress=False)
    with pytest.raises(FaissIndexError, match="not empty"):
        build_faiss_index(emb_dir, out, progress=False)
    build_faiss_index(emb_dir, out, "sq8", overwrite=True, progress=False)
    assert json.loads((out / "meta.json").read_text())["type"] == "sq8"
    assert faiss_main(["--input", str(tmp_path / "nothing"), "--output", str(tmp_path / "x")]) == 2
    assert "no such embedding folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert faiss_main(["--input", str(tmp_path / "empty"), "--output", str(tmp_path / "x")]) == 2
    assert "no encoded shards" in capsys.readouterr().err
    with pytest.raises(FaissIndexError, match="needs at least 512"):
        build_faiss_index(emb_dir, tmp_path / "pq", "pq", pq_m=8, pq_nbits=9, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left behind


@pytest.mark.parametrize("metric_ip", [True, False])
def test_exact_topk_equals_faiss_flat_and_bf16_is_close(metric_ip):
    """ExactTopK (torch) against FAISS's flat indexes on the same vectors: fp32 gives the same rows and scores
    (several shards, fewer vectors than k for the padding); bf16 keeps most of the true top-k."""
    from tctcb.index import ExactTopK

    rng = np.random.default_rng(0)
    docs = rng.standard_normal((300, 16)).astype(np.float32)
    qs = rng.standard_normal((7, 16)).astype(np.float32)
    flat = faiss.IndexFlatIP(16) if metric_ip else faiss.IndexFlatL2(16)
    flat.add(docs)
    want_d, want_i = flat.search(qs, 20)
    got_d, got_i = ExactTopK(docs, metric_ip=metric_ip, shard_rows=128).search(qs, 20, query_chunk=3)
    assert (got_i == want_i).all()
    np.testing.assert_allclose(got_d, want_d, rtol=1e-5, atol=1e-4)
    d, i = ExactTopK(docs[:5], metric_ip=metric_ip).search(qs, 8)
    assert (i[:, 5:] == -1).all() and sorted(i[0, :5]) == [0, 1, 2, 3, 4]
    bf_d, bf_i = ExactTopK(docs, metric_ip=metric_ip, dtype="bf16").search(qs, 20)
    overlap = np.mean([len(set(a) & set(b)) / 20 for a, b in zip(bf_i, want_i)])
    assert overlap > 0.8 and bf_d.dtype == np.float32
    np.testing.assert_allclose(bf_d, want_d, rtol=0.05, atol=0.3)
    assert not np.array_equal(bf_d, got_d)  # really computed in bf16
    with pytest.raises(ValueError, match="dtype"):
        ExactTopK(docs, dtype="fp16")
