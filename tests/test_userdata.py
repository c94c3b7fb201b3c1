"""User datasets: registration (BEIR folder, MS MARCO TSV files), names everywhere, the docstore, triples,
and the bad inputs the issue lists. Each test has a registry of its own (``TCTCB_CACHE`` = its tmp folder)."""
import gzip
import re
import json

import numpy as np
import pytest

import userdata_helpers as H
from tctcb.data import (DataError, DocStore, TripleStore, add_dataset, get_collection, get_qrels, get_topics,
                        list_collections, list_topic_sets, load_registry, topics_collection)
from tctcb.data._cli import main as data_main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _quiet(msg):
    pass


def test_beir_folder_registers_and_names_work_everywhere(tmp_path, cache, capsys, data_dir):
    root = H.write_beir(tmp_path / "beir")
    assert data_main(["add", "toy", "--beir", str(root)]) == 0
    assert "registered toy: 120 documents" in capsys.readouterr().out
    assert "toy" in list_collections() and {"toy-train", "toy-dev", "toy-test"} <= set(list_topic_sets())
    assert topics_collection("toy-test") == "toy"
    topics, qrels = get_topics("toy-test"), get_qrels("toy-test")
    assert list(topics) == [f"q{i}" for i in range(32, 40)] and set(qrels) == set(topics)
    assert all(len(j) == 6 for j in qrels.values())
    coll = get_collection("toy")
    assert len(coll) == 120 and coll.topic_sets == ["toy-dev", "toy-test", "toy-train"]
    first = next(iter(coll.docs()))
    assert first.docid == "d0000" and first.contents.startswith("topic 0 ")
    store = coll.docstore()
    assert store["d0119"].startswith("topic 19 ") and "d0120" not in store
    # nothing copied: the registry points at the user's files
    entry = json.loads((cache / "datasets.json").read_text())["datasets"]["toy"]
    assert entry["corpus"] == str(root / "corpus.jsonl") and entry["layout"] == "beir"
    assert data_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy-test (8/8)" in out and "nfcorpus-test" in out
    assert data_main(["remove", "toy"]) == 0
    assert "toy" not in list_collections() and load_registry() == {}
    assert (root / "corpus.jsonl").is_file()


def test_msmarco_tsv_files_register_with_trec_and_msmarco_qrels(tmp_path, cache):
    paths = H.write_msmarco(tmp_path / "mm")
    # the test split's qrels in TREC form with spaces, train/dev in MS MARCO's tab-separated form
    trec = tmp_path / "qrels.test.trec"
    trec.write_text(paths["qrels.test"].read_text().replace("\t", " "))
    args = H.msmarco_add_args("mm", paths)
    args[args.index(f"test={paths['qrels.test']}")] = f"test={trec}"
    assert data_main(args) == 0
    ds = load_registry()["mm"]
    assert ds.corpus_format == "tsv" and ds.docs == 120 and ds.splits == ["train", "dev", "test"]
    assert get_qrels("mm-test") == {q: {d: 1 for d in j} for q, j in get_qrels("mm-test").items()}
    assert len(get_topics("mm-train")) == 24 and sum(map(len, get_qrels("mm-train").values())) == 144


def test_shared_topics_file_is_split_by_qrels(tmp_path, cache):
    paths = H.write_msmarco(tmp_path / "mm")
    queries = tmp_path / "queries.all.tsv"
    queries.write_text("".join(paths[f"queries.{s}"].read_text() for s in ("train", "dev", "test")))
    add_dataset("mm", corpus=paths["collection"], topics=[str(queries)],
                qrels=[f"{s}={paths[f'qrels.{s}']}" for s in ("train", "test")], log=_quiet)
    assert set(list_topic_sets()) >= {"mm-train", "mm-test"} and "mm-dev" not in list_topic_sets()
    assert list(get_topics("mm-test")) == [f"q{i}" for i in range(32, 40)]


