"""End to end in format mean, on ADI with a tiny random BERT: ``train distill --student-format mean`` -> the saved
model records ``mean`` -> ``python -m tctcb.encode`` / ``index`` / ``search`` with no --pooling read it from there
(and say so) -> the run's scores are the student's cosines; Pyserini's AutoQueryEncoder(pooling="mean",
l2_norm=True) on the saved folder gives our query vectors."""
import json

import numpy as np
import pytest
import torch

from tctcb.data import get_topics
from tctcb.encode import read_embeddings
from tctcb.encode._cli import main as encode_main
from tctcb.index._cli import main as index_main
from tctcb.models import TctColBert
from tctcb.search._cli import main as search_main
from tctcb.train import main as train_main
from tiny_models import make_tiny_bert


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, data_dir, cache_dir):
    d = tmp_path_factory.mktemp("mean-e2e")
    tiny = make_tiny_bert(d / "tiny", hidden=32, layers=1, seed=7)
    assert train_main(["distill", "--collection", "adi", "--split", "adi", "--dev-split", "none", "--backbone",
                       str(tiny), "--output", str(d / "run"), "--kd", "none", "--gamma", "1", "--student-format",
                       "mean", "--student-scale", "20", "--batch-size", "4", "--max-steps", "3", "--lr", "1e-3",
                       "--quiet"]) == 0
    model = d / "run" / "model"
    assert encode_main(["--collection", "adi", "--encoder", str(model), "--output", str(d / "emb")]) == 0
    assert index_main(["faiss", "--input", str(d / "emb"), "--output", str(d / "index"), "--quiet"]) == 0
    assert search_main(["--topics", "adi", "--index", str(d / "index"), "--output", str(d / "run.trec"),
                        "--hits", "5"]) == 0
    return d, tiny, model


def test_trained_mean_student_records_its_format(pipeline):
    d, tiny, model = pipeline
    assert json.loads((model / "tctcb_student.json").read_text()) == {
        "format": "mean", "query_max_length": 512, "doc_max_length": 512}
    log = (d / "run" / "log.jsonl").read_text()
    assert '"student_format": "mean"' in log and '"student_scale": 20.0' in log
    trained, start = TctColBert.from_pretrained(model), TctColBert.from_pretrained(tiny, "mean")
    assert trained.fmt.format == "mean"
    assert any(not torch.equal(a, b) for a, b in zip(trained.state_dict().values(), start.state_dict().values()))


def test_encode_index_search_read_the_format(pipeline):
    d, _, model = pipeline
    meta, chunks = read_embeddings(d / "emb")
    assert meta["pooling"] == "mean"
    assert json.loads((d / "index" / "meta.json").read_text())["pooling"] == "mean"
    docids, vecs = zip(*[(i, v) for ids, emb in chunks for i, v in zip(ids, emb)])
    vecs = np.stack(vecs)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    # the run's scores are the student's own cosines: queries were encoded in format mean, found in the record
    topics = get_topics("adi")
    run = [line.split() for line in (d / "run.trec").read_text().splitlines()]
    student = TctColBert.from_pretrained(model).eval()
    qid, _, docid, rank, score, _ = run[0]
    with torch.no_grad():
        q = student.encode_query([topics[qid]])[0].numpy()
    assert abs(float(q @ vecs[docids.index(docid)]) - float(score)) < 1e-4


def test_search_says_which_format(pipeline, tmp_path, capsys):
    d, _, model = pipeline
    assert search_main(["--topics", "adi", "--index", str(d / "index"), "--output", str(tmp_path / "ok")]) == 0
    err = capsys.readouterr().err
    assert err.count("format: ") == 1 and f"format: mean (recorded in {model / 'tctcb_student.json'})" in err
    assert search_main(["--topics", "adi", "--index", str(d / "index"), "--output", str(tmp_path / "r"),
                        "--pooling", "tct"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --pooling tct:") and "'mean' student" in err and err.count("\n") == 1


def test_pyserini_auto_query_encoder_on_the_saved_student(pipeline):
    import tctcb.java

    tctcb.java.start()
    from pyserini.encode import AutoQueryEncoder

    _, _, model = pipeline
    queries = list(get_topics("adi").values())[:8]
    pyserini = AutoQueryEncoder(str(model), device="cpu", pooling="mean", l2_norm=True)
    ref = np.stack([pyserini.encode(q) for q in queries])
    student = TctColBert.from_pretrained(model).eval()
    with torch.no_grad():
        assert np.abs(student.encode_query(queries).numpy() - ref).max() < 1e-4
