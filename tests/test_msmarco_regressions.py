"""The MS MARCO / TREC DL regressions (castorini checkpoints + Pyserini prebuilt indexes, online only):
YAML structure, the commands they generate, the offline stop, and the one-line failure when the
names cannot be fetched. No network: the end-to-end checks run with HF_HUB_OFFLINE=1 and empty caches.

Expected scores live only in the YAML; these tests check their shape, not their values."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tctcb.reproduce import load_regression, render_doc
from tctcb.reproduce._cli import main
from tctcb.reproduce._docs import docs_dir
from tctcb.reproduce._runner import expand_commands

REPO = Path(__file__).resolve().parents[1]
NAMES = ("msmarco-passage-tct_colbert", "msmarco-passage-tct_colbert-v2", "dl19-passage-tct_colbert-v2")

# The run configuration of each condition (index, encoder, sparse index, alpha, BM25 k1/b), as Pyserini
# documents it (see each YAML's `source`). Parameters, not scores.
V1, V2 = "castorini/tct_colbert-msmarco", "castorini/tct_colbert-v2-hnp-msmarco"
BOW, D2Q = ("msmarco-v1-passage", "0.82", "0.68"), ("msmarco-v1-passage.d2q-t5", "2.18", "0.86")
CONFIG = {
    ("msmarco-passage-tct_colbert", "tct_colbert-flat"): ("msmarco-v1-passage.tct_colbert", V1, None, None),
    ("msmarco-passage-tct_colbert", "tct_colbert-hnsw"): ("msmarco-v1-passage.tct_colbert.hnsw", V1, None, None),
    ("msmarco-passage-tct_colbert", "tct_colbert-flat+bm25"): ("msmarco-v1-passage.tct_colbert", V1, BOW, "0.12"),
    ("msmarco-passage-tct_colbert", "tct_colbert-flat+doc2query-t5"):
        ("msmarco-v1-passage.tct_colbert", V1, D2Q, "0.22"),
}
for _reg in ("msmarco-passage-tct_colbert-v2", "dl19-passage-tct_colbert-v2"):
    CONFIG[(_reg, "tct_colbert-v2-hnp-flat")] = ("msmarco-v1-passage.tct_colbert-v2-hnp", V2, None, None)
    CONFIG[(_reg, "tct_colbert-v2-hnp-flat+bm25")] = ("msmarco-v1-passage.tct_colbert-v2-hnp", V2, BOW, "0.06")
    CONFIG[(_reg, "tct_colbert-v2-hnp-flat+doc2query-t5")] = ("msmarco-v1-passage.tct_colbert-v2-hnp", V2, D2Q, "0.1")


def _options(cmd: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a command line (flags without a value map to "")."""
    out, i = {}, 0
    while i < len(cmd):
        if cmd[i].startswith("--"):
            has_value = i + 1 < len(cmd) and not cmd[i + 1].startswith("--")
            out[cmd[i]] = cmd[i + 1] if has_value else ""
            i += 2 if has_value else 1
        else:
            i += 1
    return out


@pytest.fixture
def env(tmp_path, data_dir):
    """Environment for a subprocess with no network and empty caches (nothing can be found or fetched)."""
    e = dict(os.environ)
    for k in ("TCTCB_OFFLINE", "TRANSFORMERS_CACHE", "HF_HUB_CACHE"):
        e.pop(k, None)
    e.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
             TCTCB_DATA=str(data_dir), TCTCB_CACHE=str(tmp_path / "tctcb"), PYSERINI_CACHE=str(tmp_path / "pyserini"),
             HF_HOME=str(tmp_path / "hf"))
    return e


