"""Comparison tier: our encoders give Pyserini's numbers on the same weights (all-MiniLM-L6-v2) for real
NFCorpus queries and documents, and a checkpoint we save loads in Pyserini unchanged."""
import json
import zipfile

import numpy as np
import pytest
import torch

from tctcb.encode import TctColBertDocumentEncoder, TctColBertQueryEncoder
from tctcb.models import TctColBert, default_backbone_dir

TOL = 1e-4


@pytest.fixture(scope="module")
def pyserini_encode():
    import tctcb.java

    tctcb.java.start()  # pyserini.encode loads Anserini classes at import (needs our JVM start first)
    import pyserini.encode as pe

    return pe


@pytest.fixture(scope="module")
def nfcorpus(data_dir):
    z = zipfile.ZipFile(data_dir / "nfcorpus" / "nfcorpus.zip")
    queries = [json.loads(line)["text"] for line in z.open("queries.jsonl")]
    docs = [json.loads(line) for _, line in zip(range(600), z.open("corpus/human.jsonl"))]
    return queries, docs


def test_queries_equal_pyserini(pyserini_encode, nfcorpus):
    d = str(default_backbone_dir())
    queries = nfcorpus[0][::100] + ["", "a query " * 40]  # 33 real ones, an empty one, an overlong one
    ref = np.stack([pyserini_encode.TctColBertQueryEncoder(d, device="cpu").encode(q) for q in queries])
    ours = TctColBertQueryEncoder(d)
    batch = ours.encode_batch(queries)
    assert batch.shape == ref.shape == (len(queries), 384)
    assert np.abs(batch - ref).max() < TOL
    assert np.abs(ours.encode(queries[0]) - ref[0]).max() < TOL


def test_documents_equal_pyserini_with_and_without_titles(pyserini_encode, nfcorpus):
    d = str(default_backbone_dir())
    docs = nfcorpus[1]
    lengths = np.array([len(x["text"]) for x in docs])
    pick = list(np.argsort(lengths)[[0, 1, 2, 300, 301, -3, -2, -1]])  # shortest, middle, longest (> 512 tokens)
    texts, titles = [docs[i]["text"] for i in pick], [docs[i]["title"] for i in pick]
    pys = pyserini_encode.TctColBertDocumentEncoder(d, device="cpu")
    ours = TctColBertDocumentEncoder(d, batch_tokens=2048)
    with torch.no_grad():
        ref_t = pys.encode(texts, titles=titles)
        ref = pys.encode(texts + [""])
    assert np.abs(ours.encode(texts, titles=titles) - ref_t).max() < TOL
    assert np.abs(ours.encode(texts + [""]) - ref).max() < TOL
    assert ours.stats.truncated >= 2 and ours.stats.empty == 1


def test_saved_checkpoint_loads_in_pyserini(pyserini_encode, tmp_path):
    ckpt = TctColBert.from_pretrained(default_backbone_dir()).save_pretrained(tmp_path / "student")
    q = "do statins reduce breast cancer recurrence"
    ref = pyserini_encode.TctColBertQueryEncoder(str(ckpt), device="cpu").encode(q)
    assert np.abs(TctColBertQueryEncoder(ckpt).encode(q) - ref).max() < TOL
    assert np.abs(TctColBertQueryEncoder(default_backbone_dir()).encode(q) - ref).max() < TOL
