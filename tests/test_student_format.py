"""Student format ``mean`` and the format record (tctcb_student.json): written by save_pretrained, read by the
student, the encoders and choose_format; a record that contradicts its folder, or a format asked of a folder
that records another, is one error line."""
import json
import shutil

import numpy as np
import pytest
import torch

from tctcb.encode import (
    SentenceTransformerEncoder,
    TctColBertDocumentEncoder,
    TctColBertQueryEncoder,
    choose_format,
    load_query_encoder,
    query_encoder_pooling,
)
from tctcb.models import STUDENT_CONFIG, StudentFormatError, TctColBert, default_backbone_dir, student_format
from tiny_models import make_tiny_bert

QUERIES = ["statins and breast cancer", "", "vitamin d " * 80]
DOCS = ["Fish oil and heart disease.", "a b c " * 200, ""]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny"), hidden=32, layers=1, seed=3)


@pytest.fixture(scope="module")
def mean_dir(tmp_path_factory, tiny_dir):
    return TctColBert.from_pretrained(tiny_dir, "mean").save_pretrained(tmp_path_factory.mktemp("m") / "student")


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_mean_student_is_recorded_and_read_back(mean_dir, tiny_dir):
    rec = json.loads((mean_dir / STUDENT_CONFIG).read_text())
    assert rec == {"format": "mean", "query_max_length": 512, "doc_max_length": 512}  # no sentence_bert_config: 512
    # Pyserini's AutoQueryEncoder truncates queries at the tokenizer's model_max_length: recorded to agree
    assert json.loads((mean_dir / "tokenizer_config.json").read_text())["model_max_length"] == 512
    student = TctColBert.from_pretrained(mean_dir)
    assert student.fmt.format == "mean" and student.normalized and "recorded in" in student.fmt.source
    # a tct student records tct, and a folder without a record loads as tct (castorini's checkpoints, backbones)
    assert TctColBert.from_pretrained(tiny_dir).fmt.format == "tct"
    assert student_format(tiny_dir).format == "tct" and "no tctcb_student.json" in student_format(tiny_dir).source


def test_all_minilm_as_mean_student_records_its_lengths(tmp_path):
    d = default_backbone_dir()
    student = TctColBert.from_pretrained(d, "mean")
    assert (student.fmt.query_max_length, student.fmt.doc_max_length) == (256, 256)  # max_seq_length
    assert student_format(d).format == "mean"  # no record, but modules.json: the rule from before records
    out = student.save_pretrained(tmp_path / "s")
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 256
    from tctcb.encode import st_max_length

    assert st_max_length(out) == 256  # (no sentence_bert_config.json in a saved student: the record says it)
    assert student.tokenizer.model_max_length == 512  # the live tokenizer is left as it was