@pytest.mark.parametrize("name", NAMES)
def test_yaml_structure(name):
    reg = load_regression(name)
    assert reg.source and "pyserini" in reg.source.lower()
    assert re.search(r"\b[0-9a-f]{32,40}\b", reg.source), "source names a commit (or the file's md5)"
    assert [c.name for c in reg.conditions] == [c for (r, c) in CONFIG if r == name]
    dl19 = name.startswith("dl19")
    for c in reg.conditions:
        assert c.offline is False, f"{c.name} needs the internet and must say so"
        assert c.topics == c.qrels == ("dl19-passage" if dl19 else "msmarco-dev")
        metrics = {e.metric: e for e in c.scores}
        needed = {"nDCG@10", "AP", "R@1000"} if dl19 else {"RR@10", "R@1000"}
        assert needed <= set(metrics), f"{c.name}: {sorted(metrics)}"
        assert c.rel_level == (2 if dl19 else None)  # TREC DL: binary measures count grades >= 2
        for e in c.scores:
            assert 0.0 < e.expected < 1.0 and round(e.expected, 4) == e.expected, (c.name, e)
            assert 0.0 < e.tolerance <= 0.001, (c.name, e)


def test_hybrids_beat_their_dense_run():
    """A sanity check on the YAML (catches swapped rows): in every published table each hybrid scores
    above its dense run on the headline measure (RR@10 on MS MARCO dev, nDCG@10 on DL19)."""
    for name in NAMES:
        reg = load_regression(name)
        head = "nDCG@10" if name.startswith("dl19") else "RR@10"
        score = {c.name: {e.metric: e.expected for e in c.scores}[head] for c in reg.conditions}
        flat = next(v for k, v in score.items() if k.endswith("-flat"))
        assert all(v > flat for k, v in score.items() if "+" in k), score


@pytest.mark.parametrize("name", NAMES)
def test_commands(name, tmp_path):
    from tctcb.search._cli import build_parser

    reg = load_regression(name)
    parser = build_parser()
    for c in reg.conditions:
        (cmd,) = expand_commands(reg, c, cache=tmp_path)
        assert cmd[0] == sys.executable and cmd[1:3] == ["-m", "tctcb.search"]
        args = parser.parse_args(cmd[3:])  # our search CLI accepts every option
        opts = _options(cmd)
        index, encoder, sparse, alpha = CONFIG[(name, c.name)]
        assert (opts["--index"], opts["--encoder"], opts["--topics"]) == (index, encoder, c.topics)
        assert opts["--hits"] == "1000" and opts["--output"] == str(tmp_path / "reproduce" / name / f"{c.name}.run")
        assert opts["--output-format"] == ("trec" if name.startswith("dl19") else "msmarco")
        if sparse is None:
            assert not ({"--sparse-index", "--alpha", "--k0"} & set(opts))
        else:
            assert (opts["--sparse-index"], opts["--bm25-k1"], opts["--bm25-b"]) == sparse
            assert (opts["--alpha"], opts["--k0"], opts["--fusion"]) == (alpha, "1000", "weighted")
            assert not args.normalization and not args.weight_on_dense  # Pyserini's defaults
        assert args.ef_search is None  # HNSW: the index's stored efSearch, as Pyserini's command


def test_dry_run_prints_the_commands(capsys):
    assert main(list(NAMES) + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    blocks = re.split(r"^# ", out, flags=re.M)[1:]
    assert len(blocks) == len(CONFIG)
    for block in blocks:
        head, *lines = block.strip().splitlines()
        reg_name, cond = re.match(r"(\S+) / (\S+) \(needs the internet\)$", head).groups()
        index, encoder, sparse, alpha = CONFIG[(reg_name, cond)]
        (line,) = lines
        opts = _options(shlex.split(line))
        assert (opts["--index"], opts["--encoder"]) == (index, encoder)
        assert opts.get("--alpha") == alpha and opts.get("--sparse-index") == (sparse and sparse[0])


@pytest.mark.parametrize("argv", [list(NAMES[:1]), list(NAMES), ["dl19-passage-tct_colbert-v2", "--condition",
                                                                  "tct_colbert-v2-hnp-flat"]])
def test_without_online_stops_early(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path))
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert "--online" in line and "--dry-run" in line and "internet" in line
    assert not (tmp_path / "reproduce").exists(), "nothing ran"