def test_names_that_clash_are_refused_and_a_failed_add_changes_nothing(tmp_path, cache):
    root = H.write_beir(tmp_path / "beir")
    for bad, why in [("nfcorpus", "built-in"), ("a/b", "no '/'"), ("scifact", "built-in")]:
        with pytest.raises(DataError, match=why):
            add_dataset(bad, beir=root, log=_quiet)
    # NAME-SPLIT may not shadow a built-in topic set either: 'nfcorpus' + split 'test' would be nfcorpus-test
    (root / "qrels" / "test.tsv").rename(root / "qrels" / "x.tsv")
    add_dataset("toy", beir=root, log=_quiet)
    before = (cache / "datasets.json").read_bytes()
    with pytest.raises(DataError, match="already registered"):
        add_dataset("toy", beir=root, log=_quiet)
    (root / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    with pytest.raises(DataError, match=r"corpus.jsonl, line 2: document id 'a' repeats line 1"):
        add_dataset("toy", beir=root, force=True, log=_quiet)
    assert (cache / "datasets.json").read_bytes() == before  # the failed add left the registry as it was


def test_bad_folders_and_files_are_one_line_errors(tmp_path, cache, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert data_main(["add", "x", "--beir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no corpus.jsonl there" in err and "Traceback" not in err
    paths = H.write_msmarco(tmp_path / "mm")
    assert data_main(["add", "x", "--corpus", str(paths["collection"]), "--qrels", f"test={paths['qrels.test']}"]) == 2
    assert "no topics for split 'test'" in capsys.readouterr().err
    assert data_main(["add", "x", "--corpus", str(paths["collection"]), "--qrels", str(paths["qrels.test"])]) == 2
    assert "expected SPLIT=FILE" in capsys.readouterr().err
    assert data_main(["add", "x", "--corpus", str(tmp_path / "nope.tsv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert data_main(["remove", "nope"]) == 2
    assert "no user dataset 'nope'" in capsys.readouterr().err


def test_qrels_without_topics_are_counted_and_unknown_docids_warned(tmp_path, cache):
    paths = H.write_msmarco(tmp_path / "mm")
    with open(paths["qrels.test"], "a") as f:
        f.write("q999\t0\td0001\t1\nq998\t0\td0002\t1\nq32\t0\tnot-a-doc\t1\n")
    msgs = []
    add_dataset("mm", corpus=paths["collection"], topics=[f"test={paths['queries.test']}"],
                qrels=[f"test={paths['qrels.test']}"], log=msgs.append)
    assert any("2 of 10 judged query ids have no topic" in m for m in msgs)
    assert any(re.search(r"\b1 of \d+ judged document ids are not in the corpus", m) for m in msgs)


def test_moved_files_and_changed_corpus(tmp_path, cache):
    root = H.write_beir(tmp_path / "beir")
    add_dataset("toy", beir=root, log=_quiet)
    (root / "qrels" / "dev.tsv").rename(tmp_path / "dev.tsv")
    with pytest.raises(DataError, match=r"dev.tsv is missing \(moved or deleted"):
        get_topics("toy-test")
    (tmp_path / "dev.tsv").rename(root / "qrels" / "dev.tsv")
    with open(root / "corpus.jsonl", "a") as f:
        f.write('{"_id": "extra", "title": "", "text": "new"}\n')
    with pytest.raises(DataError, match="now holds 121 documents, 120 when it was registered"):
        get_collection("toy").docstore()


def test_docstore_lookups_formats_and_errors(tmp_path, cache):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("10\tten\n2\ttwo\n\n1\tone\tmore\n")
    store = DocStore.open(tsv)
    assert len(store) == 3 and list(store) == ["10", "2", "1"] and store["1"] == "one\tmore"
    assert list(store.sorted_ids) == sorted(["10", "2", "1"])
    assert store.rows(["2", "x", "1", "a-very-long-id-longer-than-any"]).tolist() == [1, -1, 2, -1]
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write('{"id": "a", "contents": "alpha"}\n{"_id": "b", "title": "T", "text": "beta"}\n')
    assert dict(DocStore.open(gz)) == {"a": "alpha", "b": "T beta"}
    # a changed file is indexed again, not served from the stale index
    tsv.write_text("10\tTEN\n")
    assert dict(DocStore.open(tsv)) == {"10": "TEN"}
    bad = tmp_path / "bad.jsonl"
    for content, msg in [('{"id": "a", "contents": "x"}\n{"id": "b", "contents": \n', r"bad.jsonl, line 2: malformed JSON"),
                         ('{"id": "a", "contents": "x"}\n{"x": 1}\n', r"line 2: neither a Pyserini line"),
                         (b'{"id": "a", "contents": "\xff"}\n', r"line 1: not UTF-8"),
                         ("just some words\n", r"line 1: not a corpus line"),
                         ("", "no documents")]:
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(DataError, match=msg):
            DocStore.open(bad)
    assert not list((cache / "docstore-v1").glob(".*.tmp"))  # failed builds leave no half index


def test_triples_formats_and_unknown_pids(tmp_path, cache):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("".join(f"p{i}\tpassage {i}\n" for i in range(6)))
    store = DocStore.open(tsv)
    cases = {
        "t.tsv": ("q1\tp0\tp1\nq2\tp2\tp3\tp4\n", [("q1", ("p0",), ("p1",)), ("q2", ("p2",), ("p3", "p4"))]),
        "t.colbert.jsonl": ('["q1", "p0", "p1", "p2"]\n["q2", ["p2", 9.5], ["p3", 1.0]]\n',
                            [("q1", ("p0",), ("p1", "p2")), ("q2", ("p2",), ("p3",))]),
        "t.tev.jsonl": (json.dumps({"query_id": "q1", "query": "what", "positive_passages": [{"docid": "p0"}],
                                    "negative_passages": [{"docid": "p5", "text": "x"}]}) + "\n",
                        [("q1", ("p0",), ("p5",))]),
    }
    for name, (content, rows) in cases.items():
        (tmp_path / name).write_text(content)
        t = TripleStore.open(tmp_path / name, store)
        assert [(r.qid, r.positives, r.negatives) for r in map(t.row, range(len(t)))] == rows
    assert TripleStore.open(tmp_path / "t.tev.jsonl", store).row(0).query == "what"
    (tmp_path / "bad.tsv").write_text("q1\tp0\tp1\nq2\tp2\tp9\n")
    with pytest.raises(DataError, match=r"bad.tsv, line 2: passage id 'p9' is not in the corpus"):
        TripleStore.open(tmp_path / "bad.tsv", store)
    (tmp_path / "bad.tsv").write_text("q1\tp0\n")
    with pytest.raises(DataError, match="not a triples line"):
        TripleStore.open(tmp_path / "bad.tsv", store)


def test_training_batches_from_triples_are_a_function_of_seed_and_step(tmp_path, cache):
    from tctcb.train._data import TrainingData

    paths = H.write_msmarco(tmp_path / "mm")
    add_dataset("mm", corpus=paths["collection"], topics=[f"train={paths['queries.train']}"],
                qrels=[f"train={paths['qrels.train']}"], log=_quiet)

    def data():
        return TrainingData.from_registry("mm", "mm-train", log=_quiet, triples=str(paths["triples"]))

    a, b = data(), data()
    assert len(a.triples) == 48 and len(a.qids) == 24
    one = [a.batch(s, 8, 42, 1) for s in range(12)]  # two epochs of 6 steps
    assert one == [b.batch(s, 8, 42, 1) for s in range(12)]
    rows = [(e.qid, e.positive, e.negatives[0]) for batch in one[:6] for e in batch]
    triples = {tuple(line.split("\t")) for line in paths["triples"].read_text().split("\n") if line}
    assert set(rows) == triples  # one epoch = every row once, each with its own negative
    assert [e.qid for e in one[6]] != [e.qid for e in one[0]]  # a new order each epoch
    assert a.batch(3, 8, 43, 1) != one[3]
    # two rows of one query in a batch: neither positive counts as the other's negative
    mask = a.exclude_mask([a.batch(0, 8, 42, 1)[0]] * 2)
    assert mask[0, 2] and mask[1, 0]


def test_run_file_negatives(tmp_path):
    from tctcb.train._data import TrainingDataError, read_run_negatives

    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d3 1 9.0 x\nq1 Q0 d1 2 8.0 x\nq2 Q0 d2 1 5 x\nq1 Q0 d9 3 7.5 x\n")
    assert read_run_negatives(run, ["q1"], 2) == {"q1": ["d3", "d1"]}
    run.write_text("q1\td3\t2\nq1\td1\t1\n")
    assert read_run_negatives(run, ["q1"], 5) == {"q1": ["d1", "d3"]}
    run.write_text("q1 Q0 d3 1 nan x\n")
    with pytest.raises(TrainingDataError, match="line 1: score 'nan' is not a finite number"):
        read_run_negatives(run, ["q1"], 5)
    run.write_text("q1 d3\n")
    with pytest.raises(TrainingDataError, match="line 1: expected a TREC run line"):
        read_run_negatives(run, ["q1"], 5)


def test_docstore_memory_is_mapped_not_loaded(tmp_path, cache):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("".join(f"{i}\tpassage number {i}\n" for i in range(5000)))
    store = DocStore.open(tsv)
    assert isinstance(store._rows, np.memmap) and isinstance(store._ids, np.memmap)
    assert store["4999"] == "passage number 4999" and store.row("123") == 123


def test_docstore_training_data_gives_the_batches_of_the_in_memory_corpus(data_dir, cache_dir):
    """The trainer now reads a built-in collection through its docstore: the batches (positives, mined and
    random-fill negatives) and the texts must be exactly those of the old in-memory dict, so regressions hold."""
    from tctcb.train._data import TrainingData

    coll = get_collection("adi")
    as_dict = {d.docid: d.contents for d in coll.docs()}
    topics, qrels = get_topics("adi"), get_qrels("adi")
    old = TrainingData(as_dict, topics, qrels, log=_quiet)
    new = TrainingData.from_registry("adi", "adi", log=_quiet)
    assert type(new.corpus).__name__ == "DocStore" and new.qids == old.qids and new.positives == old.positives
    ranked = {q: sorted(as_dict)[:3] + ["not-a-doc"] for q in topics}  # few mined: random fill is drawn too
    assert old.set_negatives(ranked) == new.set_negatives(ranked)
    for step in range(8):
        a, b = old.batch(step, 8, 42, 5), new.batch(step, 8, 42, 5)
        assert a == b
        assert [new.corpus[d] for e in b for d in e.docids] == [as_dict[d] for e in a for d in e.docids]


def test_run_file_that_is_not_utf8_names_the_line(tmp_path):
    from tctcb.train._data import TrainingDataError, read_run_negatives

    run = tmp_path / "run.trec"
    run.write_bytes(b"q1 Q0 d3 1 9.0 x\nq1 Q0 d\xff 2 8.0 x\n")
    with pytest.raises(TrainingDataError, match=r"run.trec, line 2: not UTF-8"):
        read_run_negatives(run, ["q1"], 5)
