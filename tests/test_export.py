"""Exports (``python -m tctcb.export``): ONNX graphs that equal the PyTorch encoders and run as an encoding backend
(encode, index, search), int8 quantisation, the sentence-transformers folder, and the one-line errors.
Tiny random BERTs with the MiniLM vocabulary keep it fast (weights don't change what is checked)."""
import json
import shutil

import numpy as np
import pytest

from tctcb.encode import (ONNX_CONFIG, OnnxError, SentenceTransformerEncoder, TctColBertDocumentEncoder,
                          TctColBertQueryEncoder, load_query_encoder, query_encoder_pooling, read_embeddings)
from tctcb.encode._cli import main as encode_main
from tctcb.export import export_onnx, export_sentence_transformers
from tctcb.export._cli import main as export_main
from tiny_models import make_tiny_bert

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

WORDS = "statin cancer vitamin diet heart fish oil sugar breast milk iron gut".split()
QUERIES = ["statins", "", "does fish oil help the heart?", " ".join(WORDS * 5), "vitamin d"]  # one past 36 tokens
DOCS = ["", "Statins lower cholesterol.", " ".join(WORDS * 60), "fish oil " * 7, "x"] + \
       [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(i % 40)) for i in range(30)]  # 0..700+ tokens


@pytest.fixture(scope="module")
def models(tmp_path_factory, cache_dir):  # (cache_dir: encode's corpus store goes to the test session's cache)
    """A tct model, the same weights as a sentence-transformers folder, and their ONNX exports (fp32; int8 for st)."""
    root = tmp_path_factory.mktemp("export")
    tct = make_tiny_bert(root / "tct")
    st = export_sentence_transformers(tct, root / "st", pooling="st", progress=False)
    export_onnx(tct, root / "tct-onnx", progress=False)
    export_onnx(st, root / "st-onnx", progress=False)
    export_onnx(st, root / "st-int8", quantize="int8", progress=False)
    return {k: root / k for k in ("tct", "st", "tct-onnx", "st-onnx", "st-int8")}


def test_onnx_tct_graphs_equal_the_pytorch_encoders(models):
    cfg = json.loads((models["tct-onnx"] / ONNX_CONFIG).read_text())
    assert cfg["pooling"] == "tct" and cfg["quantize"] is None and cfg["source"] == str(models["tct"].resolve())
    assert sorted(p.name for p in models["tct-onnx"].glob("*.onnx")) == ["document.onnx", "query.onnx"]
    assert all(c["max_abs_diff_fp32"] < 1e-4 for c in cfg["checks"].values())

    for batch_size in (1, 2, 256):  # batches of one, ragged and all at once
        ref = TctColBertQueryEncoder(models["tct"], batch_size=batch_size).encode_batch(QUERIES)
        q = TctColBertQueryEncoder(models["tct-onnx"], batch_size=batch_size)  # backend chosen by the folder
        assert q.backend == "onnx" and q.model is None
        got = q.encode_batch(QUERIES)
        assert got.shape == (5, 32) and np.abs(got - ref).max() < 1e-4
    assert np.abs(q.encode("statins") - ref[0]).max() < 1e-4

    titles = [f"title {i}" for i in range(len(DOCS))]
    for batch_tokens in (64, None):  # many small padded batches, and the CPU default
        torch_enc = TctColBertDocumentEncoder(models["tct"], batch_tokens=batch_tokens)
        onnx_enc = TctColBertDocumentEncoder(models["tct-onnx"], batch_tokens=batch_tokens, backend="onnx")
        for titled in (None, titles):
            ref, got = torch_enc.encode(DOCS, titles=titled), onnx_enc.encode(DOCS, titles=titled)
            assert np.abs(got - ref).max() < 1e-4
        assert onnx_enc.stats.truncated == torch_enc.stats.truncated > 0 and onnx_enc.stats.empty >= 1
    assert np.abs(got[0]).max() > 0 and np.abs(ref - got).max() < 1e-4


