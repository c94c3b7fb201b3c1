"""ColBERT checkpoints of the ColBERT repo (colbert-ai) and of PyLate load as tctcb teachers and score as their own
libraries score them; a tctcb teacher saved in PyLate's layout scores the same in PyLate's way and back in tctcb;
folders of no known layout, and metadata that contradicts its weights, are refused in one line."""
import json

import pytest
import torch

from colbert_ai_reference import colbert_ai_missing, colbert_ai_scores, make_colbert_ai_checkpoint
from pylate_reference import make_pylate_folder, pylate_scores
from tctcb.models import ColBERT, ColBERTConfig, ColBERTError
from tiny_models import make_tiny_bert

needs_colbert_ai = pytest.mark.skipif(colbert_ai_missing() is not None, reason=str(colbert_ai_missing()))

QUERY = "what do cats eat, and why?"
LONG_QUERY = "a long question " + " ".join(f"word{i}" for i in range(40))
PASSAGES = ["Cats eat meat; they are carnivores.", "Dogs bark (loudly) at night!",
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty twenty-one twenty-two", "x"]


def tctcb_scores(model: ColBERT, query: str, passages: list[str]) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()([query], passages)[0].float()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def colbert_ai_dirs(tiny, tmp_path_factory):
    """colbert-ai checkpoints saved by colbert-ai: its v2 default (queries don't attend to [MASK]) and the
    other setting, with short lengths so that truncation happens."""
    if colbert_ai_missing():
        pytest.skip(colbert_ai_missing())
    root = tmp_path_factory.mktemp("colbert-ai")
    return {attend: make_colbert_ai_checkpoint(root / f"attend-{attend}", tiny, seed=3, dim=16, query_maxlen=12,
                                               doc_maxlen=20, attend_to_mask_tokens=attend)
            for attend in (False, True)}


# ---- the ColBERT repo ---------------------------------------------------------------------------------------
@needs_colbert_ai
@pytest.mark.parametrize("attend", [False, True])
@pytest.mark.parametrize("query", [QUERY, LONG_QUERY])
def test_colbert_ai_checkpoint_scores_as_colbert_ai(colbert_ai_dirs, attend, query):
    d = colbert_ai_dirs[attend]
    model = ColBERT.from_pretrained(d)
    c = model.config
    assert (c.dim, c.query_maxlen, c.doc_maxlen, c.marker_token, c.attend_to_mask_tokens) == (16, 12, 20, True, attend)
    assert (c.query_marker, c.doc_marker) == ("[unused0]", "[unused1]")
    ours, theirs = tctcb_scores(model, query, PASSAGES), colbert_ai_scores(d, query, PASSAGES)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours, theirs)
    assert len(set(theirs.round(decimals=3).tolist())) == len(PASSAGES)  # distinct passages, distinct scores


@needs_colbert_ai
def test_colbert_ai_input_layout(colbert_ai_dirs):
    """[CLS] [unused0] query [SEP] [MASK]...: the marker is one inserted token, the [MASK] padding is not
    attended to under colbert-ai's v2 default, every query token takes part in the match."""
    model = ColBERT.from_pretrained(colbert_ai_dirs[False])
    enc = model.tokenize_queries(["cats"])
    toks = model.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    assert toks == ["[CLS]", "[unused0]", "cats", "[SEP]"] + ["[MASK]"] * 8
    assert enc["attention_mask"][0].tolist() == [1] * 4 + [0] * 8
    assert bool(model.encode_query(["cats"])[1].all())
    toks = model.tokenizer.convert_ids_to_tokens(model.tokenize_passages(["cats , dogs"])["input_ids"][0])
    assert toks == ["[CLS]", "[unused1]", "cats", ",", "dogs", "[SEP]"]
    assert model.encode_passage(["cats , dogs"])[1][0].tolist() == [1, 1, 1, 0, 1, 1]


@needs_colbert_ai
def test_colbert_ai_checkpoint_saved_by_tctcb_keeps_its_scores(colbert_ai_dirs, tmp_path):
    model = ColBERT.from_pretrained(colbert_ai_dirs[False])
    back = ColBERT.from_pretrained(model.save_pretrained(tmp_path / "ours"))
    assert back.config == model.config
    assert torch.equal(tctcb_scores(back, QUERY, PASSAGES), tctcb_scores(model, QUERY, PASSAGES))


