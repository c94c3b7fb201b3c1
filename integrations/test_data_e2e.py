"""tctcb.data end to end: every collection converted to Pyserini JSONL in the cache reads back with the
SOURCE.md count and the same ids and contents; the CLI's list and verify succeed on the data directory."""
import json
import subprocess
import sys

import pytest

from tctcb.data import get_collection, list_collections, read_jsonl_corpus

DOCS = {"adi": 82, "cacm": 3204, "cranfield": 1400, "nfcorpus": 3633, "scifact": 5183, "dl19-pool": 10852}


@pytest.mark.parametrize("name", list(DOCS))
def test_jsonl_round_trip(name, data_dir, cache_dir):
    assert set(list_collections()) == set(DOCS)
    col = get_collection(name)
    out = col.jsonl_dir()
    assert out.is_relative_to(cache_dir) and [p.name for p in out.iterdir()] == ["docs.jsonl"]
    back = list(read_jsonl_corpus(out / "docs.jsonl"))
    assert len(back) == DOCS[name] == len(col)
    assert [(d.docid, d.contents) for d in back] == [(d.docid, d.contents) for d in col.docs()]
    with open(out / "docs.jsonl", encoding="utf-8") as f:
        assert set(json.loads(next(f))) == {"id", "contents"}
    assert col.jsonl_dir() == out  # reused


@pytest.mark.parametrize("command", ["list", "verify"])
def test_cli_list_and_verify(command, data_dir):
    r = subprocess.run([sys.executable, "-m", "tctcb.data", command, "--data-dir", str(data_dir)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "MISMATCH" not in r.stdout and "BAD" not in r.stdout and "MISSING" not in r.stdout
    if command == "list":
        assert "dl19-pool" in r.stdout and "10,852" in r.stdout
    else:
        assert r.stdout.count("OK ") == 16