def test_onnx_st_graph_equals_the_pytorch_encoder_and_int8_is_close_but_quantised(models):
    assert [p.name for p in models["st-onnx"].glob("*.onnx")] == ["encoder.onnx"]
    texts = QUERIES + DOCS
    ref = SentenceTransformerEncoder(models["st"]).encode(texts)
    got = SentenceTransformerEncoder(models["st-onnx"]).encode(texts)
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(load_query_encoder(models["st-onnx"], "st").encode_batch(QUERIES) - ref[:5]).max() < 1e-4

    q8 = SentenceTransformerEncoder(models["st-int8"])
    assert q8.dtype == "int8" and json.loads((models["st-int8"] / ONNX_CONFIG).read_text())["quantize"] == "int8"
    int8 = q8.encode(texts)
    cos = (int8 * ref).sum(1) / (np.linalg.norm(int8, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() > 0.9  # close ...
    assert np.abs(int8 - ref).max() > 1e-5  # ... but not the fp32 graph: the quantiser ran
    assert (models["st-int8"] / "encoder.onnx").stat().st_size < 0.6 * (models["st-onnx"] / "encoder.onnx").stat().st_size


def test_an_export_computes_one_pooling(models):
    assert query_encoder_pooling(models["tct-onnx"], None, None) == "tct"
    assert query_encoder_pooling(models["st-onnx"], None, None) == "st"
    with pytest.raises(OnnxError, match="computes pooling 'tct'"):
        query_encoder_pooling(models["tct-onnx"], None, "st")
    with pytest.raises(OnnxError, match="exported for pooling 'st'"):
        TctColBertQueryEncoder(models["st-onnx"])


def _write_corpus(path, n=40):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"D{i}", "contents": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 20))})
                    + "\n")
    return path