@needs_colbert_ai
def test_metadata_contradicting_weights(colbert_ai_dirs, tmp_path):
    import shutil

    def with_metadata(name, **change):
        d = tmp_path / name
        shutil.copytree(colbert_ai_dirs[False], d)
        meta = json.loads((d / "artifact.metadata").read_text())
        (d / "artifact.metadata").write_text(json.dumps({**meta, **change}))
        return d

    with pytest.raises(ColBERTError, match=r"artifact.metadata says dim 32 but linear.weight in model.safetensors "
                                           r"has shape \[16, 32\]") as e:
        ColBERT.from_pretrained(with_metadata("dim", dim=32))
    assert "\n" not in str(e.value)
    with pytest.raises(ColBERTError, match=r"marker '\[QQ\]' is not a token of the tokenizer's vocabulary") as e:
        ColBERT.from_pretrained(with_metadata("marker", query_token_id="[QQ]"))
    assert str(e.value).startswith(str(tmp_path / "marker")) and "\n" not in str(e.value)
    with pytest.raises(ColBERTError, match="similarity 'l2'"):
        ColBERT.from_pretrained(with_metadata("l2", similarity="l2"))


# ---- PyLate --------------------------------------------------------------------------------------------------
PYLATE_SETTINGS = {
    "defaults": {},
    "no-expansion": {"query_prefix": "[unused0]", "document_prefix": "[unused1]", "query_length": 8,
                     "document_length": 12, "do_query_expansion": False, "attend_to_expansion_tokens": True,
                     "skiplist_words": ["cats", ",", "notaword"]},
    "attend": {"attend_to_expansion_tokens": True, "query_length": 16, "document_length": 24},
}


@pytest.mark.parametrize("name", list(PYLATE_SETTINGS))
def test_pylate_folder_scores_as_pylate(tiny, tmp_path, name):
    d = make_pylate_folder(tmp_path / "pylate", tiny, dim=16, seed=5, **PYLATE_SETTINGS[name])
    model = ColBERT.from_pretrained(d)
    assert model.config.marker_token and model.config.dim == 16
    for q in ("cats", QUERY, LONG_QUERY):
        ours, theirs = tctcb_scores(model, q, PASSAGES), pylate_scores(d, q, PASSAGES)
        assert torch.allclose(ours, theirs, atol=1e-4), (name, q, ours, theirs)


def test_pylate_prefix_is_one_added_token(tiny, tmp_path):
    model = ColBERT.from_pretrained(make_pylate_folder(tmp_path / "pylate", tiny))
    ids = model.tokenize_queries(["cats"])["input_ids"][0].tolist()
    q_id = model.tokenizer.convert_tokens_to_ids("[Q] ")
    assert q_id >= model.tokenizer.vocab_size  # a token PyLate added (this uncased tokenizer stores it as '[q] ')
    toks = model.tokenizer.convert_ids_to_tokens(ids)
    assert ids[1] == q_id and toks[0] == "[CLS]" and toks[2:4] == ["cats", "[SEP]"] and len(ids) == 32


# ---- our teacher in PyLate's layout -----------------------------------------------------------------------------
def test_export_to_pylate_round_trip(tiny, tmp_path):
    teacher = ColBERT.from_backbone(tiny, ColBERTConfig(dim=16, query_maxlen=12, doc_maxlen=20, marker_token=True,
                                                        query_marker="[unused0]", doc_marker="[unused1]",
                                                        attend_to_mask_tokens=False), seed=7).eval()
    out = teacher.save_pretrained(tmp_path / "pylate", layout="pylate")
    st = json.loads((out / "config_sentence_transformers.json").read_text())
    assert (st["query_prefix"], st["query_length"], st["attend_to_expansion_tokens"]) == ("[unused0]", 12, False)
    assert json.loads((out / "modules.json").read_text())[1]["path"] == "1_Dense"
    want = tctcb_scores(teacher, QUERY, PASSAGES)
    assert torch.allclose(pylate_scores(out, QUERY, PASSAGES), want, atol=1e-5)
    back = ColBERT.from_pretrained(out)
    assert torch.allclose(tctcb_scores(back, QUERY, PASSAGES), want, atol=1e-6)


