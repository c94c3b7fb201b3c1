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


# -- format mean: Pyserini's AutoQueryEncoder / AutoDocumentEncoder(pooling="mean", l2_norm=True) ----------------

def _auto(pe, d):
    return (pe.AutoQueryEncoder(str(d), device="cpu", pooling="mean", l2_norm=True),
            pe.AutoDocumentEncoder(str(d), device="cpu", pooling="mean", l2_norm=True))


def _sample(nfcorpus):
    queries = nfcorpus[0][::100] + ["a query " * 150]  # 33 real ones and one past 256 tokens
    docs = nfcorpus[1]
    lengths = np.array([len(x["text"]) for x in docs])
    pick = list(np.argsort(lengths)[[0, 1, 300, 301, -2, -1]])  # shortest, middle, longest (> 256 tokens)
    return queries, [docs[i]["text"] for i in pick], [docs[i]["title"] for i in pick]


@pytest.fixture(scope="module")
def mean_student(tmp_path_factory):
    """A ``mean`` student saved by save_pretrained: all-MiniLM-L6-v2's weights moved by seeded noise (a trained
    student's weights are not the backbone's)."""
    student = TctColBert.from_pretrained(default_backbone_dir(), "mean")
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in student.bert.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01)
    return student.save_pretrained(tmp_path_factory.mktemp("mean") / "student")


def test_mean_student_loads_in_pyserini_auto_encoders(pyserini_encode, nfcorpus, mean_student):
    """Our checkpoint -> Pyserini: its Auto encoders give our vectors (queries, documents with and without titles,
    past the length limits: the saved tokenizer's model_max_length is our query limit)."""
    from tctcb.encode import load_document_encoder, load_query_encoder

    queries, texts, titles = _sample(nfcorpus)
    pq, pd = _auto(pyserini_encode, mean_student)
    ref_q = np.stack([pq.encode(q) for q in queries])
    with torch.no_grad():
        ref_d, ref_dt = pd.encode(texts), pd.encode(texts, titles=titles)  # max_length 256: our doc_max_length
    oq, od = load_query_encoder(mean_student), load_document_encoder(mean_student)  # the format from the record
    assert oq.query_max_length == od.max_length == 256
    assert np.abs(oq.encode_batch(queries) - ref_q).max() < TOL
    assert np.abs(od.encode(texts) - ref_d).max() < TOL
    assert np.abs(od.encode(texts, titles=titles) - ref_dt).max() < TOL
    assert od.stats.truncated >= 2
    student = TctColBert.from_pretrained(mean_student).eval()  # the training path computes the same
    with torch.no_grad():
        assert np.abs(student.encode_query(queries).numpy() - ref_q).max() < TOL
        assert np.abs(student.encode_passage(texts, titles=titles).numpy() - ref_dt).max() < TOL
    # and not Pyserini's TCT-ColBERT class: ours refuses the folder and names the one to use
    from tctcb.models import StudentFormatError

    with pytest.raises(StudentFormatError, match="AutoQueryEncoder"):
        TctColBertQueryEncoder(mean_student)


def test_pyserini_model_loads_as_mean_student(pyserini_encode, nfcorpus):
    """Pyserini's model -> ours: all-MiniLM-L6-v2 as a ``mean`` student gives Pyserini's Auto encoders' vectors.
    (Pyserini's AutoQueryEncoder truncates a folder's queries at its tokenizer's model_max_length -- 512 here --
    and we at max_seq_length, 256: only queries longer than 256 tokens differ, so they are left out.)"""
    from tctcb.encode import load_document_encoder, load_query_encoder

    d = default_backbone_dir()
    queries, texts, titles = _sample(nfcorpus)
    queries = queries[:-1]
    pq, pd = _auto(pyserini_encode, d)
    ref_q = np.stack([pq.encode(q) for q in queries])
    with torch.no_grad():
        ref_dt = pd.encode(texts, titles=titles)
    student = TctColBert.from_pretrained(d, "mean").eval()
    with torch.no_grad():
        assert np.abs(student.encode_query(queries).numpy() - ref_q).max() < TOL
        assert np.abs(student.encode_passage(texts, titles=titles).numpy() - ref_dt).max() < TOL
    assert np.abs(load_query_encoder(d).encode_batch(queries) - ref_q).max() < TOL  # modules.json: mean
    assert np.abs(load_document_encoder(d).encode(texts, titles=titles) - ref_dt).max() < TOL
