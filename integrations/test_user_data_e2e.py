"""Your own data, end to end through the command lines: a BEIR folder and MS MARCO-style TSV files (with
training triples and a run file of hard negatives) written by the test are registered, then indexed (BM25),
trained on (a 2-step teacher, a 4-step tightly coupled student), encoded, searched (dense, BM25, hybrid tuned
on a dev topics file, MaxSim reranking), evaluated, and run through ``python -m tctcb.pipeline --collection``.
Last, NFCorpus's own BEIR zip registered as a user dataset gives Pyserini's BM25 number, as the built-in does."""
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import userdata_helpers as H  # noqa: E402

from tctcb.data._cli import main as data_main  # noqa: E402


def _eval(capsys, qrels, run, metric="nDCG@10") -> float:
    from tctcb.eval._cli import main as eval_main

    capsys.readouterr()
    assert eval_main(["--qrels", str(qrels), "--run", str(run), "-m", metric]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(metric)][0]
    return float(line.split()[-1])


def _search(*argv) -> None:
    from tctcb.search._cli import main as search_main

    assert search_main([*map(str, argv), "--quiet"]) == 0


def _train_encode_search(name, work, capsys, extra_distill=()):
    from tctcb.encode._cli import main as encode_main
    from tctcb.index import _faiss, _lucene
    from tctcb.train import main as train_main

    assert _lucene.main(["--collection", name]) == 0
    common = ["--collection", name, "--split", "train", "--dev-split", "dev", "--batch-size", "4", "--passage-length",
              "64", "--seed", "7", "--quiet", "--save-every", "100"]
    assert train_main(["teacher", *common, "--max-steps", "2", "--negatives", "bm25", "--output", str(work / "teacher")]) == 0
    assert train_main(["distill", *common, "--max-steps", "4", "--teacher", str(work / "teacher" / "model"),
                       "--kd", "in-batch", *extra_distill, "--output", str(work / "student")]) == 0
    log = [json.loads(x) for x in (work / "student" / "log.jsonl").read_text().splitlines()]
    assert sum(1 for r in log if "loss" in r) == 4
    assert encode_main(["--collection", name, "--encoder", str(work / "student" / "model"),
                        "--output", str(work / "emb"), "--quiet"]) == 0
    assert _faiss.main(["--input", str(work / "emb"), "--output", str(work / "index"), "--type", "flat"]) == 0
    _search("--topics", f"{name}-test", "--index", work / "index", "--output", work / "dense.trec", "--hits", "50")
    _search("--topics", f"{name}-test", "--sparse-index", name, "--output", work / "bm25.trec", "--hits", "50")
    runs = {kind: (work / f"{kind}.trec").read_text().splitlines() for kind in ("dense", "bm25")}
    assert {ln.split()[0] for ln in runs["dense"]} == {f"q{i}" for i in range(32, 40)}
    assert all(len([ln for ln in runs["dense"] if ln.split()[0] == q]) == 50 for q in {f"q{i}" for i in range(32, 40)})
    bm25 = _eval(capsys, f"{name}-test", work / "bm25.trec")
    dense = _eval(capsys, f"{name}-test", work / "dense.trec")
    assert bm25 > 0.8  # each query's words are its topic's own: BM25 finds the judged documents
    assert 0.0 < dense <= 1.0
    return bm25, dense