@needs_colbert_ai
def test_colbert_ai_checkpoint_exported_to_pylate(colbert_ai_dirs, tmp_path):
    """colbert-ai -> tctcb -> PyLate's layout: PyLate's way of scoring gives colbert-ai's scores."""
    out = ColBERT.from_pretrained(colbert_ai_dirs[False]).save_pretrained(tmp_path / "pylate", layout="pylate")
    theirs = colbert_ai_scores(colbert_ai_dirs[False], QUERY, PASSAGES)
    assert torch.allclose(pylate_scores(out, QUERY, PASSAGES), theirs, atol=1e-4)


def test_text_marker_teacher_is_not_exported_to_pylate(tiny, tmp_path):
    teacher = ColBERT.from_backbone(tiny, ColBERTConfig(dim=16))
    with pytest.raises(ColBERTError, match=r"writes its markers as text .*PyLate inserts one marker token") as e:
        teacher.save_pretrained(tmp_path / "out", layout="pylate")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


# ---- folders that are no ColBERT checkpoint ----------------------------------------------------------------------
def test_unknown_folder_lists_what_was_looked_for(tiny):
    with pytest.raises(ColBERTError) as e:
        ColBERT.from_pretrained(tiny)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{tiny} is not a ColBERT checkpoint")
    for looked in ("tctcb_colbert.json", "colbert_linear.safetensors", "artifact.metadata", "HF_ColBERT",
                   "modules.json", "config_sentence_transformers.json"):
        assert looked in msg
    assert "config.json" in msg.split("found:")[1]


