"""Faults in Lucene indexing: a build killed after Anserini wrote the index, before it was checked and put in
place; the rerun of the same command removes the dead build's folder and gives the same documents and hits."""
from faults import run_command, run_with_fault


def test_kill_during_lucene_indexing_then_rerun(tmp_path, data_dir, monkeypatch):
    from tctcb.data import get_collection, get_topics
    from tctcb.index import bm25_run, count_lucene_docs, lucene_index_dir

    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    r = run_with_fault("tctcb.index", ["lucene", "--collection", "adi"], "tctcb.index._lucene:count_lucene_docs", 1)
    assert r.returncode == -9
    final = lucene_index_dir("adi", "bm25")
    assert not final.exists()
    dead = [p for p in final.parent.iterdir() if p.name.startswith(f".{final.name}.tmp-")]
    assert dead and any(dead[0].glob("segments_*"))  # Anserini's output, never checked: not taken for the index
    r = run_command("tctcb.index", ["lucene", "--collection", "adi"])
    assert r.returncode == 0 and r.stdout.strip() == str(final), r.stderr
    assert [p.name for p in final.parent.iterdir() if not p.name.endswith(".lock")] == [final.name]
    assert count_lucene_docs(final) == len(get_collection("adi"))
    topics = get_topics("adi")
    hits = bm25_run(final, topics, k=20)
    r = run_command("tctcb.index", ["lucene", "--collection", "adi", "--force"])  # an uninterrupted build
    assert r.returncode == 0, r.stderr
    assert bm25_run(final, topics, k=20) == hits


def test_ctrl_c_inside_a_java_search_is_one_line_and_130(tmp_path, data_dir, cache_dir):
    """Java's own Ctrl-C handler used to end the process without a line, or hang it waiting on a Python thread;
    the JVM now leaves SIGINT to Python (-Xrs). The signal arrives 0.3 s into Anserini's batch search."""
    r = run_with_fault("tctcb.search", ["--topics", "nfcorpus-train", "--sparse-index", "nfcorpus",
                                        "--output", tmp_path / "r.trec", "--quiet"],
                       "tctcb.search._bm25:Bm25Searcher.ranked_lists", 1, sig="INT", delay=0.3, timeout=300)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert r.returncode == 130 and len(errors) == 1 and "interrupted" in errors[0], r.stderr
    assert not (tmp_path / "r.trec").exists()