def test_encode_with_the_onnx_backend_writes_an_index_that_search_uses(models, tmp_path):
    from tctcb.index import build_faiss_index
    from tctcb.search import DenseSearcher
    from tctcb.search._cli import main as search_main

    corpus = _write_corpus(tmp_path / "c.jsonl")
    emb = tmp_path / "emb"
    assert encode_main(["--corpus", str(corpus), "--encoder", str(models["tct-onnx"]), "--backend", "onnx",
                        "--output", str(emb), "--quiet"]) == 0
    meta, chunks = read_embeddings(emb)
    vectors = np.concatenate([e for _, e in chunks])
    texts = [json.loads(line)["contents"] for line in open(corpus)]
    assert np.abs(vectors - TctColBertDocumentEncoder(models["tct"]).encode(texts)).max() < 1e-4
    index = build_faiss_index(emb, tmp_path / "index", progress=False)
    info = json.loads((index / "meta.json").read_text())
    assert info["backend"] == "onnx" and info["encoder"] == str(models["tct-onnx"].resolve())
    assert info["pooling"] == "tct" and info["dtype"] == "fp32"

    queries = ["statin heart", "fish oil diet", "iron"]
    onnx_q = load_query_encoder(models["tct-onnx"], query_encoder_pooling(models["tct-onnx"], index, None))
    hits = DenseSearcher(index, onnx_q).batch_search(queries, ["1", "2", "3"], k=5)
    ref = DenseSearcher(index, TctColBertQueryEncoder(models["tct"])).batch_search(queries, ["1", "2", "3"], k=5)
    for q in hits:
        assert [h.docid for h in hits[q]] == [h.docid for h in ref[q]]
        assert np.allclose([h.score for h in hits[q]], [h.score for h in ref[q]], atol=1e-4)

    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"{i}\t{q}\n" for i, q in enumerate(queries)))
    run = tmp_path / "run.txt"  # the index's meta.json names the export: its query graph encodes the queries
    assert search_main(["--topics", str(topics), "--index", str(index), "--output", str(run), "--hits", "5",
                        "--quiet"]) == 0
    first = run.read_text().splitlines()[0].split()
    assert first[0] == "0" and first[2] == hits["1"][0].docid


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_bad_input_is_one_line(models, tmp_path, capsys):
    no_tok = tmp_path / "no-tokenizer"
    shutil.copytree(models["tct"], no_tok)
    for f in no_tok.glob("*"):
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            f.unlink()
    out = tmp_path / "out"
    assert export_main(["--model", str(no_tok), "--format", "onnx", "--output", str(out)]) == 2
    _one_error_line(capsys, str(no_tok), "no tokenizer")
    assert not out.exists()

    corpus = _write_corpus(tmp_path / "c.jsonl", 3)
    assert encode_main(["--corpus", str(corpus), "--encoder", str(models["tct"]), "--backend", "onnx",
                        "--output", str(tmp_path / "emb"), "--quiet"]) == 2
    _one_error_line(capsys, "--backend onnx", str(models["tct"]), "python -m tctcb.export --model")
    assert encode_main(["--corpus", str(corpus), "--encoder", str(models["tct-onnx"]), "--backend", "torch",
                        "--output", str(tmp_path / "emb"), "--quiet"]) == 2
    _one_error_line(capsys, "is an ONNX export", "--backend onnx")
    assert encode_main(["--corpus", str(corpus), "--encoder", str(models["tct-onnx"]), "--bf16",
                        "--output", str(tmp_path / "emb"), "--quiet"]) == 2
    _one_error_line(capsys, "--bf16", "precision it was exported in")

    assert export_main(["--model", str(models["tct"]), "--format", "sentence-transformers", "--output", str(out)]) == 2
    _one_error_line(capsys, "TCT-ColBERT", "[MASK]", "sentence-transformers cannot express", "--format onnx")
    assert export_main(["--model", str(models["st"]), "--format", "sentence-transformers", "--quantize", "int8",
                        "--output", str(out)]) == 2
    _one_error_line(capsys, "--quantize applies to --format onnx")
    assert export_main(["--model", str(models["tct-onnx"]), "--format", "onnx", "--output", str(out)]) == 2
    _one_error_line(capsys, "already an ONNX export")
    assert export_main(["--model", str(models["tct"]), "--format", "onnx", "--output", str(models["st"])]) == 2
    _one_error_line(capsys, "not empty", "--overwrite")
    assert export_main(["--model", str(models["tct"]), "--format", "pylate", "--output", str(out)]) == 2
    _one_error_line(capsys, "--format")

    broken = tmp_path / "broken-onnx"  # a damaged export: a truncated graph, then a missing one
    shutil.copytree(models["tct-onnx"], broken)
    (broken / "query.onnx").write_bytes((broken / "query.onnx").read_bytes()[:1000])
    with pytest.raises(OnnxError, match="query.onnx: onnxruntime cannot load it"):
        TctColBertQueryEncoder(broken).encode("statins")
    (broken / "document.onnx").unlink()
    assert encode_main(["--corpus", str(corpus), "--encoder", str(broken), "--output", str(tmp_path / "emb"),
                        "--quiet"]) == 2
    _one_error_line(capsys, "document.onnx", "missing")

    dense = tmp_path / "st-dense"  # a sentence-transformers model tctcb's st encoder does not compute
    shutil.copytree(models["st"], dense)
    mods = json.loads((dense / "modules.json").read_text())
    (dense / "modules.json").write_text(json.dumps(mods + [{"idx": 3, "name": "3", "path": "3_Dense",
                                                            "type": "sentence_transformers.models.Dense"}]))
    for fmt in ("onnx", "sentence-transformers"):
        assert export_main(["--model", str(dense), "--format", fmt, "--output", str(out)]) == 2
        _one_error_line(capsys, "modules ['Dense']")
    teacher = tmp_path / "teacher"
    shutil.copytree(models["tct"], teacher)
    (teacher / "tctcb_colbert.json").write_text("{}")
    assert export_main(["--model", str(teacher), "--format", "onnx", "--output", str(out)]) == 2
    _one_error_line(capsys, "ColBERT teacher", "tctcb_colbert.json")
    assert not out.exists()


def test_sentence_transformers_export_round_trip(models, tmp_path, capsys):
    st = pytest.importorskip("sentence_transformers")
    assert json.loads((models["st"] / "modules.json").read_text())[2]["path"] == "2_Normalize"
    assert (models["st"] / "1_Pooling" / "config.json").is_file() and (models["st"] / "2_Normalize").is_dir()
    texts = QUERIES + DOCS
    ref = st.SentenceTransformer(str(models["st"]), device="cpu").encode(texts, convert_to_numpy=True)
    ours = SentenceTransformerEncoder(models["st"]).encode(texts)
    assert ref.shape == ours.shape == (len(texts), 32) and np.abs(ref - ours).max() < 1e-4
    assert np.allclose(np.linalg.norm(ref, axis=1), 1, atol=1e-5)
    # an st folder exported again (through the CLI) is the same encoder
    again = tmp_path / "again"
    assert export_main(["--model", str(models["st"]), "--format", "sentence-transformers", "--output", str(again),
                        "--quiet"]) == 0
    ref2 = st.SentenceTransformer(str(again), device="cpu").encode(texts, convert_to_numpy=True)
    assert np.abs(ref2 - ref).max() < 1e-5