@pytest.fixture
def own_cache(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_beir_dataset_end_to_end(tmp_path, own_cache, capsys):
    root = H.write_beir(tmp_path / "toy-beir")
    assert data_main(["add", "toy", "--beir", str(root)]) == 0
    work = tmp_path / "work"
    _train_encode_search("toy", work, capsys)
    # hybrid tuned on a dev *file* with its qrels file, and MaxSim reranking with the teacher over the user corpus
    dev_topics = tmp_path / "dev.tsv"
    dev_topics.write_text("".join(f"{q}\t{t}\n" for q, t in H.build()[1]["dev"]))
    _search("--topics", "toy-test", "--index", work / "index", "--sparse-index", "toy", "--tune-alpha-on", dev_topics,
            "--tune-qrels", root / "qrels" / "dev.tsv", "--output", work / "hybrid.trec", "--hits", "50")
    assert 0.0 < _eval(capsys, root / "qrels" / "test.tsv", work / "hybrid.trec") <= 1.0  # BEIR qrels file
    _search("--topics", "toy-test", "--sparse-index", "toy", "--rerank-with", work / "teacher" / "model",
            "--rerank-depth", "10", "--output", work / "rerank.trec", "--hits", "50")
    assert 0.0 < _eval(capsys, "toy-test", work / "rerank.trec") <= 1.0


def test_msmarco_tsv_dataset_with_triples_and_run_negatives(tmp_path, own_cache, capsys):
    paths = H.write_msmarco(tmp_path / "toy-mm")
    assert data_main(H.msmarco_add_args("mm", paths)) == 0
    work = tmp_path / "work"
    _train_encode_search("mm", work, capsys, extra_distill=["--triples", str(paths["triples"])])
    assert _settings(work / "student")["negatives"] == "triples"  # --triples alone: each triple's own negative
    from tctcb.train import main as train_main

    # hard negatives from a run file made elsewhere (here: BM25 over the training queries, given as a file)
    _search("--topics", paths["queries.train"], "--sparse-index", "mm", "--output", work / "train-bm25.trec",
            "--hits", "20")
    assert train_main(["distill", "--collection", "mm", "--split", "train", "--dev-split", "none", "--batch-size", "4",
                       "--max-steps", "2", "--passage-length", "64", "--quiet", "--kd", "none",
                       "--negatives-run", str(work / "train-bm25.trec"), "--output", str(work / "student-run")]) == 0
    settings = _settings(work / "student-run")
    assert settings["negatives"] == "run" and settings["negatives_run"] == str(work / "train-bm25.trec")
    err = capsys.readouterr().err
    assert "hard negatives (run): {'queries': 24, 'negatives': " in err


def _settings(run_dir: Path) -> dict:
    last = sorted((run_dir / "checkpoints").glob("step-*"))[-1]
    return json.loads((last / "state.json").read_text())["settings"]


@pytest.mark.parametrize("layout", ["beir", "msmarco"])
def test_pipeline_on_a_registered_dataset(tmp_path, own_cache, capsys, layout):
    from tctcb.pipeline._cli import main as pipeline_main

    if layout == "beir":
        assert data_main(["add", "toy", "--beir", str(H.write_beir(tmp_path / "toy"))]) == 0
    else:
        assert data_main(H.msmarco_add_args("toy", H.write_msmarco(tmp_path / "toy"))) == 0
    out = tmp_path / "runs"
    assert pipeline_main(["--collection", "toy", "--max-steps", "2", "--output", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(rows) == {"bm25", "zero-shot", "teacher-rerank", "student", "student+bm25"}
    assert rows["bm25"]["scores"]["nDCG@10"] > 0.8
    assert all(0.0 < r["scores"]["nDCG@10"] <= 1.0 for r in rows.values())
    assert sorted(p.name for p in out.glob("*.trec")) == sorted(f"{n}.trec" for n in rows)


def test_nfcorpus_zip_as_a_user_dataset_gives_the_builtin_bm25(tmp_path, own_cache, data_dir, capsys):
    root = tmp_path / "nfcorpus-beir"
    with zipfile.ZipFile(data_dir / "nfcorpus" / "nfcorpus.zip") as z:
        z.extractall(root)
    (root / "corpus" / "human.jsonl").rename(root / "corpus.jsonl")
    shutil.rmtree(root / "corpus")
    assert data_main(["add", "mynf", "--beir", str(root)]) == 0
    _search("--topics", "mynf-test", "--sparse-index", "mynf", "--output", tmp_path / "bm25.trec")
    assert _eval(capsys, "mynf-test", tmp_path / "bm25.trec") == pytest.approx(0.3218, abs=5e-5)
    assert _eval(capsys, root / "qrels" / "test.tsv", tmp_path / "bm25.trec") == pytest.approx(0.3218, abs=5e-5)
