"""Faults in encoding and FAISS indexing: bad corpora, killed and interrupted runs, damaged embedding folders.

Each kill is a SIGKILL at a fixed point in a real ``python -m`` process (tests/faults.py); the rerun must finish
with what an uninterrupted run writes, and leave nothing behind that the next run trips over.
"""
import filecmp
import json
import shutil

import numpy as np
import pytest

from faults import run_command, run_with_fault
from tctcb.encode import read_embeddings
from tctcb.encode._cli import main as encode_main
from tctcb.index._cli import main as index_main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    words = "statin cancer vitamin diet heart fish oil sugar".split()
    with open(path, "w") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"D{i}", "contents": " ".join(words[(i + j) % 8] for j in range(i % 13 + 1))}) + "\n")
    return path


def _encode_args(corpus, tiny, out, *extra):
    return ["--corpus", corpus, "--encoder", tiny, "--output", out, "--chunk-size", "8", "--quiet", *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus, tiny, cache_dir):
    """The uninterrupted run: embeddings and a flat index (in process)."""
    d = tmp_path_factory.mktemp("ref")
    assert encode_main(list(map(str, _encode_args(corpus, tiny, d / "emb")))) == 0
    assert index_main(["faiss", "--input", str(d / "emb"), "--output", str(d / "index"), "--quiet"]) == 0
    return d


def _same_embeddings(a, b):
    (ia, ca), (ib, cb) = read_embeddings(a), read_embeddings(b)
    ids_a, emb_a = zip(*ca)
    ids_b, emb_b = zip(*cb)
    assert sum(ids_a, []) == sum(ids_b, []) and ia["count"] == ib["count"] == 40
    np.testing.assert_allclose(np.concatenate(emb_a), np.concatenate(emb_b), rtol=0, atol=1e-6)


def _no_leftovers(folder):
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name]


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_kill_during_a_chunk_then_resume_gives_the_uninterrupted_embeddings(tmp_path, corpus, tiny, reference):
    out = tmp_path / "emb"
    # the 3rd chunk's .docid and .json are in place, its .npy never written: SIGKILL inside the chunk's write
    r = run_with_fault("tctcb.encode", _encode_args(corpus, tiny, out), "numpy:save", 3)
    assert r.returncode == -9, r.stderr
    shard = out / "shard-00000-of-00001"
    assert sorted(p.name for p in shard.glob("*.npy")) == ["000000.npy", "000001.npy"]
    r = run_command("tctcb.encode", _encode_args(corpus, tiny, out))  # without --resume: refused, named
    assert r.returncode == 2 and "2 chunks written" in _one_error_line(r.stderr)
    r = run_command("tctcb.encode", _encode_args(corpus, tiny, out, "--resume"))
    assert r.returncode == 0, r.stderr
    _same_embeddings(out, reference / "emb")
    assert _no_leftovers(out) == []


def test_ctrl_c_is_one_line_and_130_then_resume(tmp_path, corpus, tiny, reference):
    out = tmp_path / "emb"
    r = run_with_fault("tctcb.encode", _encode_args(corpus, tiny, out), "tctcb.encode._corpus:_write_chunk", 2, sig="INT")
    assert r.returncode == 130 and "interrupted" in _one_error_line(r.stderr)
    assert encode_main(list(map(str, _encode_args(corpus, tiny, out, "--resume")))) == 0
    _same_embeddings(out, reference / "emb")


def test_stopped_before_the_first_chunk_leaves_no_stub(tmp_path, corpus, tiny):
    out = tmp_path / "emb"
    r = run_with_fault("tctcb.encode", _encode_args(corpus, tiny, out), "tctcb.encode._corpus:_write_chunk", 1)
    assert r.returncode == -9
    # nothing was finished, so nothing forces --resume: the same command simply runs
    assert encode_main(list(map(str, _encode_args(corpus, tiny, out)))) == 0


def test_kill_while_writing_the_faiss_index_then_rerun(tmp_path, reference):
    idx = tmp_path / "index"
    args = ["faiss", "--input", reference / "emb", "--output", idx, "--quiet"]
    r = run_with_fault("tctcb.index", args, "faiss:write_index", 1)
    assert r.returncode == -9 and not idx.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".index.tmp-")]  # the killed run's temporary folder
    r = run_command("tctcb.index", args)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # its leftover removed (its process is gone)
    for f in ("index", "docid"):
        assert filecmp.cmp(idx / f, reference / "index" / f, shallow=False)