def test_mean_embeddings_are_unit_and_scores_are_cosines(mean_dir):
    student = TctColBert.from_pretrained(mean_dir).eval()
    with torch.no_grad():
        q, p = student.encode_query(QUERIES[:2]), student.encode_passage(DOCS[:2])
        s = student.score(q, p)
    assert torch.allclose(q.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(p.norm(dim=1), torch.ones(2), atol=1e-5)
    assert s.abs().max() <= 1 + 1e-5
    enc = student.tokenize_queries(["x y"])
    ids = enc["input_ids"][0].tolist()
    assert ids[0] == student.tokenizer.cls_token_id and ids[-1] == student.tokenizer.sep_token_id and len(ids) == 4
    assert student.tokenize_queries(QUERIES)["input_ids"].shape[1] <= 512


def test_student_and_encoders_agree(mean_dir):
    """Training path (TctColBert) and inference path (the encoder chosen from the record) give one vector."""
    student = TctColBert.from_pretrained(mean_dir).eval()
    q = load_query_encoder(mean_dir)
    assert isinstance(q, SentenceTransformerEncoder) and q.query_max_length == 512
    with torch.no_grad():
        ref_q = student.encode_query(QUERIES).numpy()
        ref_d = student.encode_passage(DOCS, titles=["t1", "", "t3"]).numpy()
    assert np.abs(q.encode_batch(QUERIES) - ref_q).max() < 1e-5
    assert np.abs(q.encode(DOCS, titles=["t1", "", "t3"]) - ref_d).max() < 1e-5


def test_choose_format_says_how(mean_dir, tiny_dir, tmp_path):
    c = choose_format(mean_dir)
    assert c.pooling == "mean" and c.line() == f"format: mean (recorded in {mean_dir / STUDENT_CONFIG})"
    assert query_encoder_pooling(mean_dir, None, None) == "st"  # the name callers from before 'mean' compare with
    assert choose_format(default_backbone_dir()).pooling == "mean"
    assert "modules.json" in choose_format(default_backbone_dir()).source
    assert choose_format(tiny_dir).pooling == "tct"
    assert choose_format(tiny_dir, None, "st").pooling == "mean"  # the alias, for an unrecorded folder
    index = tmp_path / "index"
    index.mkdir()
    (index / "meta.json").write_text(json.dumps({"pooling": "st"}))
    assert choose_format(tiny_dir, index).pooling == "mean" and "meta.json" in choose_format(tiny_dir, index).source
    with pytest.raises(StudentFormatError, match="drop --pooling"):
        choose_format(mean_dir, None, "tct")
    (index / "meta.json").write_text(json.dumps({"pooling": "tct"}))
    with pytest.raises(StudentFormatError, match="encoded the documents"):
        choose_format(mean_dir, index)


def test_tct_encoders_refuse_a_mean_student(mean_dir):
    for cls in (TctColBertQueryEncoder, TctColBertDocumentEncoder):
        with pytest.raises(StudentFormatError) as e:
            cls(mean_dir)
        msg = str(e.value)
        assert "'mean' student" in msg and "SentenceTransformerEncoder" in msg and "AutoQueryEncoder" in msg
        assert "pooling='mean', l2_norm=True" in msg and "\n" not in msg


def test_mean_encoder_refuses_a_tct_student(tiny_dir, tmp_path):
    tct = TctColBert.from_pretrained(tiny_dir).save_pretrained(tmp_path / "tct")
    assert json.loads((tct / STUDENT_CONFIG).read_text()) == {"format": "tct", "query_max_length": 36,
                                                              "doc_max_length": 512}
    with pytest.raises(StudentFormatError, match="TctColBertQueryEncoder"):
        SentenceTransformerEncoder(tct)
    with pytest.raises(StudentFormatError, match="not 'mean'"):
        TctColBert.from_pretrained(tct, "mean")


@pytest.mark.parametrize("change, expect", [
    (lambda d: (d / STUDENT_CONFIG).write_text('{"format": "cls", "query_max_length": 8, "doc_max_length": 8}'),
     "not a student format record"),
    (lambda d: (d / STUDENT_CONFIG).write_text("{"), "not a student format record"),
    (lambda d: (d / STUDENT_CONFIG).write_text('{"format": "mean", "query_max_length": 600, "doc_max_length": 8}'),
     "must be within 1..512"),
    (lambda d: (d / STUDENT_CONFIG).write_text('{"format": "tct", "query_max_length": 64, "doc_max_length": 512}'),
     "exactly 36 tokens"),
    (lambda d: ((d / STUDENT_CONFIG).write_text('{"format": "tct", "query_max_length": 36, "doc_max_length": 512}'),
                (d / "modules.json").write_text("[]")), "records format 'tct' but"),
])
def test_a_record_that_contradicts_its_folder(mean_dir, tmp_path, change, expect):
    d = _copy(mean_dir, tmp_path / "s")
    change(d)
    with pytest.raises(StudentFormatError, match=expect) as e:
        TctColBert.from_pretrained(d)
    assert str(d / STUDENT_CONFIG) in str(e.value) and "\n" not in str(e.value)


def test_a_mean_record_on_a_cls_pooling_sentence_transformers_folder(tmp_path):
    d = _copy(default_backbone_dir(), tmp_path / "st")
    (d / STUDENT_CONFIG).write_text('{"format": "mean", "query_max_length": 256, "doc_max_length": 256}')
    assert student_format(d).format == "mean"
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(StudentFormatError, match="do not pool by the mean"):
        student_format(d)


def test_encode_cli_prints_the_format_and_refuses_a_contradiction(mean_dir, tmp_path, capsys):
    from tctcb.encode._cli import main

    corpus = tmp_path / "c.tsv"
    corpus.write_text("d1\tfish oil\nd2\tstatins\n")
    assert main(["--corpus", str(corpus), "--encoder", str(mean_dir), "--output", str(tmp_path / "e")]) == 0
    err = capsys.readouterr().err
    assert f"format: mean (recorded in {mean_dir / STUDENT_CONFIG})" in err
    meta = json.loads(next((tmp_path / "e").glob("*.json")).read_text())
    assert meta["pooling"] == "mean" and meta["max_length"] == 512
    assert main(["--corpus", str(corpus), "--encoder", str(mean_dir), "--output", str(tmp_path / "f"),
                 "--pooling", "tct"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --pooling tct:") and err.count("\n") == 1


def test_interpolation_refuses_students_in_two_formats(tiny_dir, tmp_path):
    from tctcb.models import interpolate_checkpoints
    from tctcb.models._interpolate import InterpolationError

    a = TctColBert.from_pretrained(tiny_dir).save_pretrained(tmp_path / "a")
    b = TctColBert.from_pretrained(tiny_dir, "mean").save_pretrained(tmp_path / "b")
    with pytest.raises(InterpolationError, match="different formats"):
        interpolate_checkpoints(a, b, 0.5, tmp_path / "c")
