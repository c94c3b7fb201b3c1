"""Faults in search, fusion and evaluation: numbers out of range, options that would do nothing, damaged
indexes and run files, files that are not UTF-8, outputs that cannot be written, and the two warnings
(an index searched with another encoder; a run whose queries are mostly unjudged)."""
import shutil

import pytest

from tctcb.eval._cli import main as eval_main
from tctcb.fuse._cli import main as fuse_main
from tctcb.search._cli import main as search_main


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("extra,says", [
    (["--alpha", "nan"], "argument --alpha: must be a finite number"),
    (["--alpha", "inf"], "argument --alpha: must be a finite number"),
    (["--alpha", "-1"], "argument --alpha: must be >= 0"),
    (["--fusion", "rrf", "--rrf-k", "-1"], "argument --rrf-k: must be >= 0"),
    (["--k0", "-3"], "argument --k0: must be >= 1"),
    (["--hits", "0"], "argument --hits: must be >= 1"),
    (["--bm25-b", "2"], "argument --bm25-b: must be <= 1"),
    (["--fusion", "rrf", "--alpha", "0.5"], "--alpha applies only to --fusion weighted"),
    (["--rrf-k", "10"], "--rrf-k applies only to --fusion rrf"),
    (["--rerank-depth", "10"], "--rerank-depth applies only to --rerank-with"),
    (["--tune-alpha-on", "adi", "--alpha", "0.3"], "--alpha applies only to a search without --tune-alpha-on"),
])
def test_hybrid_numbers_and_combinations(adi_dense, tmp_path, capsys, extra, says):
    out = tmp_path / "run.trec"
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--output", str(out),
                        *extra]) == 2
    assert says in _error(capsys)
    assert not out.exists()


def test_options_of_another_kind_of_search(adi_dense, tmp_path, capsys):
    out = str(tmp_path / "run.trec")
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--output", out, "--alpha", "0.5"]) == 2
    assert "--alpha applies only to a hybrid search" in _error(capsys)
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--output", out, "--bm25-k1", "1.2"]) == 2
    assert "--bm25-k1 applies only to --sparse-index" in _error(capsys)
    assert search_main(["--topics", "adi", "--sparse-index", "adi", "--output", out, "--ef-search", "64"]) == 2
    assert "--ef-search applies only to --index (dense)" in _error(capsys)


def test_damaged_dense_index_and_unwritable_output(adi_dense, tmp_path, capsys):
    idx = tmp_path / "idx"
    shutil.copytree(adi_dense, idx)
    (idx / "index").write_bytes((adi_dense / "index").read_bytes()[:200])
    args = ["--topics", "adi", "--index", str(idx), "--output", str(tmp_path / "r.trec")]
    assert search_main(args) == 2
    assert "not a readable FAISS index" in _error(capsys)
    shutil.copy(adi_dense / "index", idx / "index")
    (idx / "docid").write_bytes(b"a\n\xff\n")
    assert search_main(args) == 2
    assert "docid: not UTF-8 text" in _error(capsys)
    shutil.copy(adi_dense / "docid", idx / "docid")
    (idx / "meta.json").write_text("{not json")
    assert search_main(args) == 2
    assert "meta.json: not readable JSON" in _error(capsys)
    (tmp_path / "afile").write_text("x")
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--output", str(tmp_path / "afile" / "r.trec")]) == 2
    assert "afile" in _error(capsys)


