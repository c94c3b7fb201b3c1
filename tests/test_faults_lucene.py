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