def test_duplicate_docids_are_refused_at_encode_and_at_indexing(tmp_path, corpus, tiny, reference, capsys):
    dup = tmp_path / "dup.jsonl"
    lines = corpus.read_text().splitlines()
    dup.write_text("\n".join(lines[:5] + [lines[2]] + lines[5:]) + "\n")
    assert encode_main(list(map(str, _encode_args(dup, tiny, tmp_path / "e")))) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "dup.jsonl, line 6: document id 'D2' repeats line 3" in line
    assert not (tmp_path / "e").exists()
    emb = tmp_path / "emb"
    shutil.copytree(reference / "emb", emb)
    ids = emb / "shard-00000-of-00001" / "000001.docid"
    ids.write_text(ids.read_text().replace("D9\n", "D3\n"))
    assert index_main(["faiss", "--input", str(emb), "--output", str(tmp_path / "idx"), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "document id 'D3' is at rows 3 and 9" in line and not (tmp_path / "idx").exists()


@pytest.mark.parametrize("content,says", [
    (b"", "no documents (the file is empty)"),
    (b'{"id": "a", "contents": "ok"}\n{"id": "b", "contents": "caf\xe9"}\n', "line 2: not UTF-8 text"),
    (b'{"id": "a", "contents": "ok"}\n{"id": "", "contents": "x"}\n', "line 2: empty document id"),
    (b"a\tfine\nno tab here\n", "line 2: expected 'docid<TAB>text', found no tab"),
    (b'{"id": "a", "contents": ["not", "text"]}\n', "is not a string"),
])
def test_bad_corpus_files(tmp_path, tiny, capsys, content, says):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    assert encode_main(list(map(str, _encode_args(bad, tiny, tmp_path / "e")))) == 2
    assert says in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "e").exists()


def test_damaged_embedding_folders_are_named(tmp_path, reference, capsys):
    emb = tmp_path / "emb"
    shutil.copytree(reference / "emb", emb)
    npy = emb / "shard-00000-of-00001" / "000002.npy"
    npy.write_bytes(npy.read_bytes()[:100])
    assert index_main(["faiss", "--input", str(emb), "--output", str(tmp_path / "i"), "--quiet"]) == 2
    assert "000002.npy is truncated or not a .npy array" in _one_error_line(capsys.readouterr().err)
    (emb / "shard-00000-of-00001.json").write_text("[1, 2]")
    assert index_main(["faiss", "--input", str(emb), "--output", str(tmp_path / "i"), "--quiet"]) == 2
    assert "not written by python -m tctcb.encode" in _one_error_line(capsys.readouterr().err)
    assert index_main(["faiss", "--input", str(tmp_path / "nothing"), "--output", str(tmp_path / "i"), "--quiet"]) == 2
    assert "no such embedding folder" in _one_error_line(capsys.readouterr().err)


def test_encode_options_and_devices(tmp_path, corpus, tiny, capsys):
    import torch

    if not torch.cuda.is_available():
        assert encode_main(list(map(str, _encode_args(corpus, tiny, tmp_path / "e", "--device", "cuda")))) == 2
        assert "CUDA is not available here" in _one_error_line(capsys.readouterr().err)
    assert encode_main(list(map(str, _encode_args(corpus, tiny, tmp_path / "e", "--device", "tpu9")))) == 2
    assert "--device 'tpu9'" in _one_error_line(capsys.readouterr().err)
    assert encode_main(list(map(str, _encode_args(corpus, tiny, tmp_path / "e", "--chunk-size", "0")))) == 2
    assert "argument --chunk-size: must be >= 1, got 0" in _one_error_line(capsys.readouterr().err)
    (tmp_path / "file").write_text("x")
    assert encode_main(list(map(str, _encode_args(corpus, tiny, tmp_path / "file" / "e")))) == 2
    assert "file" in _one_error_line(capsys.readouterr().err)


def test_non_finite_vectors_are_refused(tmp_path, reference, corpus, tiny, capsys):
    emb = tmp_path / "emb"
    shutil.copytree(reference / "emb", emb)
    npy = emb / "shard-00000-of-00001" / "000001.npy"
    a = np.load(npy)
    a[2, 0] = np.nan
    np.save(npy, a)
    assert index_main(["faiss", "--input", str(emb), "--output", str(tmp_path / "i"), "--quiet"]) == 2
    assert "the vector of document 'D10' is not finite" in _one_error_line(capsys.readouterr().err)
    assert encode_main(list(map(str, _encode_args(corpus, tiny, tmp_path / "e", "--fp16")))) == 2
    assert "--fp16 needs a CUDA device" in _one_error_line(capsys.readouterr().err)


def test_index_without_a_command_is_one_line(capsys):
    assert index_main([]) == 2
    assert "give a command: lucene, faiss, impact or bm25-run" in _one_error_line(capsys.readouterr().err)