def test_another_encoder_than_the_index_recorded_is_a_warning(adi_dense, tmp_path, capsys):
    from tiny_models import make_tiny_bert

    other = make_tiny_bert(tmp_path / "other", hidden=384, layers=1)
    capsys.readouterr()
    out = tmp_path / "r.trec"
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--encoder", str(other), "--pooling", "st",
                        "--output", str(out), "--hits", "5", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: --encoder") and "is not the encoder recorded in" in err and out.is_file()
    assert search_main(["--topics", "adi", "--index", str(adi_dense), "--output", str(out), "--hits", "5",
                        "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err  # the recorded encoder: no warning


def _run(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_fuse_refuses_non_finite_and_foreign_runs(tmp_path, capsys):
    good = _run(tmp_path / "a.trec", ["1 Q0 d1 1 2.0 x", "1 Q0 d2 2 1.0 x"])
    nan = _run(tmp_path / "n.trec", ["1 Q0 d1 1 nan x"])
    out = tmp_path / "f.trec"
    assert fuse_main(["--runs", good, nan, "--output", str(out)]) == 2
    assert "n.trec:1: score nan is not a finite number" in _error(capsys)
    latin = tmp_path / "l.trec"
    latin.write_bytes(b"1 Q0 d1 1 2.0 x\n1 Q0 caf\xe9 2 1.0 x\n")
    assert fuse_main(["--runs", good, str(latin), "--output", str(out)]) == 2
    assert "l.trec, line 2: not utf-8 text" in _error(capsys)
    assert fuse_main(["--runs", good, good, "--weights", "1", "inf", "--output", str(out)]) == 2
    assert "argument --weights: must be a finite number" in _error(capsys)
    assert not out.exists()


def test_eval_warns_on_mostly_unjudged_runs_and_refuses_nan(tmp_path, data_dir, capsys):
    run = _run(tmp_path / "r.trec", ["1 Q0 1 1 2.0 x", "900 Q0 2 1 1.0 x", "901 Q0 3 1 1.0 x"])
    assert eval_main(["--qrels", "adi", "--run", run, "-m", "nDCG@10"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: 2 of the 3 queries") and "have no judgments in adi" in err
    assert eval_main(["--qrels", "adi", "--run", _run(tmp_path / "n.trec", ["1 Q0 1 1 -inf x"])]) == 2
    assert "not a finite number" in _error(capsys)
    assert eval_main(["--qrels", "adi", "--run", run, "--compare", run, "--trials", "0"]) == 2
    assert "argument --trials: must be >= 1" in _error(capsys)


def test_no_command_writes_a_non_finite_score(tmp_path):
    from tctcb.eval import write_run
    from tctcb.eval._runs import RunFormatError

    with pytest.raises(RunFormatError, match="non-finite"):
        write_run({"q": {"d": float("nan")}}, tmp_path / "r.trec")
    assert not (tmp_path / "r.trec").exists() and not list(tmp_path.iterdir())


def test_more_bad_arguments_found_by_trying(adi_dense, tmp_path, capsys, data_dir):
    """Cases a probe of every command turned up (each was a traceback or a crash before)."""
    run = _run(tmp_path / "r.trec", ["1 Q0 1 1 2.0 x"])
    assert eval_main(["--qrels", "adi", "--run", run, "--rel-level", "0"]) == 2
    assert "argument --rel-level: must be >= 1" in _error(capsys)
    assert eval_main(["--qrels", "adi", "--run", run, "-m", "nDCG@0"]) == 2  # trec_eval aborted the process
    assert "the cutoff after @ must be >= 1" in _error(capsys)
    out = str(tmp_path / "s.trec")
    hybrid = ["--topics", "adi", "--index", str(adi_dense), "--sparse-index", "adi", "--output", out]
    assert search_main(hybrid + ["--run-tag", "a b"]) == 2
    assert "--run-tag must be one word" in _error(capsys)
    assert search_main(hybrid + ["--tune-alpha-on", "adi", "--alpha-grid", "x,1"]) == 2
    assert "--alpha-grid: comma-separated numbers expected" in _error(capsys)
    assert search_main(hybrid + ["--tune-alpha-on", "adi", "--alpha-grid", "nan,1"]) == 2
    assert "alphas must be finite" in _error(capsys)
    assert search_main(hybrid + ["--tune-alpha-on", "adi", "--tune-metric", "foo@10"]) == 2
    assert "unknown metric 'foo@10'" in _error(capsys)
    assert search_main(hybrid + ["--tune-alpha-on", "adi", "--tune-qrels", "nfcorpus-dev"]) == 2
    assert "no query of" in _error(capsys)
    broken = tmp_path / "lucene"
    broken.mkdir()
    (broken / "segments_1").write_bytes(b"not lucene")
    assert search_main(["--topics", "adi", "--sparse-index", str(broken), "--output", out]) == 2
    assert "not a readable Lucene index" in _error(capsys)
    assert not (tmp_path / "s.trec").exists()
