"""TctColBert student and backbone loading (all-MiniLM-L6-v2 offline backbone)."""
import json

import pytest
import torch

from tctcb.models import TctColBert, default_backbone_dir, load_backbone
from tctcb.models._backbone import BackboneError
from tctcb.models._student import QUERY_LENGTH, mean_pool


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return TctColBert.from_pretrained(default_backbone_dir())


def test_default_backbone_is_minilm():
    d = default_backbone_dir()
    assert (d / "config.json").is_file()
    assert json.loads((d / "config.json").read_text())["hidden_size"] == 384


def test_not_a_bert_dir_names_dir_and_what_was_found(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(BackboneError) as e:
        load_backbone(tmp_path)
    assert str(tmp_path) in str(e.value) and "gpt2" in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackboneError, match="no config.json"):
        load_backbone(empty)
    with pytest.raises(BackboneError, match="does not exist"):
        load_backbone(tmp_path / "missing")


def test_query_and_passage_tokenization_match_pyserini_format(student):
    enc = student.tokenize_queries(["what is a statin", ""])
    assert enc["input_ids"].shape == (2, QUERY_LENGTH)
    toks = student.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    assert toks[:4] == ["[CLS]", "[", "q", "]"] and toks[4:8] == ["what", "is", "a", "stat"] and toks[-1] == "[MASK]"
    enc = student.tokenize_passages(["short", "a much longer passage " * 400], titles=["T", "U"])
    assert enc["input_ids"].shape[1] == 512
    toks = student.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    assert toks[:7] == ["[CLS]", "[", "d", "]", "t", "short", "[PAD]"]


def test_mean_pool_skips_markers_and_masks():
    h = torch.arange(2 * 6 * 1, dtype=torch.float32).reshape(2, 6, 1)
    m = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]])
    assert mean_pool(h, m)[:, 0].tolist() == [4.5, 10.0]
    assert mean_pool(h, torch.tensor([[1, 1, 1, 1, 0, 0]] * 2)).abs().sum() == 0  # empty passage -> zeros


def test_encode_with_grad_and_dot_product_score(student):
    student.train()
    q = student.encode_query(["statins and breast cancer", "vitamin d"])
    p = student.encode_passage(["Statins may reduce recurrence.", "Sunlight makes vitamin D.", "Fish oil."])
    assert q.shape == (2, 384) and p.shape == (3, 384) and q.requires_grad
    s = student.score(q, p)
    assert s.shape == (2, 3)
    torch.testing.assert_close(s[1, 2], (q[1] * p[2]).sum())
    s.sum().backward()
    assert student.bert.embeddings.word_embeddings.weight.grad is not None
    student.zero_grad(set_to_none=True)
    student.eval()


def test_save_and_reload_same_outputs(student, tmp_path):
    out = student.save_pretrained(tmp_path / "ckpt")
    assert (out / "config.json").is_file() and (out / "vocab.txt").is_file()
    again = TctColBert.from_pretrained(out)
    with torch.no_grad():
        a = student.encode_passage(["Statins may reduce recurrence."])
        b = again.encode_passage(["Statins may reduce recurrence."])
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    student.save_pretrained(tmp_path / "ckpt")  # overwriting an existing checkpoint works
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
