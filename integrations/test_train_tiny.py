"""End to end on ADI with the real all-MiniLM-L6-v2 backbone: train a ColBERT teacher a few steps (BM25 hard
negatives through the Lucene index, dev nDCG@10), then distil a student from it with the live teacher
(tight coupling, in-batch KD); the loss on the first batch goes down, every checkpoint loads, and the
student loads in Pyserini's own TctColBertQueryEncoder with the same query embeddings as ours."""
import json

import numpy as np
import pytest
import torch

from tctcb.models import ColBERT, TctColBert
from tctcb.train import DistillConfig, TeacherConfig, Trainer, TrainingData, main


def _loss_on_first_batch(cfg, data, model, teacher=None):
    tr = Trainer(cfg, data, model, teacher=teacher)
    model.eval()
    with torch.no_grad():
        return float(tr.loss_for(tr.batch(0), 0).loss)


def _records(run_dir):
    return [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir, cache_dir):
    out = tmp_path_factory.mktemp("train-adi")
    common = ["--collection", "adi", "--split", "adi", "--dev-split", "adi", "--batch-size", "8", "--max-steps", "6",
              "--save-every", "3", "--dev-queries", "12", "--seed", "11", "--quiet", "--lr", "5e-5", "--warmup-ratio", "0"]
    assert main(["teacher", "--output", str(out / "teacher"), "--negatives", "bm25", *common]) == 0
    assert main(["distill", "--output", str(out / "student"), "--teacher", str(out / "teacher" / "model"),
                 "--kd", "in-batch", "--gamma", "0.5", "--temperature", "0.25", *common]) == 0
    return out


def test_teacher_trained_and_loads(trained):
    run = trained / "teacher"
    recs = _records(run)
    assert sum(1 for r in recs if "loss" in r) == 6
    dev = [r for r in recs if r.get("event") == "dev"]
    assert dev and 0.0 < dev[-1]["nDCG@10"] <= 1.0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-0000003", "step-0000006"]
    teacher = ColBERT.from_pretrained(run / "model")
    assert teacher.config.dim == 128 and teacher.config.query_maxlen == 32
    cfg = TeacherConfig(collection="adi", output_dir=str(run), batch_size=8, seed=11, negatives="bm25")
    data = TrainingData.from_registry("adi", "adi", log=lambda m: None)
    from tctcb.train._cli import _mine

    _mine(cfg, data, lambda m: None)
    before = _loss_on_first_batch(cfg, data, ColBERT.from_backbone(None, seed=11))
    after = _loss_on_first_batch(cfg, data, ColBERT.from_pretrained(run / "checkpoints" / "step-0000006" / "model"))
    assert after < before


def test_student_distilled_loss_down_and_pyserini_loads(trained):
    run = trained / "student"
    recs = _records(run)
    steps = [r for r in recs if "loss" in r]
    assert len(steps) == 6 and all("kl" in r and "agreement" in r for r in steps)
    teacher = ColBERT.from_pretrained(trained / "teacher" / "model")
    cfg = DistillConfig(collection="adi", output_dir=str(run), batch_size=8, seed=11, teacher="t", kd="in-batch")
    data = TrainingData.from_registry("adi", "adi", log=lambda m: None)
    before = _loss_on_first_batch(cfg, data, TctColBert.from_pretrained(None), teacher)
    after = _loss_on_first_batch(cfg, data, TctColBert.from_pretrained(run / "model"), teacher)
    assert after < before

    from tctcb import java

    java.start()  # pyserini.encode pulls in modules that start the JVM
    from pyserini.encode import TctColBertQueryEncoder

    q = "computer information retrieval systems"
    theirs = TctColBertQueryEncoder(str(run / "model")).encode(q)
    ours = TctColBert.from_pretrained(run / "model").eval().encode_query([q])[0].detach().numpy()
    assert theirs.shape == (384,)
    np.testing.assert_allclose(theirs, ours, atol=1e-4)