def test_sentence_transformers_folder_is_not_a_pylate_model(tiny, tmp_path):
    import shutil

    d = tmp_path / "st"
    shutil.copytree(tiny, d)
    (d / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    with pytest.raises(ColBERTError, match="sentence-transformers model: a backbone, not a teacher"):
        ColBERT.from_pretrained(d)


def test_pylate_projection_tctcb_cannot_read(tiny, tmp_path):
    d = make_pylate_folder(tmp_path / "pylate", tiny)
    cfg = json.loads((d / "1_Dense" / "config.json").read_text())
    (d / "1_Dense" / "config.json").write_text(json.dumps({**cfg, "activation_function": "torch.nn.modules.activation.Tanh"}))
    with pytest.raises(ColBERTError, match="activation 'torch.nn.modules.activation.Tanh'"):
        ColBERT.from_pretrained(d)


# ---- command lines -------------------------------------------------------------------------------------------------
def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_cli_export_pylate(tiny, tmp_path, capsys):
    from tctcb.export._cli import main

    teacher = ColBERT.from_backbone(tiny, ColBERTConfig(dim=16, query_maxlen=12, doc_maxlen=20, marker_token=True,
                                                        query_marker="[unused0]", doc_marker="[unused1]"), seed=2)
    src = teacher.save_pretrained(tmp_path / "teacher")
    assert main(["--model", str(src), "--format", "pylate", "--output", str(tmp_path / "out"), "--quiet"]) == 0
    want = tctcb_scores(teacher, QUERY, PASSAGES)
    assert torch.allclose(pylate_scores(tmp_path / "out", QUERY, PASSAGES), want, atol=1e-5)

    capsys.readouterr()
    assert main(["--model", str(tiny), "--format", "pylate", "--output", str(tmp_path / "student")]) == 2
    assert "not a ColBERT teacher checkpoint" in _one_error_line(capsys) and not (tmp_path / "student").exists()
    text = ColBERT.from_backbone(tiny, ColBERTConfig(dim=16)).save_pretrained(tmp_path / "text-teacher")
    capsys.readouterr()
    assert main(["--model", str(text), "--format", "pylate", "--output", str(tmp_path / "text")]) == 2
    assert "PyLate inserts one marker token" in _one_error_line(capsys) and not (tmp_path / "text").exists()


@needs_colbert_ai
def test_cli_rerank_with_colbert_ai_checkpoint(colbert_ai_dirs, tmp_path, data_dir, cache_dir):
    """python -m tctcb.search --rerank-with COLBERT_AI_DIR: the reranked head is in colbert-ai's own order, with its
    scores."""
    from tctcb.data import get_collection, load_topics
    from tctcb.eval import read_run
    from tctcb.search._cli import main

    out = tmp_path / "rerank.trec"
    assert main(["--topics", "adi", "--sparse-index", "adi", "--hits", "8", "--quiet", "--output", str(out),
                 "--rerank-with", str(colbert_ai_dirs[False]), "--rerank-depth", "4"]) == 0
    run, topics, docs = read_run(out), load_topics("adi"), get_collection("adi").docstore()
    for qid in list(run)[:3]:
        ranked = sorted(run[qid].items(), key=lambda x: -x[1])
        head = [d for d, _ in ranked[:4]]
        theirs = colbert_ai_scores(colbert_ai_dirs[False], topics[qid], [docs[d] for d in head])
        assert [s for _, s in ranked[:4]] == pytest.approx(theirs.tolist(), abs=1e-4)
        assert theirs.tolist() == sorted(theirs.tolist(), reverse=True)


def _distill(tmp_path, backbone, *extra):
    return ["distill", "--collection", "adi", "--split", "adi", "--dev-split", "none", "--backbone", str(backbone),
            "--output", str(tmp_path / "out"), "--batch-size", "4", "--max-steps", "2", "--quiet", *extra]


@needs_colbert_ai
def test_cli_distill_from_colbert_ai_teacher(colbert_ai_dirs, tiny, tmp_path, data_dir, cache_dir):
    """--teacher and --init teacher take a colbert-ai checkpoint: the student starts from its encoder."""
    from safetensors.torch import load_file

    from tctcb.models import TctColBert
    from tctcb.train._cli import main

    teacher = colbert_ai_dirs[False]
    start = TctColBert.from_pretrained(teacher)
    theirs = load_file(str(teacher / "model.safetensors"))
    assert torch.equal(start.bert.embeddings.word_embeddings.weight, theirs["bert.embeddings.word_embeddings.weight"])
    assert main(_distill(tmp_path, tiny, "--teacher", str(teacher), "--init", "teacher", "--kd", "in-batch")) == 0
    final = TctColBert.from_pretrained(tmp_path / "out" / "checkpoints" / "step-0000002" / "model")
    assert final.bert.config.hidden_size == start.bert.config.hidden_size
    assert not torch.equal(final.bert.embeddings.word_embeddings.weight, start.bert.embeddings.word_embeddings.weight)


def test_cli_init_from_pylate_teacher_refused(tiny, tmp_path, data_dir, cache_dir, capsys):
    """PyLate's '[Q] ' prefix is an added token: a student started from that tokenizer would read its literal '[Q]'
    as that token and leave TCT-ColBERT's format, so --init teacher says so."""
    from tctcb.train._cli import main

    d = make_pylate_folder(tmp_path / "pylate", tiny)
    capsys.readouterr()
    assert main(_distill(tmp_path, tiny, "--teacher", str(d), "--init", "teacher", "--kd", "none")) == 2
    err = _one_error_line(capsys)
    assert "--init teacher" in err and "added token" in err and "--init backbone" in err
    # a mean student writes no markers: the same teacher is a fine start for it
    assert main(_distill(tmp_path, tiny, "--teacher", str(d), "--init", "teacher", "--kd", "none",
                         "--student-format", "mean")) == 0
    assert '"format": "mean"' in (tmp_path / "out" / "model" / "tctcb_student.json").read_text()


def test_cli_teacher_with_marker_tokens_exports_to_pylate(tiny, tmp_path, data_dir, cache_dir):
    """python -m tctcb.train teacher --markers token, then python -m tctcb.export --format pylate: PyLate's way of
    scoring gives the trained teacher's scores."""
    from tctcb.export._cli import main as export
    from tctcb.train._cli import main as train

    assert train(["teacher", "--collection", "adi", "--split", "adi", "--dev-split", "none", "--backbone", str(tiny),
                  "--output", str(tmp_path / "out"), "--batch-size", "4", "--max-steps", "2", "--dim", "16",
                  "--markers", "token", "--quiet"]) == 0
    trained = tmp_path / "out" / "checkpoints" / "step-0000002" / "model"
    teacher = ColBERT.from_pretrained(trained)
    assert teacher.config == ColBERTConfig.colbert_repo(dim=16, query_maxlen=32, doc_maxlen=teacher.config.doc_maxlen)
    assert export(["--model", str(trained), "--format", "pylate", "--output", str(tmp_path / "pylate")]) == 0
    want = tctcb_scores(teacher, QUERY, PASSAGES)
    assert torch.allclose(pylate_scores(tmp_path / "pylate", QUERY, PASSAGES), want, atol=1e-5)