def test_cli_stops_early_in_a_subprocess(env):
    p = subprocess.run([sys.executable, "-m", "tctcb.reproduce", "msmarco-passage-tct_colbert"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert "need(s) the internet" in p.stderr and "pass --online" in p.stderr


def _online_offline(env, name, condition):
    p = subprocess.run([sys.executable, "-m", "tctcb.reproduce", name, "--online", "--condition", condition],
                       env=env, capture_output=True, text=True, timeout=180)
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    return p, errors


def test_online_without_network_fails_with_one_line(env, tmp_path):
    """--online, no network: the search command stops at once, naming the prebuilt index it could not fetch."""
    p, errors = _online_offline(env, "msmarco-passage-tct_colbert", "tct_colbert-flat")
    assert p.returncode == 1, p.stderr
    (err,) = errors
    assert "cannot fetch" in err and "'msmarco-v1-passage.tct_colbert'" in err and "--index" in err
    assert "Traceback" not in p.stderr
    results = [ln.split() for ln in p.stdout.splitlines() if not ln.startswith("#")]
    assert [r[1] for r in results] == ["RR@10", "AP", "R@1000"] and all(r[-2:] == ["-", "FAIL"] for r in results)
    assert not (tmp_path / "tctcb" / "reproduce" / "msmarco-passage-tct_colbert" / "tct_colbert-flat.run").exists()


def test_online_without_network_names_the_missing_checkpoint(env, tmp_path):
    """With the prebuilt index already in Pyserini's cache (a stand-in: placeholder index and docid files, enough
    for the completeness check), the checkpoint is what is missing."""
    from tctcb import java

    java.start()
    from pyserini.prebuilt_index_info import FAISS_INDEX_INFO

    entry = FAISS_INDEX_INFO["msmarco-v1-passage.tct_colbert-v2-hnp"]
    stem = entry["filename"].removesuffix(".tar.gz")
    folder = tmp_path / "pyserini" / "indexes" / f"{stem}.{entry['md5']}"
    folder.mkdir(parents=True)
    for f in ("index", "docid"):
        (folder / f).write_text("placeholder\n")
    p, errors = _online_offline(env, "dl19-passage-tct_colbert-v2", "tct_colbert-v2-hnp-flat")
    assert p.returncode == 1, p.stderr
    (err,) = errors
    assert "cannot fetch encoder 'castorini/tct_colbert-v2-hnp-msmarco'" in err and "--encoder" in err
    assert "Traceback" not in p.stderr


def test_sparse_prebuilt_names_fail_clearly(env):
    """The Lucene indexes the hybrids use resolve to Pyserini's prebuilt indexes, and say so offline."""
    p = subprocess.run([sys.executable, "-m", "tctcb.search", "--topics", "dl19-passage", "--sparse-index",
                        "msmarco-v1-passage.d2q-t5", "--output", os.devnull], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2
    (err,) = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert "prebuilt Lucene index 'msmarco-v1-passage.d2q-t5'" in err and "--sparse-index" in err


@pytest.mark.parametrize("name", NAMES)
def test_generated_doc_is_up_to_date(name):
    doc = docs_dir() / f"{name}.md"
    assert doc.read_text(encoding="utf-8") == render_doc(load_regression(name)), \
        "run python -m tctcb.reproduce --write-docs"


def test_msmarco_doc_links_instead_of_repeating_numbers():
    text = (REPO / "docs" / "msmarco.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"(regressions/{name}.md)" in text
        assert (REPO / "docs" / "regressions" / f"{name}.md").is_file()
        for c in load_regression(name).conditions:
            for e in c.scores:
                assert f"{e.expected:.4f}" not in text, f"{e.expected:.4f} belongs in the YAML only"
