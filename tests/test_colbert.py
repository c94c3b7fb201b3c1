"""ColBERT teacher: MaxSim against hand-computed numbers, tokenisation (query augmentation, punctuation
mask, truncation), save/load round trip and a clear error for a directory that isn't a checkpoint."""
import json

import pytest
import torch

from tctcb.models._colbert import CONFIG_NAME, ColBERT, ColBERTConfig, ColBERTError, maxsim, maxsim_all
from tiny_models import make_tiny_bert

# query tokens q1=(1,0) q2=(0,1) q3=(.6,.8); passage A: a1=(.8,.6) a2=(0,1) a3=(1,0) [a3 masked out];
# passage B: b1=(-1,0) plus one padding token (1,0) masked out.
Q = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]])
A = torch.tensor([[[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]]])
B = torch.tensor([[[-1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
AM = torch.tensor([[1, 1, 0]])
BM = torch.tensor([[1, 0, 0]])


def test_maxsim_hand_computed():
    qm = torch.ones(1, 3)
    # A: q1 -> max(.8, 0) = .8 ; q2 -> max(.6, 1) = 1 ; q3 -> max(.48+.48, .8) = .96   => 2.76
    assert maxsim(Q, qm, A, AM).item() == pytest.approx(2.76, abs=1e-6)
    # B: only b1 counts: q1 -> -1 ; q2 -> 0 ; q3 -> -.6   => -1.6 (masked (1,0) would have given 1 + 0 + .6)
    assert maxsim(Q, qm, B, BM).item() == pytest.approx(-1.6, abs=1e-6)
    # query mask drops q3: A -> 1.8
    assert maxsim(Q, torch.tensor([[1, 1, 0]]), A, AM).item() == pytest.approx(1.8, abs=1e-6)


def test_maxsim_all_matches_pairwise():
    qv = torch.cat([Q, Q.flip(-1)])
    dv, dm = torch.cat([A, B]), torch.cat([AM, BM])
    qm = torch.ones(2, 3)
    full = maxsim_all(qv, qm, dv, dm, chunk=1)
    assert full.shape == (2, 2)
    assert full[0].tolist() == pytest.approx([2.76, -1.6], abs=1e-6)
    for i in range(2):
        for j in range(2):
            assert full[i, j].item() == pytest.approx(maxsim(qv[i:i + 1], qm[i:i + 1], dv[j:j + 1], dm[j:j + 1]).item())


def test_maxsim_rejects_misaligned():
    with pytest.raises(ColBERTError, match="pairs query i"):
        maxsim(Q, torch.ones(1, 3), torch.cat([A, B]), torch.cat([AM, BM]))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
    return ColBERT.from_backbone(d, ColBERTConfig(dim=16, doc_maxlen=12)).eval()


def test_query_augmentation_and_shapes(tiny):
    qv, qm = tiny.encode_query(["what is a cat", "dogs"])
    assert qv.shape == (2, 32, 16) and qm.shape == (2, 32) and bool(qm.all())
    assert torch.allclose(qv.norm(dim=-1), torch.ones(2, 32), atol=1e-5)
    ids = tiny.tokenize_queries(["dogs"])["input_ids"][0].tolist()
    tok = tiny.tokenizer
    assert tok.convert_ids_to_tokens(ids[:5]) == ["[CLS]", "[", "q", "]", "dogs"]
    assert ids[5:] == [tok.mask_token_id] * 27


def test_passage_truncation_and_punctuation_mask(tiny):
    dv, dm = tiny.encode_passage(["cats , dogs ; mice .", "one two three four five six seven eight nine ten eleven twelve"])
    assert dv.shape[:2] == (2, 12) and dm.shape == (2, 12)
    toks = tiny.tokenizer.convert_ids_to_tokens(tiny.tokenize_passages(["cats , dogs ; mice ."])["input_ids"][0])
    assert toks[:4] == ["[CLS]", "[", "d", "]"]
    kept = [t for t, m in zip(toks, dm[0].tolist()) if m]
    assert kept == ["[CLS]", "d", "cats", "dogs", "mice"]  # brackets, comma, semicolon, full stop and padding left out


def test_save_load_roundtrip(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "ckpt")
    back = ColBERT.from_pretrained(tmp_path / "ckpt").eval()
    assert back.config == tiny.config
    with torch.no_grad():
        a = tiny(["a query"], ["first passage", "second one , here"])
        b = back(["a query"], ["first passage", "second one , here"])
    assert torch.allclose(a, b, atol=1e-6)


def test_not_a_checkpoint(tmp_path):
    d = make_tiny_bert(tmp_path / "plain")
    with pytest.raises(ColBERTError, match="not a ColBERT checkpoint.*tctcb_colbert.json"):
        ColBERT.from_pretrained(d)
    with pytest.raises(ColBERTError, match="does not exist"):
        ColBERT.from_pretrained(tmp_path / "nowhere")


def test_bad_config_file(tiny, tmp_path):
    d = tiny.save_pretrained(tmp_path / "ckpt")
    (d / CONFIG_NAME).write_text(json.dumps({"dim": 16, "format": "something-else"}))
    with pytest.raises(ColBERTError, match="format 'something-else'"):
        ColBERT.from_pretrained(d)


def test_docstring_examples():
    import doctest

    import tctcb.models._colbert as colbert
    import tctcb.train.losses.distill_kl as kl
    import tctcb.train.losses.in_batch_ce as ce

    for mod in (colbert, kl, ce):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
