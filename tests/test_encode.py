"""Corpus encoding: order, shards, resume after a crash or a kill, bad input. A tiny random BERT with
the MiniLM tokenizer keeps it fast (weights don't change the pipeline)."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tctcb.encode import EncodeError, TctColBertDocumentEncoder, encode_corpus, read_embeddings
from tctcb.encode import _corpus
from tctcb.encode._cli import main as encode_main


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel

    from tctcb.models import load_backbone

    torch.manual_seed(0)
    _, tok = load_backbone()
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    d = tmp_path_factory.mktemp("tiny-bert")
    BertModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def _write_corpus(path, n, start=0):
    words = "statin cancer vitamin diet heart fish oil sugar".split()
    with open(path, "w") as f:
        for i in range(start, start + n):
            text = " ".join(words[(i + j) % len(words)] for j in range(i % 23))
            f.write(json.dumps({"_id": f"D{i}", "title": f"t{i % 5}" if i % 3 else "", "text": text}) + "\n")
    return path


def _all(emb_dir):
    meta, chunks = read_embeddings(emb_dir)
    ids, embs = [], []
    for d, e in chunks:
        ids += d
        embs.append(e)
    return meta, ids, np.concatenate(embs)


def test_corpus_order_shards_and_equality_with_encoder(tiny_bert, tmp_path):
    corpus = _write_corpus(tmp_path / "c.jsonl", 100)
    out = tmp_path / "emb"
    for s in range(3):
        encode_corpus(out, tiny_bert, corpus=corpus, shard_id=s, shard_num=3, chunk_size=8, batch_tokens=64, progress=False)
    meta, ids, emb = _all(out)
    assert ids == [f"D{i}" for i in range(100)] and meta["count"] == 100 and emb.shape == (100, 32)
    recs = [json.loads(line) for line in open(corpus)]
    texts = [f"{r['title']} {r['text']}".strip() if r["title"] else r["text"] for r in recs]
    direct = TctColBertDocumentEncoder(tiny_bert).encode(texts)
    np.testing.assert_allclose(emb, direct, atol=1e-5)
    assert meta["empty"] == sum(1 for t in texts if not t.strip())  # i % 23 == 0 and no title -> empty


def test_empty_and_overlong_counted(tiny_bert, tmp_path):
    corpus = tmp_path / "c.jsonl"
    with open(corpus, "w") as f:
        for i, text in enumerate(["", "   ", "word " * 800, "fine"]):
            f.write(json.dumps({"id": str(i), "contents": text}) + "\n")
    meta = encode_corpus(tmp_path / "e", tiny_bert, corpus=corpus, progress=False)
    assert (meta["count"], meta["empty"], meta["truncated"]) == (4, 2, 1)
    _, ids, emb = _all(tmp_path / "e")
    assert ids == ["0", "1", "2", "3"] and np.all(emb[0] == 0) and np.isfinite(emb).all()


def test_broken_line_names_file_and_line(tiny_bert, tmp_path):
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"id": "a", "contents": "x"}\n{"id": "b", "contents": \n')
    with pytest.raises(EncodeError, match=r"bad\.jsonl, line 2: malformed JSON"):
        encode_corpus(tmp_path / "e", tiny_bert, corpus=corpus, progress=False)
    corpus.write_text('{"id": "a", "body": "x"}\n')
    with pytest.raises(EncodeError, match=r"bad\.jsonl, line 1: neither a Pyserini line"):
        encode_corpus(tmp_path / "e2", tiny_bert, corpus=corpus, progress=False)
    assert not (tmp_path / "e").exists() and not (tmp_path / "e2").exists()  # nothing written: no stub to --resume


def test_refuses_other_run_and_rerun_without_flag(tiny_bert, tmp_path, capsys):
    a = _write_corpus(tmp_path / "a.jsonl", 10)
    b = _write_corpus(tmp_path / "b.jsonl", 12)
    out = tmp_path / "emb"
    encode_corpus(out, tiny_bert, corpus=a, progress=False)
    with pytest.raises(EncodeError, match="another run"):
        encode_corpus(out, tiny_bert, corpus=b, progress=False)
    with pytest.raises(EncodeError, match="another run"):
        encode_corpus(out, tiny_bert, corpus=b, resume=True, progress=False)
    with pytest.raises(EncodeError, match="--resume to continue"):
        encode_corpus(out, tiny_bert, corpus=a, progress=False)
    assert encode_main(["--corpus", str(b), "--encoder", str(tiny_bert), "--output", str(out), "--quiet"]) == 2
    assert "another run" in capsys.readouterr().err
    assert encode_main(["--corpus", str(b), "--encoder", str(tiny_bert), "--output", str(out), "--overwrite", "--quiet"]) == 0
    assert _all(out)[1] == [f"D{i}" for i in range(12)]


def test_not_a_bert_encoder_dir(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "t5"}')
    c = _write_corpus(tmp_path / "c.jsonl", 3)
    assert encode_main(["--corpus", str(c), "--encoder", str(tmp_path / "m"), "--output", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "not a BERT-family model" in err and str(tmp_path / "m") in err


def test_resume_after_crash_no_missing_or_duplicate(tiny_bert, tmp_path, monkeypatch):
    corpus = _write_corpus(tmp_path / "c.jsonl", 50)
    out = tmp_path / "emb"
    real, calls = _corpus._write_chunk, []

    def crashing(shard_dir, chunk, *a):
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated crash")
        calls.append(chunk)
        real(shard_dir, chunk, *a)

    monkeypatch.setattr(_corpus, "_write_chunk", crashing)
    with pytest.raises(KeyboardInterrupt):
        encode_corpus(out, tiny_bert, corpus=corpus, chunk_size=7, progress=False)
    monkeypatch.setattr(_corpus, "_write_chunk", real)
    with pytest.raises(EncodeError, match="not finished"):
        read_embeddings(out)
    written = []
    monkeypatch.setattr(_corpus, "_write_chunk", lambda sd, c, *a: (written.append(c), real(sd, c, *a)))
    encode_corpus(out, tiny_bert, corpus=corpus, chunk_size=7, resume=True, progress=False)
    assert calls == [0, 1, 2] and written == [3, 4, 5, 6, 7]  # only the missing chunks were encoded
    _, ids, emb = _all(out)
    assert ids == [f"D{i}" for i in range(50)]
    fresh = tmp_path / "fresh"
    encode_corpus(fresh, tiny_bert, corpus=corpus, chunk_size=7, progress=False)
    np.testing.assert_allclose(emb, _all(fresh)[2], atol=1e-6)


def test_resume_after_kill(tiny_bert, tmp_path):
    """A real process killed (SIGKILL) mid-run; the rerun with --resume completes it exactly."""
    corpus = _write_corpus(tmp_path / "c.jsonl", 3000)
    out = tmp_path / "emb"
    cmd = [sys.executable, "-m", "tctcb.encode", "--corpus", str(corpus), "--encoder", str(tiny_bert),
           "--output", str(out), "--chunk-size", "50", "--quiet"]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    shard = out / "shard-00000-of-00001"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(list(shard.glob("*.npy"))) < 3:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done_before = len(list(shard.glob("*.npy")))
    assert 0 < done_before < 60, "the run should have been killed part-way"
    res = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    meta, ids, emb = _all(out)
    assert ids == [f"D{i}" for i in range(3000)] and len(set(ids)) == 3000 and emb.shape == (3000, 32)
    assert not list(shard.glob(".*tmp*"))
