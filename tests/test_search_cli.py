"""``python -m tctcb.search`` on ADI (82 docs): dense, BM25, hybrid, tuning, and the bad-input errors."""
from tctcb.search._cli import main


def _read(path):
    lines = [ln.split() for ln in path.read_text().splitlines()]
    return lines


def test_dense_run_trec(adi_dense, tmp_path, capsys):
    out = tmp_path / "dense.trec"
    assert main(["--topics", "adi", "--index", str(adi_dense), "--output", str(out), "--hits", "10",
                 "--batch-size", "16"]) == 0
    lines = _read(out)
    qids = {ln[0] for ln in lines}
    assert len(qids) == 35 and all(len(ln) == 6 and ln[1] == "Q0" for ln in lines)
    assert len(lines) == 35 * 10
    from tctcb.data import get_qrels
    from tctcb.eval import evaluate, read_run

    ndcg = evaluate(read_run(out), get_qrels("adi"), ["nDCG@10"])["nDCG@10"]
    assert ndcg > 0.3  # zero-shot MiniLM on ADI is far above random (~0.05)
    assert "35 queries" in capsys.readouterr().err
    import json

    stats = json.loads((tmp_path / "dense.trec.stats.json").read_text())
    assert stats["queries"] == 35 and stats["search_seconds"] > 0 and stats["blank_queries"] == 0


def test_bm25_only_and_hybrid(adi_dense, tmp_path, capsys):
    bm25 = tmp_path / "bm25.msmarco"
    assert main(["--topics", "adi", "--sparse-index", "adi", "--output", str(bm25), "--output-format", "msmarco",
                 "--hits", "20", "--quiet"]) == 0
    lines = [ln.split("\t") for ln in bm25.read_text().splitlines()]
    assert all(len(ln) == 3 for ln in lines) and lines[0][2] == "1"
    hyb = tmp_path / "hybrid.trec"
    assert main(["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--output", str(hyb),
                 "--hits", "20", "--k0", "20", "--alpha", "0.1", "--quiet"]) == 0
    from tctcb.data import get_qrels
    from tctcb.eval import evaluate, read_run

    qrels = get_qrels("adi")
    scores = {n: evaluate(read_run(p), qrels, ["nDCG@10"])["nDCG@10"] for n, p in (("bm25", bm25), ("hyb", hyb))}
    assert scores["hyb"] > 0.3 and scores["bm25"] > 0.3
    rrf = tmp_path / "rrf.trec"
    assert main(["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--output", str(rrf),
                 "--hits", "20", "--fusion", "rrf", "--quiet"]) == 0
    top = float(_read(rrf)[0][4])
    assert 0 < top <= 2 / 61 + 1e-6


def test_tune_alpha_prints_choice(adi_dense, tmp_path, capsys):
    out = tmp_path / "tuned.trec"
    assert main(["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--output", str(out),
                 "--hits", "20", "--tune-alpha-on", "adi", "--alpha-grid", "0,0.05,0.1", "--quiet"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("tuned alpha: ") and "nDCG@10" in line and "3 values tried" in line
    assert float(line.split()[2]) in (0.0, 0.05, 0.1)


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_errors_exit_2_with_one_line(adi_dense, tmp_path, capsys):
    out = tmp_path / "x.trec"
    assert main(["--topics", "no-such-topics", "--sparse-index", "adi", "--output", str(out)]) == 2
    assert "no-such-topics" in _err(capsys)
    rep = tmp_path / "rep.tsv"
    rep.write_text("1\tfirst query\n2\tsecond\n1\tagain\n")
    assert main(["--topics", str(rep), "--sparse-index", "adi", "--output", str(out)]) == 2
    assert "'1' is repeated" in _err(capsys)
    assert main(["--topics", "adi", "--sparse-index", str(tmp_path / "nope"), "--output", str(out)]) == 2
    assert "no such directory" in _err(capsys)
    assert main(["--topics", "adi", "--sparse-index", str(adi_dense), "--output", str(out)]) == 2
    assert "dense (FAISS) index" in _err(capsys)
    (tmp_path / "emptydir").mkdir()
    assert main(["--topics", "adi", "--sparse-index", str(tmp_path / "emptydir"), "--output", str(out)]) == 2
    assert "not a Lucene index" in _err(capsys)
    assert main(["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--hits", "10", "--k0", "100",
                 "--output", str(out)]) == 2
    assert "--hits 10 is below --k0 100" in _err(capsys)
    assert main(["--topics", "adi", "--output", str(out)]) == 2
    _err(capsys)
    assert not out.exists()  # nothing written on error


def test_named_prebuilt_fails_offline_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYSERINI_CACHE", str(tmp_path / "pyserini-cache"))
    out = tmp_path / "x.trec"
    assert main(["--topics", "adi", "--index", "msmarco-v1-passage.tct_colbert", "--encoder",
                 "castorini/tct_colbert-msmarco", "--output", str(out)]) == 2
    line = _err(capsys)
    assert "msmarco-v1-passage.tct_colbert" in line and "--index /path/to" in line
    assert main(["--topics", "adi", "--sparse-index", "msmarco-v1-passage", "--output", str(out)]) == 2
    line = _err(capsys)
    assert "msmarco-v1-passage" in line and "--sparse-index /path/to" in line


def test_named_encoder_fails_offline(tmp_path, capsys, monkeypatch, adi_dense):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "x.trec"
    assert main(["--topics", "adi", "--index", str(adi_dense), "--encoder", "castorini/tct_colbert-msmarco",
                 "--output", str(out)]) == 2
    line = _err(capsys)
    assert "castorini/tct_colbert-msmarco" in line and "--encoder DIR" in line
