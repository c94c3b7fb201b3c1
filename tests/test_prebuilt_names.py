"""Pyserini's prebuilt indexes by name, offline: a cached copy that is incomplete or damaged is one ``error:`` line
naming the folder to delete; prebuilt impact indexes (SPLADE, uniCOIL) are searched with the query encoder Pyserini
uses for them, and give the same hits as Pyserini's LuceneImpactSearcher with its own query encoder; an encoder
that is not cached, or an impact index with no known encoder, is one line. Stand-ins under the real names in a
private Pyserini cache (``$PYSERINI_CACHE``) and Hugging Face cache; nothing is downloaded."""
import shutil

import pytest

from msmarco_standins import hf_snapshot, pyserini_folder
from tctcb.search._cli import main as search_main

TCT = "msmarco-v1-passage.tct_colbert"
BOW = "msmarco-v1-passage"
SPLADE_PP_ED, UNICOIL = "msmarco-v1-passage.splade-pp-ed", "msmarco-v1-passage.unicoil"


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """A private Pyserini cache and Hugging Face hub cache, offline."""
    from huggingface_hub import constants

    monkeypatch.setenv("PYSERINI_CACHE", str(tmp_path / "pyserini"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at import; snapshot_download's default
    return tmp_path / "pyserini", tmp_path / "hub"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def adi_impact(tmp_path_factory, data_dir, cache_dir):
    """An impact index of ADI (SPLADE weights of a tiny random masked LM) and that model."""
    from msmarco_standins import _tiny_splade
    from tctcb.index import build_impact_index

    mlm = _tiny_splade(tmp_path_factory.mktemp("tiny-splade"))
    return build_impact_index("adi", mlm, tmp_path_factory.mktemp("impact") / "adi", batch_size=16), mlm


def _place(index_dir, pyserini_cache, name):
    dest = pyserini_folder(pyserini_cache, name)
    shutil.copytree(index_dir, dest, ignore=shutil.ignore_patterns("impact.json", "meta.json"))
    return dest


def _place_model(model_dir, hub, model_id):
    snap = hf_snapshot(hub, model_id)
    shutil.copytree(model_dir, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text(snap.name)


@pytest.mark.parametrize("files,why", [({}, "no index file"), ({"index": b"x"}, "no docid file"),
                                       ({"index": b"", "docid": b"0\n"}, "index is empty")])
def test_incomplete_faiss_folder_is_one_line(caches, tmp_path, capsys, files, why):
    folder = pyserini_folder(caches[0], TCT)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    assert search_main(["--topics", "dl19-passage", "--index", TCT, "--encoder", "castorini/tct_colbert-msmarco",
                        "--output", str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert f"Pyserini's cached copy of prebuilt dense index '{TCT}' at {folder} is incomplete or damaged ({why})" in line
    assert "delete that folder" in line and not (tmp_path / "run").exists()


def test_damaged_faiss_index_names_the_folder(caches, tmp_path, tiny_bert, capsys, data_dir):
    folder = pyserini_folder(caches[0], TCT)
    folder.mkdir(parents=True)
    (folder / "index").write_bytes(b"IxF2" + b"\0" * 20)  # a truncated FAISS file
    (folder / "docid").write_text("0\n")
    assert search_main(["--topics", "dl19-passage", "--index", TCT, "--encoder", str(tiny_bert),
                        "--output", str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert "not a readable FAISS index" in line and f"delete {folder} and rerun" in line, line


def test_incomplete_lucene_folder_is_one_line(caches, tmp_path, capsys, data_dir):
    folder = pyserini_folder(caches[0], BOW)
    folder.mkdir(parents=True)
    (folder / "_0.cfs").write_bytes(b"x")
    assert search_main(["--topics", "dl19-passage", "--sparse-index", BOW, "--output", str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert f"prebuilt Lucene index '{BOW}' at {folder} is incomplete or damaged (no segments_N file" in line, line


def test_damaged_lucene_index_names_the_folder(caches, tmp_path, capsys, data_dir, cache_dir):
    from tctcb.index import build_lucene_index

    folder = _place(build_lucene_index("adi"), caches[0], BOW)
    for f in folder.iterdir():
        if f.name.startswith("_"):
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated segment files
    assert search_main(["--topics", "dl19-passage", "--sparse-index", BOW, "--output", str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert f"delete {folder} and rerun" in line, line


def _pyserini_run(index_dir, encoder, topics, k):
    from tctcb import java

    java.start()
    from pyserini.search.lucene import LuceneImpactSearcher

    searcher = LuceneImpactSearcher(str(index_dir), encoder)
    return {qid: [(h.docid, round(h.score, 4)) for h in searcher.search(q, k)] for qid, q in topics.items()}


def _our_run(path):
    from tctcb.eval import read_run

    return {qid: sorted(((d, round(s, 4)) for d, s in hits.items()), key=lambda x: (-x[1], x[0]))
            for qid, hits in read_run(path).items()}


def _topics(tmp_path, n=5):
    from tctcb.data import load_topics

    topics = dict(list(load_topics("adi").items())[:n])
    path = tmp_path / "topics.tsv"
    path.write_text("".join(f"{q}\t{t}\n" for q, t in topics.items()))
    return topics, path


def _same(ours, theirs):
    assert set(ours) == set(theirs)
    for qid in theirs:  # ties may come in another order
        assert sorted(ours[qid], key=lambda x: (-x[1], x[0])) == sorted(theirs[qid], key=lambda x: (-x[1], x[0])), qid


def test_splade_impact_index_by_name(caches, adi_impact, tmp_path, capsys):
    from pyserini.encode import SpladeQueryEncoder

    index, mlm = adi_impact
    folder = _place(index, caches[0], SPLADE_PP_ED)
    topics, path = _topics(tmp_path)
    out = tmp_path / "splade.trec"
    argv = ["--topics", str(path), "--sparse-index", SPLADE_PP_ED, "--output", str(out), "--hits", "20", "--quiet"]
    assert search_main(argv) == 2  # offline, the query encoder is not in the Hugging Face cache: one line
    line = _error(capsys)
    assert "'naver/splade-cocondenser-ensembledistil'" in line and f"Hugging Face cache {caches[1]}" in line, line
    assert "--sparse-encoder DIR" in line and not out.exists()
    _place_model(mlm, caches[1], "naver/splade-cocondenser-ensembledistil")
    assert search_main(argv) == 0
    theirs = _pyserini_run(folder, SpladeQueryEncoder(str(mlm)), topics, 20)
    assert sum(map(len, theirs.values())) > 0
    _same(_our_run(out), {q: h for q, h in theirs.items() if h})


def _pyserini_unicoil(model, model_dir):
    """Pyserini's UniCoilQueryEncoder around an already-built model (its from_pretrained fails under transformers
    5: Pyserini's UniCoilEncoder predates post_init), otherwise as Pyserini sets it up."""
    from pyserini.encode import UniCoilQueryEncoder
    from transformers import BertTokenizer

    enc = UniCoilQueryEncoder.__new__(UniCoilQueryEncoder)
    enc.device, enc.model, enc.weight_range, enc.quant_range = "cpu", model.eval(), 5, 256
    enc.tokenizer = BertTokenizer.from_pretrained(str(model_dir))
    return enc


def test_unicoil_impact_index_by_name(caches, adi_impact, tmp_path, tiny_bert):
    import torch
    from pyserini.encode import UniCoilEncoder
    from transformers import BertConfig

    from tctcb.encode import UniCoilQueryEncoder

    folder = _place(adi_impact[0], caches[0], UNICOIL)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    model = UniCoilEncoder(BertConfig.from_pretrained(str(tiny_bert)))
    torch.random.set_rng_state(state)
    with torch.no_grad():
        model.tok_proj.weight.mul_(20.0)  # weights of a few units, as a trained uniCOIL gives
    unicoil = tmp_path / "unicoil"
    model.save_pretrained(str(unicoil))
    for f in tiny_bert.iterdir():
        if f.name.startswith(("vocab", "tokenizer", "special")):
            shutil.copy(f, unicoil / f.name)
    theirs_enc = _pyserini_unicoil(model, unicoil)
    ours_enc = UniCoilQueryEncoder(unicoil)
    texts = ["what is a what is a query", "retrieval of information in libraries", "x"]
    assert [ours_enc.encode(t) for t in texts] == [theirs_enc.encode(t) for t in texts]
    assert ours_enc.encode_batch(texts) == [theirs_enc.encode(t) for t in texts]  # padding changes nothing
    assert any(v > 0 for v in ours_enc.encode(texts[0]).values())
    _place_model(unicoil, caches[1], "castorini/unicoil-msmarco-passage")
    topics, path = _topics(tmp_path)
    out = tmp_path / "unicoil.trec"
    assert search_main(["--topics", str(path), "--sparse-index", UNICOIL, "--output", str(out), "--hits", "20",
                        "--quiet"]) == 0
    theirs = _pyserini_run(folder, theirs_enc, topics, 20)
    assert sum(map(len, theirs.values())) > 0
    _same(_our_run(out), {q: h for q, h in theirs.items() if h})


def test_impact_index_without_known_encoder(caches, tmp_path, capsys, data_dir):
    assert search_main(["--topics", "dl19-passage", "--sparse-index", "msmarco-v1-passage.deepimpact", "--output",
                        str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert "msmarco-v1-passage.deepimpact" in line and "--sparse-encoder" in line, line
    assert not (caches[0] / "indexes").exists()  # refused before fetching anything


@pytest.mark.parametrize("name,stored", [(SPLADE_PP_ED, SPLADE_PP_ED), ("msmarco-passage-unicoil-d2q", UNICOIL)])
def test_impact_index_not_cached_offline(caches, tmp_path, capsys, data_dir, name, stored):
    """Offline and not in Pyserini's cache: one line naming the index (Pyserini's older alias resolves to its
    current name) and where to download it."""
    assert search_main(["--topics", "dl19-passage", "--sparse-index", name, "--output", str(tmp_path / "run")]) == 2
    line = _error(capsys)
    assert f"cannot fetch prebuilt impact index '{stored}': offline" in line and "--sparse-index" in line, line
    assert "https://" in line
